"""SIGHUP: the terminal window was closed. What was a terminal is pointed at /dev/null, so
the writes made while the partial reply is saved and the program winds down cannot fail or
block on a terminal that is gone (``ask`` and the session both use this)."""

from __future__ import annotations

import os


def terminal_fds() -> list[int]:
    """Which of stdin, stdout and stderr (0, 1, 2) are a terminal now (call it at start: a
    hung-up terminal no longer answers as one)."""
    found = []
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                found.append(fd)
        except OSError:
            pass
    return found


def detach(fds: list[int]) -> None:
    """Point the file descriptors `fds` (a closed terminal's) at /dev/null; errors are ignored
    (there is nobody left to tell)."""
    if not fds:
        return
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for fd in fds:
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)
