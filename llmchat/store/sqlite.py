"""The history store: conversations and messages in one SQLite file.

Safe for several llmchat processes at once (a TUI and an ``ask``): WAL journal, a busy
timeout, and every write in its own ``BEGIN IMMEDIATE`` transaction. Replies are written
ahead: :meth:`Store.begin_reply` creates the row before the first token,
:meth:`Store.append_partial` adds the new text while streaming (it doubles as a heartbeat),
:meth:`Store.finish_reply` makes it final. Rows a killed process left streaming are marked
interrupted by :meth:`Store.recover_interrupted`.

While a reply streams, its text is kept in ``reply_chunks`` (UTF-8 blobs), one row per save, so
a save costs the size of the new text. When the reply is made final the chunks are joined
inside SQLite, a chunk at a time (incremental blob I/O into one preallocated row), and written
into the message row by one UPDATE: the text never passes through Python, and only that
UPDATE holds it whole (SQLite, about three copies of it for that moment). Reading a streaming
reply joins its chunks (:meth:`Store.load_conversation`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import zip_longest
from pathlib import Path

from llmchat.chat.models import Conversation, Message
from llmchat.providers.events import Usage
from llmchat.store import export as exporting
from llmchat.store import blobs, migrations, search, tree
from llmchat.store.connection import connect, connect_read_only
from llmchat.store.errors import ConversationNotFound, SchemaTooNew, StoreError, schema_too_new, store_error
from llmchat.store.ids import new_id, timestamp
from llmchat.store.tree import LEAF, Branches
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

_FOLD = ", ".join(
    f"{column} = CASE WHEN :text_row IS NULL THEN {column}"
    f" WHEN {column} = '' THEN (SELECT CAST({column} AS TEXT) FROM reply_chunks WHERE seq = :text_row)"
    f" ELSE {column} || (SELECT CAST({column} AS TEXT) FROM reply_chunks WHERE seq = :text_row) END"
    for column in ("content", "reasoning")
)
"""The assignments that append a reply's saved text (the chunk row ``:text_row`` made by
:func:`_join_chunks`, or nothing when it is NULL) to its message row."""

_SUMMARY_SELECT = (
    "SELECT c.id, c.title, c.provider, c.model, c.system_prompt, c.created_at, c.updated_at,"
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
    " FROM conversations c"
)


class Store(Branches):
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
        self, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 10.0,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self.full_text = False
        """Whether search uses the FTS5 index (False: the LIKE fallback)."""
        self.recovered = 0
        """How many interrupted replies opening this store marked as such."""
        self.read_only = read_only
        """Opened for reading only (every write raises StoreError)."""
        try:
            if read_only:
                self._conn = connect_read_only(self.path)
                _refuse_newer(self._conn)
                self.full_text = migrations.has_search_index(self._conn) and migrations.fts5_available(self._conn)
                return
            self._conn = connect(self.path, busy_timeout, check=_refuse_newer)
            with self._write() as db:
                migrations.migrate(db)
                if migrations.has_search_index(db) and not migrations.fts5_available(db):
                    migrations.disable_search_index(db)
                self.full_text = migrations.has_search_index(db)
            self.recovered = self.recover_interrupted()
        except SchemaTooNew as exc:
            self.close()
            raise schema_too_new(str(exc), self.path) from None
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise store_error(exc, self.path) from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 10.0,
        read_only: bool = False,
    ) -> Store:
        """Open the store at `path` (see :class:`Store`): created if needed, or with
        `read_only` only read (nothing created, migrated or recovered).

        Raises:
            SchemaTooNew: a newer llmchat wrote the file; nothing was written to it.
            StoreError: the file cannot be created, opened, migrated or written.
        """
        return cls(path, clock=clock, busy_timeout=busy_timeout, read_only=read_only)

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
        self, db: sqlite3.Connection, conversation_id: str, values: Mapping[str, object], state: str,
        parent_id: str | None = LEAF,
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
        if parent_id == LEAF:
            parent_id = tree.current_leaf(db, conversation_id)
        elif parent_id is not None and tree.parent_of(db, parent_id) is None:
            raise ConversationNotFound(f"no message {parent_id!r} in {self.path}", path=self.path)
        message_id = new_id(now)
        row = {**values, "id": message_id, "conversation_id": conversation_id,
               "position": position, "state": state, "created_at": ts, "updated_at": ts,
               "parent_id": parent_id}
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        db.execute(f"INSERT INTO messages ({names}) VALUES ({marks})", row)
        db.execute("UPDATE conversations SET current_leaf = ? WHERE id = ?", (message_id, conversation_id))
        return message_id

    def add_message(self, conversation_id: str, message: Message, parent_id: str | None = LEAF) -> str:
        """Store a complete message (a user message before its request is sent); return its id.

        It goes after `parent_id` (by default the current leaf; None: a new root, e.g. an
        edited first question) and becomes the current leaf. The first user message of an
        untitled conversation gives it its title.

        Raises:
            ConversationNotFound: no conversation has this id.
        """
        values = {**message_values(message), "provider": message.provider, "model": message.model}
        with self._write() as db:
            message_id = self._append(db, conversation_id, values, "final", parent_id)
            if message.attachments:
                blobs.save(db, message_id, message.attachments)
            if message.role == "user":
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title IS NULL",
                    (default_title(message.content or " ".join(a.name for a in message.attachments)),
                     conversation_id),
                )
        return message_id

    def begin_reply(
        self, conversation_id: str, provider: str | None, model: str | None, parent_id: str | None = LEAF
    ) -> str:
        """Create an empty assistant row in state 'streaming' before the request; return its id.

        It goes after `parent_id` (by default the current leaf; a regenerated answer names
        its question, so it becomes a sibling of the old answer) and becomes the current leaf.

        The conversation's provider and model become these (the latest reply's).

        Raises:
            ConversationNotFound: no conversation has this id.
        """
        values = {"role": "assistant", "provider": provider, "model": model}
        with self._write() as db:
            message_id = self._append(db, conversation_id, values, "streaming", parent_id)
            db.execute(
                "UPDATE conversations SET provider = ?, model = ? WHERE id = ?",
                (provider, model, conversation_id),
            )
        return message_id

    def save_partial(self, message_id: str, content: str, reasoning: str = "") -> bool:
        """Replace a streaming reply's whole text so far (the text saved before is dropped).

        Prefer :meth:`append_partial`, which sends only the new text. Like it, this is a
        heartbeat that tells other processes the reply is alive.

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
            if cursor.rowcount == 0:
                return False
            db.execute("DELETE FROM reply_chunks WHERE message_id = ?", (message_id,))
            return True

    def append_partial(self, message_id: str, content: str, reasoning: str = "") -> bool:
        """Add the text that arrived since the last save to a streaming reply; call it about
        once a second, also with no new text (a model thinking silently for a minute): it is
        the heartbeat that tells other processes the reply is alive.

        The text goes into a chunk row of its own, so a save costs the size of the new text,
        at the end of a long reply as at its start. A reply that was marked interrupted while
        its process was only suspended (Ctrl-Z) is streaming again.

        Returns:
            False when the row is already final or gone (deleted meanwhile); nothing changed.
        """
        # A lone surrogate (half a pair a provider split) cannot be UTF-8: it is stored as "?".
        encoded = content.encode("utf-8", "replace"), reasoning.encode("utf-8", "replace")
        return self.append_chunks(message_id, [encoded[0]], [encoded[1]])

    def append_chunks(
        self, message_id: str, content: Sequence[bytes], reasoning: Sequence[bytes] = ()
    ) -> bool:
        """:meth:`append_partial` for text already in UTF-8 pieces (what
        :meth:`~llmchat.chat.accumulator.Accumulator.take_utf8` hands out): each piece is
        stored as it is, nothing is joined.

        Args:
            message_id: the streaming reply.
            content: new answer text, UTF-8, in order.
            reasoning: new reasoning text, UTF-8, in order.

        Returns:
            False when the row is already final or gone (deleted meanwhile); nothing changed.
        """
        _, ts = self._now()
        rows = [(message_id, c, r) for c, r in zip_longest(content, reasoning, fillvalue=b"") if c or r]
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET updated_at = ?, state = 'streaming', finish_reason = NULL,"
                " error = NULL WHERE id = ? AND (state = 'streaming' OR error = ?)",
                (ts, message_id, INTERRUPTED),
            )
            if cursor.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO reply_chunks (message_id, content, reasoning) VALUES (?, ?, ?)", rows
            )
            return True

    def finish_reply(self, message_id: str, message: Message, *, keep_text: bool = False) -> None:
        """Make a reply final: its text, finish reason (also cancelled/error and the error
        text), usage and timings. A reply wrongly marked interrupted is corrected.

        With `keep_text` the stored text is what the appends saved (the caller appended all
        of it), folded into the row in one write, so a long reply never passes through
        Python again; `message`'s content and reasoning are not read. Without it, the row
        gets `message`'s content and reasoning and the appended text is dropped.
        """
        _, ts = self._now()
        values = message_values(message)
        values.pop("role")
        if keep_text:
            values.pop("content")
            values.pop("reasoning")
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        if keep_text:
            assignments = f"{_FOLD}, {assignments}"
        with self._write() as db:
            text_row = _join_chunks(db, message_id) if keep_text else None
            db.execute(
                f"UPDATE messages SET {assignments}, state = 'final', updated_at = :ts,"
                " provider = coalesce(:provider, provider), model = coalesce(:model, model)"
                " WHERE id = :id",
                {**values, "ts": ts, "id": message_id, "provider": message.provider,
                 "model": message.model, "text_row": text_row},
            )
            db.execute("DELETE FROM reply_chunks WHERE message_id = ?", (message_id,))
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id ="
                " (SELECT conversation_id FROM messages WHERE id = ?)",
                (ts, message_id),
            )

    def recover_interrupted(self, older_than: float = STALE_AFTER) -> int:
        """Finalize replies left streaming by a process that died; return how many.

        Only rows unsaved for `older_than` seconds are touched, so another process's live
        reply (saved about once a second) is left alone. Their partial text is kept (the
        saved chunks folded in), with finish reason "error" and the error :data:`INTERRUPTED`.
        """
        now, ts = self._now()
        with self._write() as db:
            stale = [row[0] for row in db.execute(
                "SELECT id FROM messages WHERE state = 'streaming' AND updated_at < ?",
                (timestamp(now - older_than),),
            )]
            for message_id in stale:
                db.execute(
                    f"UPDATE messages SET {_FOLD}, state = 'final', finish_reason = 'error',"
                    " error = :error, updated_at = :ts WHERE id = :id",
                    {"error": INTERRUPTED, "ts": ts, "id": message_id,
                     "text_row": _join_chunks(db, message_id)},
                )
                db.execute("DELETE FROM reply_chunks WHERE message_id = ?", (message_id,))
            return len(stale)

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

    def delete_messages(self, message_ids: Iterable[str]) -> int:
        """Delete messages by id (with their full-text entries and unsaved chunks), e.g. the
        reply that /retry regenerates; return how many were deleted. Unknown ids are ignored."""
        ids = list(message_ids)
        if not ids:
            return 0
        with self._write() as db:
            marks = ", ".join("?" * len(ids))
            tree.before_delete(db, ids)
            deleted = db.execute(f"DELETE FROM messages WHERE id IN ({marks})", ids).rowcount
            blobs.drop_unused(db)
            return deleted

    def delete(self, ref: str) -> None:
        """Delete a conversation and all its messages."""
        with self._write() as db:
            conversation_id = self._resolve(db, ref)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            blobs.drop_unused(db)

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
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
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
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )}
        return [by_id[i] for i in ids]

    def path_to(self, message_id: str) -> list[Message]:
        """The messages from the root down to `message_id` (inclusive)."""
        with self._read() as db:
            if tree.parent_of(db, message_id) is None:
                raise ConversationNotFound(f"no message {message_id!r} in {self.path}", path=self.path)
            ids = tree.path_ids(db, message_id)
            rows = [db.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (i,)).fetchone()
                    for i in ids]
            return _messages(db, rows)

    def replies_since(self, since: float) -> list[Message]:
        """Every reply with usage stored at or after `since` (Unix seconds), across all
        conversations, oldest first: its usage, provider and model (no text), for a day's
        spending (``[budget] day``)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT input_tokens, output_tokens, total_tokens, cached_tokens, reasoning_tokens, provider, model"
                " FROM messages WHERE role = 'assistant' AND input_tokens IS NOT NULL AND created_at >= ?"
                " ORDER BY created_at", (timestamp(since),)).fetchall()
        return [Message("assistant", usage=Usage(r[0], r[1] or 0, r[2] or 0, cached_tokens=r[3], reasoning_tokens=r[4]),
                        provider=r[5], model=r[6]) for r in rows]

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
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
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


def _refuse_newer(db: sqlite3.Connection) -> None:
    problem = migrations.newer_schema(db)
    if problem is not None:
        raise SchemaTooNew(problem)


def _messages(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Message]:
    """Messages from rows selected with MESSAGE_COLUMNS; a reply still streaming gets the
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


def _join_chunks(db: sqlite3.Connection, message_id: str) -> int | None:
    """The seq of one ``reply_chunks`` row holding all of a reply's saved text, in order
    (None when nothing was saved). With several chunks a new row is made: zero-filled blobs
    of the total size, written chunk by chunk with incremental blob I/O, so neither Python
    nor SQLite holds the whole text here. Runs inside the caller's write transaction."""
    count, content_size, reasoning_size, last = db.execute(
        "SELECT count(*), coalesce(sum(length(content)), 0), coalesce(sum(length(reasoning)), 0),"
        " max(seq) FROM reply_chunks WHERE message_id = ?",
        (message_id,),
    ).fetchone()
    if count <= 1:
        return last  # type: ignore[no-any-return]
    row = db.execute(
        "INSERT INTO reply_chunks (message_id, content, reasoning) VALUES (?, zeroblob(?), zeroblob(?))",
        (message_id, content_size, reasoning_size),
    ).lastrowid
    for column, size in (("content", content_size), ("reasoning", reasoning_size)):
        if size:
            with db.blobopen("reply_chunks", column, row) as blob:
                for (piece,) in db.execute(
                    f"SELECT {column} FROM reply_chunks WHERE message_id = ? AND seq < ? ORDER BY seq",
                    (message_id, row),
                ):
                    blob.write(piece)
    return row
