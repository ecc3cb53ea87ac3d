"""UI choices remembered between sessions (the theme), in a small JSON file.

The file is ``paths.ui_state_file()`` by default; a damaged or unreadable file is ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_ui_state(path: Path) -> dict[str, Any]:
    """The remembered choices; an empty dict when the file is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(path: Path, **values: Any) -> bool:
    """Merge `values` into the file (created with its directory). False if it cannot be written."""
    data = read_ui_state(path)
    data.update(values)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        return False
    return True
