"""Attachment bytes in the history: stored once per content hash, linked to their messages.

Tables (migration ``attachments`` in :mod:`llmchat.store.migrations`): ``blobs`` holds each
distinct content once, keyed by its SHA-256 (hex); ``message_attachments`` lists a message's
attachments in order (name, media type, blob). The same screenshot sent in ten messages is
stored once. A blob no message uses any more is deleted with :func:`drop_unused`.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence

from llmchat.chat.models import Attachment

TEXT_TYPE = "text/plain"


def has_tables(db: sqlite3.Connection) -> bool:
    """Whether the database has the attachment tables (a read-only file written by an older
    llmchat may not)."""
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_attachments'"
    ).fetchone()
    return row is not None


def content_hash(data: bytes) -> str:
    """The key of `data` in ``blobs``: its SHA-256 as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def save(db: sqlite3.Connection, message_id: str, attachments: Sequence[Attachment]) -> None:
    """Link `attachments` to message `message_id`, storing each content not stored yet."""
    for position, attachment in enumerate(attachments):
        key = content_hash(attachment.data)
        db.execute(
            "INSERT OR IGNORE INTO blobs (hash, size, data) VALUES (?, ?, ?)",
            (key, len(attachment.data), attachment.data),
        )
        db.execute(
            "INSERT INTO message_attachments (message_id, position, name, media_type, blob_hash)"
            " VALUES (?, ?, ?, ?, ?)",
            (message_id, position, attachment.name, attachment.media_type, key),
        )


def load(db: sqlite3.Connection, message_ids: Iterable[str]) -> dict[str, list[Attachment]]:
    """The attachments of each of `message_ids` that has any, in order. A text attachment
    gets its text back from its bytes; a PDF has no text until it is prepared again for a
    provider (:func:`llmchat.chat.attachments.prepare`)."""
    ids = list(message_ids)
    if not ids or not has_tables(db):
        return {}
    found: dict[str, list[Attachment]] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on host parameters
        batch = ids[start:start + 500]
        marks = ", ".join("?" * len(batch))
        rows = db.execute(
            "SELECT a.message_id, a.name, a.media_type, b.data FROM message_attachments a"
            f" JOIN blobs b ON b.hash = a.blob_hash WHERE a.message_id IN ({marks})"
            " ORDER BY a.message_id, a.position",
            batch,
        ).fetchall()
        for message_id, name, media_type, data in rows:
            data = bytes(data)
            text = data.decode("utf-8-sig", "replace") if media_type == TEXT_TYPE else None
            found.setdefault(message_id, []).append(Attachment(name, media_type, data, text))
    return found


def drop_unused(db: sqlite3.Connection) -> int:
    """Delete the blobs no message links to any more (after messages were deleted); return
    how many."""
    if not has_tables(db):
        return 0
    return db.execute(
        "DELETE FROM blobs WHERE NOT EXISTS"
        " (SELECT 1 FROM message_attachments a WHERE a.blob_hash = blobs.hash)"
    ).rowcount
