"""Opening the database file: owner-only permissions and the connection settings."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def create_owner_only(path: Path) -> None:
    """Create `path`'s folder (0700) and the file (0600) if missing.

    A file readable by others is tightened to its owner; one made read-only stays read-only.
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        with suppress(OSError):  # not ours to change: leave it
            os.chmod(path, mode & 0o700)


def connect(
    path: Path, busy_timeout: float, check: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys.

    SQLite creates the ``-wal`` and ``-shm`` files with the database file's permissions.
    `busy_timeout` (seconds) is how long a write waits for another process's transaction.
    `check` runs before anything could be written (it may raise to refuse the file).
    """
    create_owner_only(path)
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if check is not None:
            check(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes; fsync at checkpoints
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can only read `path` (SQLite URI ``mode=ro``), for a data directory
    llmchat may not write: nothing is created, migrated or recovered.

    A WAL database needs its ``-shm`` file; when the folder is read-only and no other process
    has it open, that file cannot be made, so the database is then opened ``immutable``
    (nothing can be writing it: nobody may write the folder).

    Raises:
        sqlite3.Error: the file is missing or cannot be read.
    """
    uri = path.absolute().as_uri()
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        conn = sqlite3.connect(uri + query, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            conn.close()
            if query.endswith("immutable=1"):
                raise
            continue
        return conn
    raise AssertionError("unreachable")
