"""Conversations as trees of messages: parents, siblings, the current leaf and its path.

Every message row names its parent (``messages.parent_id``, NULL at a root) and each
conversation its current leaf (``conversations.current_leaf``; NULL or a deleted message
means its newest message). The transcript shown and sent to the model is the *path*: the
messages from a root down to the current leaf. A regenerated answer or an edited question
is a sibling (same parent) of the message it replaces, so the old branch stays.

Functions here take a connection inside the caller's transaction (llmchat.store.sqlite).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from llmchat.store.errors import ConversationNotFound

LEAF = "<current leaf>"
"""A parent that means "after the conversation's current leaf" (never a real id)."""


def has_tree(db: sqlite3.Connection) -> bool:
    """Whether the database has the ``message_tree`` migration (a read-only older file may not)."""
    return db.execute("SELECT 1 FROM _migrations WHERE name = 'message_tree'").fetchone() is not None


def newest_message(db: sqlite3.Connection, conversation_id: str) -> str | None:
    """The id of the conversation's most recently added message, or None when it has none."""
    row = db.execute(
        "SELECT id FROM messages WHERE conversation_id = ? ORDER BY position DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return None if row is None else str(row[0])


def current_leaf(db: sqlite3.Connection, conversation_id: str) -> str | None:
    """The conversation's current leaf: the recorded one while it exists, else the newest
    message (None for an empty conversation)."""
    row = db.execute(
        "SELECT m.id FROM conversations c JOIN messages m ON m.id = c.current_leaf"
        " AND m.conversation_id = c.id WHERE c.id = ?",
        (conversation_id,),
    ).fetchone()
    return str(row[0]) if row is not None else newest_message(db, conversation_id)


def path_ids(db: sqlite3.Connection, leaf: str) -> list[str]:
    """The ids from the root down to `leaf` (inclusive), root first. A parent that no longer
    exists ends the walk; a cycle (a damaged file) cannot loop: the walk is bounded by the
    conversation's size."""
    (bound,) = db.execute(
        "SELECT count(*) FROM messages WHERE conversation_id ="
        " (SELECT conversation_id FROM messages WHERE id = ?)",
        (leaf,),
    ).fetchone()
    rows = db.execute(
        """
        WITH RECURSIVE up(id, depth) AS (
            SELECT ?, 0
            UNION ALL
            SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id
            WHERE m.parent_id IS NOT NULL AND up.depth <= ?
        )
        SELECT up.id FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC""",
        (leaf, bound),
    ).fetchall()
    return [str(row[0]) for row in rows]


def children(db: sqlite3.Connection, conversation_id: str, parent_id: str | None) -> list[str]:
    """The ids of `parent_id`'s children (the roots when None), oldest first."""
    rows = db.execute(
        "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY position",
        (conversation_id, parent_id),
    ).fetchall()
    return [str(row[0]) for row in rows]


def parent_of(db: sqlite3.Connection, message_id: str) -> tuple[str, str | None] | None:
    """(conversation id, parent id) of a message, or None when there is no such message."""
    row = db.execute(
        "SELECT conversation_id, parent_id FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def deepest_leaf(db: sqlite3.Connection, conversation_id: str, message_id: str) -> str:
    """The leaf reached from `message_id` by always taking the newest child."""
    seen = {message_id}
    while True:
        row = db.execute(
            "SELECT id FROM messages WHERE conversation_id = ? AND parent_id = ?"
            " ORDER BY position DESC LIMIT 1",
            (conversation_id, message_id),
        ).fetchone()
        if row is None or row[0] in seen:
            return message_id
        message_id = str(row[0])
        seen.add(message_id)


def edges(db: sqlite3.Connection, conversation_id: str) -> list[tuple[str, str | None]]:
    """Every (message id, parent id) of the conversation, oldest message first."""
    rows = db.execute(
        "SELECT id, parent_id FROM messages WHERE conversation_id = ? ORDER BY position",
        (conversation_id,),
    ).fetchall()
    return [(str(row[0]), row[1]) for row in rows]


def before_delete(db: sqlite3.Connection, message_ids: list[str]) -> None:
    """Keep the tree whole when `message_ids` are deleted: their children move up to the
    nearest surviving ancestor, and a current leaf among them becomes that ancestor.

    Each message hands its children (and the current leaf) to its parent as the rows are now;
    a parent deleted too hands them on at its own turn, or already moved the message itself
    up, so any order ends at the nearest survivor, and a damaged cycle cannot loop."""
    for message_id in message_ids:
        found = parent_of(db, message_id)
        if found is None:
            continue
        conversation_id, parent = found
        db.execute("UPDATE messages SET parent_id = ? WHERE parent_id = ?", (parent, message_id))
        db.execute(
            "UPDATE conversations SET current_leaf = ? WHERE id = ? AND current_leaf = ?",
            (parent, conversation_id, message_id),
        )


class Branches:
    """The :class:`~llmchat.store.sqlite.Store` methods about branches (mixed into it).

    Every method raises :class:`~llmchat.store.errors.StoreError` when the database fails.
    """

    path: Path
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _resolve: Callable[[sqlite3.Connection, str], str]

    def _conversation_of(self, db: sqlite3.Connection, message_id: str) -> tuple[str, str | None]:
        found = parent_of(db, message_id)
        if found is None:
            raise ConversationNotFound(f"no message {message_id!r} in {self.path}", path=self.path)
        return found

    def siblings(self, message_id: str) -> list[str]:
        """The ids of the messages sharing `message_id`'s parent (itself included), oldest
        first: the branches at that point.

        Raises:
            ConversationNotFound: no message has this id.
        """
        with self._read() as db:
            conversation_id, parent = self._conversation_of(db, message_id)
            return children(db, conversation_id, parent)

    def children(self, message_id: str) -> list[str]:
        """The ids of `message_id`'s children, oldest first (several: the branches below it)."""
        with self._read() as db:
            conversation_id, _ = self._conversation_of(db, message_id)
            return children(db, conversation_id, message_id)

    def current_leaf(self, ref: str) -> str | None:
        """The id of the conversation's current leaf (None while it is empty)."""
        with self._read() as db:
            return current_leaf(db, self._resolve(db, ref))

    def set_current_leaf(self, message_id: str, *, descend: bool = True) -> str:
        """Make the path through `message_id` the conversation's current one; return the new
        leaf: with `descend`, the leaf below `message_id` reached by the newest children (so
        switching to another answer brings back the rest of its branch), else the message.

        Raises:
            ConversationNotFound: no message has this id.
        """
        with self._write() as db:
            conversation_id, _ = self._conversation_of(db, message_id)
            leaf = deepest_leaf(db, conversation_id, message_id) if descend else message_id
            db.execute("UPDATE conversations SET current_leaf = ? WHERE id = ?", (leaf, conversation_id))
            return leaf

    def tree_edges(self, ref: str) -> list[tuple[str, str | None]]:
        """Every (message id, parent id) of a conversation, oldest message first."""
        with self._read() as db:
            return edges(db, self._resolve(db, ref))

