"""UI choices remembered between sessions (the theme), in a small JSON file.

The file is ``paths.ui_state_file()`` by default; a damaged or unreadable file is ignored.
"""

from __future__ import annotations

import json
import os
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
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
    except OSError:
        return False
    return True
