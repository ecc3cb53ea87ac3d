"""The history schema as an ordered list of named migrations (after simonw/llm's migrations.py).

Each migration is a function of the connection, applied once, in order, and recorded by name
in ``_migrations``. Append new migrations at the end; never edit or rename an applied one.

The full-text index is optional: when this SQLite has no FTS5 the ``search_index`` migration
is not recorded, search falls back to LIKE, and the index is built (from every stored row) the
first time the database is opened by an SQLite that has FTS5.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from llmchat.store.errors import SchemaTooNew

Migration = Callable[[sqlite3.Connection], bool | None]
"""Changes the schema; returning False means "not applied now, try again next open"."""

MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration, named after the function."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def schema_version() -> int:
    """This llmchat's schema version: the number of migrations it knows. It is recorded in
    the file's header (``PRAGMA user_version``) by :func:`migrate`."""
    return len(MIGRATIONS)


def newer_schema(db: sqlite3.Connection) -> str | None:
    """Why the database was written by a newer llmchat (a higher recorded schema version, or
    applied migrations this llmchat does not know), or None when this llmchat can use it.

    Only reads; safe on a read-only connection, before anything is written.
    """
    (version,) = db.execute("PRAGMA user_version").fetchone()
    has_table = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    known = {name for name, _ in MIGRATIONS}
    unknown = sorted(
        row[0] for row in db.execute("SELECT name FROM _migrations") if row[0] not in known
    ) if has_table else []
    if version <= schema_version() and not unknown:
        return None
    detail = f"schema version {version}" if version > schema_version() else f"unknown migration {unknown[0]!r}"
    return f"{detail}; this llmchat knows up to version {schema_version()}"


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply every pending migration inside the caller's write transaction.

    Args:
        db: a connection inside ``BEGIN IMMEDIATE``, so two processes never migrate at once.

    Returns:
        The names applied now, in order (empty when the schema was current).

    Raises:
        SchemaTooNew: a newer llmchat wrote the database (see :func:`newer_schema`);
            nothing was changed.
    """
    problem = newer_schema(db)
    if problem is not None:
        raise SchemaTooNew(problem)
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        if fn(db) is False:
            continue
        db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        applied.append(name)
    if db.execute("PRAGMA user_version").fetchone()[0] != schema_version():
        db.execute(f"PRAGMA user_version = {schema_version()}")
    return applied


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    """The names recorded in ``_migrations``, in the order they were applied."""
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def fts5_available(db: sqlite3.Connection) -> bool:
    """Whether this SQLite build has the FTS5 module."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp._fts5_probe")
    return True


def has_search_index(db: sqlite3.Connection) -> bool:
    """Whether the FTS5 tables exist and can be used."""
    row = db.execute("SELECT 1 FROM _migrations WHERE name = 'search_index'").fetchone()
    return row is not None


@migration
def conversations(db: sqlite3.Connection) -> None:
    """One row per conversation. `seq` is a stable integer key for the full-text index."""
    db.execute("""
        CREATE TABLE conversations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            provider TEXT,
            model TEXT,
            system_prompt TEXT
        )""")
    db.execute("CREATE INDEX conversations_by_update ON conversations (updated_at, id)")


@migration
def messages(db: sqlite3.Connection) -> None:
    """One row per message; replies are written ahead (state 'streaming') and finalized."""
    db.execute("""
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            refusal TEXT NOT NULL DEFAULT '',
            tool_calls TEXT,
            tool_call_id TEXT,
            finish_reason TEXT,
            raw_finish_reason TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            cached_tokens INTEGER,
            reasoning_tokens INTEGER,
            ttft REAL,
            duration REAL,
            provider TEXT,
            model TEXT,
            error TEXT,
            state TEXT NOT NULL DEFAULT 'final' CHECK (state IN ('streaming', 'final')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (conversation_id, position)
        )""")
    db.execute(
        "CREATE INDEX messages_streaming ON messages (updated_at) WHERE state = 'streaming'"
    )


@migration
def search_index(db: sqlite3.Connection) -> bool:
    """FTS5 over message content and conversation titles, kept in sync by triggers."""
    if not fts5_available(db):
        return False
    for table, column in (("messages", "content"), ("conversations", "title")):
        fts = f"{table}_fts"
        for suffix in ("ai", "ad", "au"):
            db.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        db.execute(f"DROP TABLE IF EXISTS {fts}")
        db.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}',"
            " content_rowid='seq', tokenize='unicode61 remove_diacritics 2')"
        )
        db.execute(f"""
            CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN
                INSERT INTO {fts} (rowid, {column}) VALUES (new.seq, new.{column});
            END""")
        db.execute(f"""
            CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN
                INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.seq, old.{column});
            END""")
        db.execute(f"""
            CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table}
            WHEN old.{column} IS NOT new.{column} BEGIN
                INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.seq, old.{column});
                INSERT INTO {fts} (rowid, {column}) VALUES (new.seq, new.{column});
            END""")
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")
    return True


def disable_search_index(db: sqlite3.Connection) -> None:
    """Drop the index triggers when this SQLite lacks FTS5, so writes keep working.

    The virtual tables stay (they cannot be dropped without FTS5); the ``search_index``
    migration is forgotten so an SQLite with FTS5 rebuilds the index on a later open.
    """
    for table in ("messages", "conversations"):
        for suffix in ("ai", "ad", "au"):
            db.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
    db.execute("DELETE FROM _migrations WHERE name = 'search_index'")


@migration
def reply_chunks(db: sqlite3.Connection) -> None:
    """The text of a streaming reply (UTF-8 blobs), one row per save, written into its message
    row when it ends.

    Appending to the message row itself (``content = content || ?``) makes SQLite rewrite the
    whole row, and the full-text index re-read it, at every save: a long reply cost the square
    of its length. A chunk row costs the size of the new text; the message row is written once,
    when the reply is made final (or found interrupted). Replies left streaming by an older
    llmchat keep their text in the message row, and the fold appends the chunks after it.
    """
    db.execute("""
        CREATE TABLE reply_chunks (
            seq INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            content BLOB NOT NULL DEFAULT x'',
            reasoning BLOB NOT NULL DEFAULT x''
        )""")
    db.execute("CREATE INDEX reply_chunks_by_message ON reply_chunks (message_id, seq)")


@migration
def attachments(db: sqlite3.Connection) -> None:
    """Attachments of user messages (llmchat.store.blobs): their bytes once per content hash
    in ``blobs`` (SHA-256, hex), and one ``message_attachments`` row per attachment of a
    message, in order, naming its blob. Histories written before have no attachments."""
    db.execute("""
        CREATE TABLE blobs (
            hash TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL
        )""")
    db.execute("""
        CREATE TABLE message_attachments (
            message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            media_type TEXT NOT NULL,
            blob_hash TEXT NOT NULL REFERENCES blobs (hash),
            PRIMARY KEY (message_id, position)
        )""")
    db.execute("CREATE INDEX message_attachments_by_blob ON message_attachments (blob_hash)")


@migration
def message_tree(db: sqlite3.Connection) -> None:
    """Conversations are trees: each message names its parent (``parent_id``, NULL at a root)
    and each conversation its current leaf (``current_leaf``, NULL: its newest message).

    Histories written before are linear: each message's parent becomes the message before it
    (by position) in the same conversation, and the current leaf the last one. Nothing else
    changes, so nothing is lost.
    """
    db.execute("ALTER TABLE messages ADD COLUMN parent_id TEXT")
    db.execute("ALTER TABLE conversations ADD COLUMN current_leaf TEXT")
    db.execute("""
        UPDATE messages SET parent_id = (
            SELECT p.id FROM messages p
            WHERE p.conversation_id = messages.conversation_id AND p.position < messages.position
            ORDER BY p.position DESC LIMIT 1)""")
    db.execute("""
        UPDATE conversations SET current_leaf = (
            SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
            ORDER BY m.position DESC LIMIT 1)""")
    db.execute("CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, position)")


@migration
def cache_write_tokens(db: sqlite3.Connection) -> None:
    """Replies keep the input tokens written to the provider's prompt cache
    (``cache_write_tokens``: Anthropic's ``cache_creation_input_tokens``, billed above the
    input price) beside ``cached_tokens`` (read from it). Rows written before: NULL, not
    reported, as for a provider that does not say."""
    db.execute("ALTER TABLE messages ADD COLUMN cache_write_tokens INTEGER")
