"""Errors of the history store.

Hierarchy::

    LlmchatError                     (llmchat.errors)
    └── StoreError                   the history database cannot be opened, read or written
        ├── ConversationNotFound     no conversation matches the id, prefix or "latest"
        └── SchemaTooNew             a newer llmchat wrote the database (it is left untouched)

A :class:`StoreError` means only that history is not being saved: callers report it once and
keep the conversation in memory. Raw :class:`sqlite3.Error` never leaves the store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmchat.errors import LlmchatError


class StoreError(LlmchatError):
    """The history database failed; the message says which file, why, and what to do.

    Attributes:
        path: the database file.
        code: SQLite's error name (``"SQLITE_READONLY"``, ``"SQLITE_FULL"`` ...) or None.
    """

    def __init__(self, message: str, *, path: Path | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.code = code


class ConversationNotFound(StoreError):
    """No stored conversation matches the reference (or a prefix matches several)."""


class SchemaTooNew(StoreError):
    """The database was written by a newer llmchat: this one refuses it and writes nothing.

    Raised by :func:`llmchat.store.migrations.migrate` with the cause only; the store adds
    the file name (:func:`schema_too_new`).
    """


def schema_too_new(problem: str, path: Path) -> SchemaTooNew:
    """The one-line error for a database of a newer llmchat at `path` (`problem`: the cause)."""
    return SchemaTooNew(
        f"history database {path} was written by a newer llmchat ({problem}); upgrade llmchat, "
        "or point XDG_DATA_HOME elsewhere. Nothing was written to it",
        path=path, code="SCHEMA_TOO_NEW",
    )


_ADVICE: tuple[tuple[str, str, str], ...] = (
    # (error-name prefix, what happened, what to do)
    ("SQLITE_READONLY", "is read-only", "check the permissions of the file and its folder"),
    ("SQLITE_FULL", "cannot grow: the disk is full", "free some disk space"),
    ("SQLITE_CANTOPEN", "cannot be opened", "check that its folder exists and is writable"),
    ("SQLITE_BUSY", "stayed locked by another process", "close other llmchat windows or retry"),
    ("SQLITE_LOCKED", "stayed locked by another process", "close other llmchat windows or retry"),
    ("SQLITE_CORRUPT", "is damaged", "move it aside; llmchat then starts a new history"),
    ("SQLITE_NOTADB", "is not a database", "move it aside; llmchat then starts a new history"),
    ("SQLITE_IOERR", "could not be read or written", "check the disk"),
    ("SQLITE_PERM", "may not be accessed", "check the permissions of the file and its folder"),
)


def store_error(exc: sqlite3.Error | OSError, path: Path) -> StoreError:
    """Turn a low-level failure into one :class:`StoreError` with a clear message."""
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        return StoreError(
            f"history database {path} cannot be created ({detail}{where}); "
            "check that its folder can be created and written",
            path=path,
            code=None,
        )
    code: str | None = getattr(exc, "sqlite_errorname", None)
    text = str(exc)
    if code is None and "readonly" in text:
        code = "SQLITE_READONLY"
    for prefix, what, todo in _ADVICE:
        if code is not None and code.startswith(prefix):
            return StoreError(f"history database {path} {what} ({text}); {todo}", path=path, code=code)
    return StoreError(f"history database {path}: {text}", path=path, code=code)
