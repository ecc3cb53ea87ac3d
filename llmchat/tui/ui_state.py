"""UI choices remembered between sessions, in small JSON files of the state directory.

The theme is in ``paths.ui_state_file()`` (by default); a damaged or unreadable file is
ignored. The open tabs are in ``tabs.json`` beside it (:func:`read_tabs`, :func:`write_tabs`);
a damaged one is reported and ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple


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
    return write_json(path, data)


def write_json(path: Path, data: object) -> bool:
    """Write `data` as JSON to `path` (created with its directory, owner-only, replaced at
    once so that a crash leaves the old file). False if it cannot be written."""
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


TABS_FILE = "tabs.json"
"""The open tabs' file name, in the directory of the UI state file."""


class SavedTab(NamedTuple):
    """One tab as saved: its conversation, provider and model."""

    conversation: str | None
    """The conversation's id in the history (None: a tab with nothing sent yet)."""
    provider: str | None = None
    """The provider or profile name the tab used (None: the settings')."""
    model: str | None = None
    """The model the tab used (None: the provider's default)."""


class TabState(NamedTuple):
    """The tabs open when the last session ended."""

    tabs: list[SavedTab]
    """The tabs, in order."""
    active: int
    """The position of the tab that was visible."""
    problem: str | None = None
    """Why the file could not be used (then nothing is restored)."""


def tabs_file(ui_state: Path) -> Path:
    """Where the open tabs are kept, beside the UI state file `ui_state`."""
    return ui_state.with_name(TABS_FILE)


def _text_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def read_tabs(path: Path) -> TabState:
    """The tabs saved in `path`: none when the file is missing; none, with the problem, when
    it is unreadable or not what :func:`write_tabs` writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TabState([], 0)
    except (OSError, ValueError) as exc:
        return TabState([], 0, f"{path} could not be read ({type(exc).__name__}); the tabs start afresh")
    tabs = data.get("tabs") if isinstance(data, dict) else None
    active = data.get("active", 0) if isinstance(data, dict) else 0
    if not isinstance(tabs, list) or not isinstance(active, int) or isinstance(active, bool) or not all(
        isinstance(tab, dict) and all(_text_or_none(tab.get(key)) for key in SavedTab._fields) for tab in tabs
    ):
        return TabState([], 0, f"{path} is not a list of tabs; the tabs start afresh")
    saved = [SavedTab(*(tab.get(key) for key in SavedTab._fields)) for tab in tabs]
    return TabState(saved, min(max(active, 0), max(len(saved) - 1, 0)))


def write_tabs(path: Path, tabs: list[SavedTab], active: int) -> bool:
    """Save the open tabs and which one is visible. False if the file cannot be written."""
    return write_json(path, {"version": 1, "active": active, "tabs": [tab._asdict() for tab in tabs]})
