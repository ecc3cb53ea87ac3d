"""The :class:`~llmchat.store.sqlite.Store` methods that read (mixed into it): resolving a
conversation reference, listing, loading (a streaming reply gets the text saved in its chunks),
paging, search and export.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from llmchat.chat.models import Conversation, Message
from llmchat.providers.events import Usage
from llmchat.store import blobs, search, tree
from llmchat.store import export as exporting
from llmchat.store.errors import ConversationNotFound
from llmchat.store.ids import timestamp
from llmchat.store.records import (
    ConversationSummary,
    MessagePage,
    SearchHit,
    cache_write_column,
    message_columns,
    message_from_row,
    summary_from_row,
)

_SUMMARY_SELECT = (
    "SELECT c.id, c.title, c.provider, c.model, c.system_prompt, c.created_at, c.updated_at,"
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
    " FROM conversations c"
)


class Reading:
    """The :class:`~llmchat.store.sqlite.Store` methods that read (mixed into it).

    Every method raises :class:`~llmchat.store.errors.StoreError` when the database fails.
    """

    path: Path
    full_text: bool
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def _resolve(self, db: sqlite3.Connection, ref: str) -> str:
        ref = ref.strip()
        if ref == "latest":
            row = db.execute("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC"
                             " LIMIT 1").fetchone()
            if row is None:
                raise ConversationNotFound(f"no conversations in {self.path} yet", path=self.path)
            return str(row[0])
        if db.execute("SELECT 1 FROM conversations WHERE id = ?", (ref,)).fetchone():
            return ref
        prefix = ref.upper()
        rows = [] if not prefix.isalnum() else db.execute(
            "SELECT id FROM conversations WHERE id >= ? AND id < ? LIMIT 2",
            (prefix, prefix + "~"),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        why = "several conversations start with" if rows else "no conversation matches"
        raise ConversationNotFound(
            f"{why} {ref!r}; `llmchat history` lists their ids", path=self.path
        )

    def resolve(self, ref: str) -> str:
        """The id `ref` names: an id, a unique id prefix (any case), or ``"latest"``.

        Raises:
            ConversationNotFound: nothing (or more than one conversation) matches.
        """
        with self._read() as db:
            return self._resolve(db, ref)

    def latest_conversation_id(self) -> str | None:
        """The most recently updated conversation's id, or None when there is none."""
        with self._read() as db:
            row = db.execute("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC"
                             " LIMIT 1").fetchone()
            return None if row is None else str(row[0])

    def list_conversations(self, limit: int | None = None, offset: int = 0) -> list[ConversationSummary]:
        """Conversations, most recently updated first."""
        with self._read() as db:
            rows = db.execute(
                f"{_SUMMARY_SELECT} ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [summary_from_row(row) for row in rows]

    def _summary(
        self, db: sqlite3.Connection, conversation_id: str
    ) -> tuple[ConversationSummary, str | None]:
        row = db.execute(f"{_SUMMARY_SELECT} WHERE c.id = ?", (conversation_id,)).fetchone()
        return summary_from_row(row), row["system_prompt"]

    def load_conversation(self, ref: str) -> tuple[ConversationSummary, Conversation]:
        """A conversation's summary, system prompt and current path (root to current leaf;
        the other branches: :meth:`tree_edges`).

        Args:
            ref: an id, a unique id prefix, or ``"latest"``.

        Raises:
            ConversationNotFound: nothing matches `ref`.
        """
        with self._read() as db:
            conversation_id = self._resolve(db, ref)
            summary, system = self._summary(db, conversation_id)
            rows = self._path_rows(db, conversation_id)
            messages = _messages(db, rows)
        return summary, Conversation(system=system, messages=messages)

    def load_messages(
        self, ref: str, limit: int = 50, before_position: int | None = None
    ) -> MessagePage:
        """The newest `limit` messages of the current path before `before_position` (all
        when None), oldest first.

        Open a long conversation with ``load_messages(id)``, then page back with
        ``load_messages(id, before_position=page.first_position)`` while ``page.has_more``.
        """
        with self._read() as db:
            conversation_id = self._resolve(db, ref)
            before = 2**62 if before_position is None else before_position
            rows = [row for row in self._path_rows(db, conversation_id, before, max(limit, 0) + 1)
                    if row["position"] < before][::-1]
            has_more = len(rows) > limit
            rows = rows[:limit][::-1]
            messages = _messages(db, rows)
        first = rows[0]["position"] if rows else None
        return MessagePage(messages, first, has_more)

    def _path_rows(
        self, db: sqlite3.Connection, conversation_id: str, before: int = 2**62, newest: int | None = None
    ) -> list[sqlite3.Row]:
        """The current path's rows, oldest first: all, or the `newest` ones before position
        `before` (only their ids are read for the rest of the path)."""
        if not tree.has_tree(db):  # a read-only file of an older llmchat: linear
            return db.execute(
                f"SELECT {message_columns(db)} FROM messages WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        leaf = tree.current_leaf(db, conversation_id)
        ids = [] if leaf is None else tree.path_ids(db, leaf)
        if newest is not None:  # positions grow down a path (a child is stored after its parent)
            positions = dict(db.execute(
                "SELECT id, position FROM messages WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            ).fetchall())
            ids = [i for i in ids if positions[i] < before][-newest:]
        by_id = {row["id"]: row for row in db.execute(
            f"SELECT {message_columns(db)} FROM messages WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )}
        return [by_id[i] for i in ids]

    def path_to(self, message_id: str) -> list[Message]:
        """The messages from the root down to `message_id` (inclusive)."""
        with self._read() as db:
            if tree.parent_of(db, message_id) is None:
                raise ConversationNotFound(f"no message {message_id!r} in {self.path}", path=self.path)
            ids = tree.path_ids(db, message_id)
            rows = [db.execute(f"SELECT {message_columns(db)} FROM messages WHERE id = ?", (i,)).fetchone()
                    for i in ids]
            return _messages(db, rows)

    def replies_since(self, since: float) -> list[Message]:
        """Every reply with usage stored at or after `since` (Unix seconds), across all
        conversations, oldest first: its usage, provider and model (no text), for a day's
        spending (``[budget] day``)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT input_tokens, output_tokens, total_tokens, cached_tokens, reasoning_tokens, provider, model,"
                f" {cache_write_column(db)} FROM messages"
                " WHERE role = 'assistant' AND input_tokens IS NOT NULL AND created_at >= ?"
                " ORDER BY created_at", (timestamp(since),)).fetchall()
        return [Message("assistant", provider=r[5], model=r[6], usage=Usage(
            r[0], r[1] or 0, r[2] or 0, cached_tokens=r[3], reasoning_tokens=r[4], cache_write_tokens=r[7]))
            for r in rows]

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Conversations whose title or messages contain every word of `text`.

        Title matches come first, then messages, best match first (newest first without
        FTS5). `text` is plain words: quotes and FTS operators are searched for, not obeyed.
        """
        with self._read() as db:
            if self.full_text:
                return search.fts_search(db, text, limit)
            return search.like_search(db, text, limit)

    def export(self, ref: str, format: str = "md") -> str:  # noqa: A002 - the CLI's word
        """A conversation as a Markdown transcript of its current path, marking where other
        branches split off (``"md"``), or one JSON object with the current path and the
        whole tree (``"json"``, see :func:`~llmchat.store.export.to_json`).

        Raises:
            ValueError: an unknown format.
            ConversationNotFound: nothing matches `ref`.
        """
        if format not in exporting.FORMATS:
            raise ValueError(f"unknown export format {format!r}; use one of: md, json")
        summary, conversation = self.load_conversation(ref)
        with self._read() as db:
            if not tree.has_tree(db):
                return (exporting.to_json(summary, conversation) if format == "json"
                        else exporting.to_markdown(summary, conversation))
            edges = tree.edges(db, summary.id)
            leaf = tree.current_leaf(db, summary.id)
            rows = db.execute(
                f"SELECT {message_columns(db)} FROM messages WHERE conversation_id = ? ORDER BY position",
                (summary.id,),
            ).fetchall() if format == "json" else []
            everything = _messages(db, rows)
        parents = dict(edges)
        if format == "json":
            return exporting.to_json(summary, conversation, (everything, parents, leaf))
        counts: dict[str | None, int] = {}
        for parent in parents.values():
            counts[parent] = counts.get(parent, 0) + 1
        siblings = {message_id: counts[parent] for message_id, parent in parents.items()}
        return exporting.to_markdown(summary, conversation, siblings)



def _messages(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Message]:
    """Messages from rows selected with :func:`~llmchat.store.records.message_columns`; a reply still streaming gets the
    text saved in its chunks appended."""
    messages = [message_from_row(row) for row in rows]
    attached = blobs.load(db, [row["id"] for row in rows if row["role"] == "user"])
    for message, row in zip(messages, rows, strict=True):
        message.attachments = attached.get(row["id"], [])
        if row["state"] == "streaming":
            chunks = db.execute(
                "SELECT content, reasoning FROM reply_chunks WHERE message_id = ? ORDER BY seq",
                (row["id"],),
            ).fetchall()
            if chunks:
                message.content += b"".join(chunk[0] for chunk in chunks).decode()
                message.reasoning += b"".join(chunk[1] for chunk in chunks).decode()
    return messages

