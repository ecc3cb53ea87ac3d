"""Opening the database file: owner-only permissions and the connection settings."""

from __future__ import annotations

import os
import sqlite3
import stat
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


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys.

    SQLite creates the ``-wal`` and ``-shm`` files with the database file's permissions.
    `busy_timeout` (seconds) is how long a write waits for another process's transaction.
    """
    create_owner_only(path)
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes; fsync at checkpoints
    except BaseException:
        conn.close()
        raise
    return conn
