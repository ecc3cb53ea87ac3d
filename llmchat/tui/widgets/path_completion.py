"""Completing a file path typed in the prompt (after ``@`` or ``/attach ``), relative to the
working directory: the rest of the first matching name, ``/`` after a directory."""

from __future__ import annotations

import os

MAX_ENTRIES = 2000
"""Entries of one directory looked at (a huge directory is not listed whole on a key press)."""


def complete_path(partial: str, cwd: str | None = None) -> str:
    """The text to append to `partial` to complete its last name, or "".

    Names that start with what was typed come first (exact case, then any case), hidden names
    only when a dot was typed; a directory's completion ends in ``/``. The typed text is kept
    as typed: a suggestion only ever appends, so one that needs a different case is not made.
    """
    folder, _, stem = partial.rpartition("/")
    base = os.path.expanduser(folder + "/" if folder or partial.startswith("/") else "") or "."
    if cwd is not None and not os.path.isabs(base):
        base = os.path.join(cwd, base)
    try:
        with os.scandir(base) as entries:
            names = []
            for count, entry in enumerate(entries):
                if count >= MAX_ENTRIES:
                    break
                if entry.name.startswith(".") and not stem.startswith("."):
                    continue
                if entry.name.startswith(stem) and entry.name != stem:
                    names.append((entry.name, entry.is_dir()))
    except OSError:
        return ""
    if not names:
        return ""
    name, is_dir = min(names)
    return name[len(stem):] + ("/" if is_dir else "")
