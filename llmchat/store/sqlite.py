"""The history store: conversations and messages in one SQLite file.

Safe for several llmchat processes at once (a TUI and an ``ask``): WAL journal, a busy
timeout, and every write in its own ``BEGIN IMMEDIATE`` transaction. Replies are written
ahead: :meth:`Store.begin_reply` creates the row before the first token, :meth:`Store.save_partial`
keeps it current while streaming (it doubles as a heartbeat), :meth:`Store.finish_reply` makes it
final. Rows a killed process left streaming are marked interrupted by :meth:`Store.recover_interrupted`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from llmchat.chat.models import Conversation, Message
from llmchat.store import export as exporting
from llmchat.store import migrations, search
from llmchat.store.connection import connect
from llmchat.store.errors import ConversationNotFound, StoreError, store_error
from llmchat.store.ids import new_id, timestamp
from llmchat.store.records import (
    MESSAGE_COLUMNS,
    ConversationSummary,
    MessagePage,
    SearchHit,
    default_title,
    message_from_row,
    message_values,
    summary_from_row,
)

INTERRUPTED = "interrupted: llmchat stopped before the reply finished"
"""The error recorded on a reply whose process died while it streamed."""
STALE_AFTER = 10.0
"""Seconds without a save after which a streaming reply counts as abandoned."""

_SUMMARY_SELECT = (
    "SELECT c.id, c.title, c.provider, c.model, c.system_prompt, c.created_at, c.updated_at,"
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
    " FROM conversations c"
)


class Store:
    """Typed access to the history database at `path` (created owner-only if missing).

    Opening creates the folder (0700) and file (0600) when needed, applies pending migrations
    and recovers replies left streaming by dead processes (:attr:`recovered` counts them).
    Every method raises :class:`StoreError` (never :class:`sqlite3.Error`) when the database
    cannot be read or written. Calls from several threads are serialized by a lock, so
    slow reads (search) may run in ``asyncio.to_thread``.

    Args:
        path: the database file.
        clock: Unix time in seconds (tests pass a fake one).
        busy_timeout: seconds to wait for another process's write before failing.

    Raises:
        StoreError: the file or folder cannot be created, opened, migrated or written.
    """

    def __init__(
        self, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 10.0
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self.full_text = False
        """Whether search uses the FTS5 index (False: the LIKE fallback)."""
        self.recovered = 0
        """How many interrupted replies opening this store marked as such."""
        try:
            self._conn = connect(self.path, busy_timeout)
            with self._write() as db:
                migrations.migrate(db)
                if migrations.has_search_index(db) and not migrations.fts5_available(db):
                    migrations.disable_search_index(db)
                self.full_text = migrations.has_search_index(db)
            self.recovered = self.recover_interrupted()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise store_error(exc, self.path) from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 10.0
    ) -> Store:
        """Open (creating if needed) the store at `path`; see :class:`Store`."""
        return cls(path, clock=clock, busy_timeout=busy_timeout)

    def close(self) -> None:
        """Close the database (further calls raise StoreError). Safe to call twice."""
        with self._lock:
            if self._conn is not None:
                with suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"history database {self.path} is closed", path=self.path)
            try:
                yield self._conn
            except (sqlite3.Error, OSError) as exc:
                raise store_error(exc, self.path) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so concurrent writers queue, never deadlock."""
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot across several queries."""
        with self._guard() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    def _now(self) -> tuple[float, str]:
        now = self._clock()
        return now, timestamp(now)

    # -- writing -------------------------------------------------------------------------

    def create_conversation(
        self,
        provider: str | None,
        model: str | None,
        system_prompt: str | None,
        title: str | None = None,
    ) -> str:
        """Start a conversation and return its id.

        Args:
            provider: provider or profile name (never its key or settings).
            model: the model name.
            system_prompt: the system prompt, or None.
            title: a title; by default the first user message's first line becomes one.
        """
        now, ts = self._now()
        conversation_id = new_id(now)
        with self._write() as db:
            db.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, provider, model,"
                " system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, (title or "").strip() or None, ts, ts, provider, model,
                 system_prompt),
            )
        return conversation_id

    def _append(
        self, db: sqlite3.Connection, conversation_id: str, values: Mapping[str, object], state: str
    ) -> str:
        now, ts = self._now()
        touched = db.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?", (ts, conversation_id)
        )
        if touched.rowcount == 0:
            raise ConversationNotFound(
                f"no conversation {conversation_id!r} in {self.path}", path=self.path
            )
        (position,) = db.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
        message_id = new_id(now)
        row = {**values, "id": message_id, "conversation_id": conversation_id,
               "position": position, "state": state, "created_at": ts, "updated_at": ts}
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        db.execute(f"INSERT INTO messages ({names}) VALUES ({marks})", row)
        return message_id

    def add_message(self, conversation_id: str, message: Message) -> str:
        """Store a complete message (a user message before its request is sent); return its id.

        The first user message of an untitled conversation gives it its title.

        Raises:
            ConversationNotFound: no conversation has this id.
        """
        values = {**message_values(message), "provider": message.provider, "model": message.model}
        with self._write() as db:
            message_id = self._append(db, conversation_id, values, "final")
            if message.role == "user":
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title IS NULL",
                    (default_title(message.content), conversation_id),
                )
        return message_id

    def begin_reply(self, conversation_id: str, provider: str | None, model: str | None) -> str:
        """Create an empty assistant row in state 'streaming' before the request; return its id.

        The conversation's provider and model become these (the latest reply's).

        Raises:
            ConversationNotFound: no conversation has this id.
        """
        values = {"role": "assistant", "provider": provider, "model": model}
        with self._write() as db:
            message_id = self._append(db, conversation_id, values, "streaming")
            db.execute(
                "UPDATE conversations SET provider = ?, model = ? WHERE id = ?",
                (provider, model, conversation_id),
            )
        return message_id

    def save_partial(self, message_id: str, content: str, reasoning: str = "") -> bool:
        """Save a streaming reply's text so far (one small UPDATE); call it about once a second.

        It is also the heartbeat that tells other processes the reply is alive, so call it
        even when no new text arrived (a model thinking silently for a minute).

        Returns:
            False when the row is already final or gone (deleted meanwhile); nothing changed.
        """
        _, ts = self._now()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET content = ?, reasoning = ?, updated_at = ?,"
                " state = 'streaming', finish_reason = NULL, error = NULL"
                " WHERE id = ? AND (state = 'streaming' OR error = ?)",
                (content, reasoning, ts, message_id, INTERRUPTED),
            )
            return cursor.rowcount > 0

    def append_partial(self, message_id: str, content: str, reasoning: str = "") -> bool:
        """Add the text that arrived since the last save to a streaming reply (the heartbeat,
        like :meth:`save_partial`, but it sends only the new text, so a long reply costs the
        same per save at its end as at its start).

        Returns:
            False when the row is already final or gone (deleted meanwhile); nothing changed.
        """
        _, ts = self._now()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET content = coalesce(content, '') || ?,"
                " reasoning = coalesce(reasoning, '') || ?, updated_at = ?,"
                " state = 'streaming', finish_reason = NULL, error = NULL"
                " WHERE id = ? AND (state = 'streaming' OR error = ?)",
                (content, reasoning, ts, message_id, INTERRUPTED),
            )
            return cursor.rowcount > 0

    def finish_reply(self, message_id: str, message: Message, *, keep_text: bool = False) -> None:
        """Make a reply final: its text, finish reason (also cancelled/error and the error
        text), usage and timings. A reply wrongly marked interrupted is corrected.

        With `keep_text` the stored content and reasoning stay as the appends left them (the
        caller appended all of it), so a long reply is not written twice.
        """
        _, ts = self._now()
        values = message_values(message)
        values.pop("role")
        if keep_text:
            values.pop("content")
            values.pop("reasoning")
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with self._write() as db:
            db.execute(
                f"UPDATE messages SET {assignments}, state = 'final', updated_at = :ts,"
                " provider = coalesce(:provider, provider), model = coalesce(:model, model)"
                " WHERE id = :id",
                {**values, "ts": ts, "id": message_id, "provider": message.provider,
                 "model": message.model},
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)",
                (ts, message_id),
            )

    def recover_interrupted(self, older_than: float = STALE_AFTER) -> int:
        """Finalize replies left streaming by a process that died; return how many.

        Only rows unsaved for `older_than` seconds are touched, so another process's live
        reply (saved about once a second) is left alone. Their partial text is kept, with
        finish reason "error" and the error :data:`INTERRUPTED`.
        """
        now, ts = self._now()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET state = 'final', finish_reason = 'error', error = ?,"
                " updated_at = ? WHERE state = 'streaming' AND updated_at < ?",
                (INTERRUPTED, ts, timestamp(now - older_than)),
            )
            return cursor.rowcount

    def rename(self, ref: str, title: str) -> None:
        """Set a conversation's title; a blank title restores the default one."""
        with self._write() as db:
            conversation_id = self._resolve(db, ref)
            new = " ".join(title.split()) or None
            if new is None:
                first = db.execute(
                    "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user'"
                    " ORDER BY position LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                new = default_title(first[0]) if first else None
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (new, conversation_id))

    def delete(self, ref: str) -> None:
        """Delete a conversation and all its messages."""
        with self._write() as db:
            conversation_id = self._resolve(db, ref)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- reading -------------------------------------------------------------------------

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
        """A whole conversation: its summary, system prompt and every message, oldest first.

        Args:
            ref: an id, a unique id prefix, or ``"latest"``.

        Raises:
            ConversationNotFound: nothing matches `ref`.
        """
        with self._read() as db:
            conversation_id = self._resolve(db, ref)
            summary, system = self._summary(db, conversation_id)
            rows = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?"
                " ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return summary, Conversation(system=system, messages=[message_from_row(r) for r in rows])

    def load_messages(
        self, ref: str, limit: int = 50, before_position: int | None = None
    ) -> MessagePage:
        """The newest `limit` messages before `before_position` (all when None), oldest first.

        Open a long conversation with ``load_messages(id)``, then page back with
        ``load_messages(id, before_position=page.first_position)`` while ``page.has_more``.
        """
        with self._read() as db:
            conversation_id = self._resolve(db, ref)
            rows = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?"
                " AND position < ? ORDER BY position DESC LIMIT ?",
                (conversation_id, 2**62 if before_position is None else before_position,
                 max(limit, 0) + 1),
            ).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
        first = rows[0]["position"] if rows else None
        return MessagePage([message_from_row(r) for r in rows], first, has_more)

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
        """A conversation as a Markdown transcript (``"md"``) or one JSON object (``"json"``).

        Raises:
            ValueError: an unknown format.
            ConversationNotFound: nothing matches `ref`.
        """
        if format not in exporting.FORMATS:
            raise ValueError(f"unknown export format {format!r}; use one of: md, json")
        summary, conversation = self.load_conversation(ref)
        if format == "json":
            return exporting.to_json(summary, conversation)
        return exporting.to_markdown(summary, conversation)
