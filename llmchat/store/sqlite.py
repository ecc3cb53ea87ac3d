"""The history store: conversations and messages in one SQLite file.

Safe for several llmchat processes at once (a TUI and an ``ask``): WAL journal, a busy
timeout, and every write in its own ``BEGIN IMMEDIATE`` transaction. Replies are written
ahead: :meth:`Store.begin_reply` creates the row before the first token,
:meth:`Store.append_partial` adds the new text while streaming (it doubles as a heartbeat),
:meth:`Store.finish_reply` makes it final. Rows a killed process left streaming are marked
interrupted by :meth:`Store.recover_interrupted`.

The methods live in one mixin per idea: writing a reply ahead and folding its chunks
(:mod:`llmchat.store.replies`), reading, search and export (:mod:`llmchat.store.reading`),
branches (:mod:`llmchat.store.tree`). This module holds the connection, the transactions and
the plain writes (conversations, complete messages, renames, deletes).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from llmchat.chat.models import Message
from llmchat.store import blobs, migrations, tree
from llmchat.store.connection import connect, connect_read_only
from llmchat.store.errors import ConversationNotFound, SchemaTooNew, StoreError, schema_too_new, store_error
from llmchat.store.ids import new_id, timestamp
from llmchat.store.reading import Reading
from llmchat.store.records import default_title, message_values
from llmchat.store.replies import INTERRUPTED, STALE_AFTER, Replies
from llmchat.store.tree import LEAF, Branches

__all__ = ["INTERRUPTED", "STALE_AFTER", "Store"]


class Store(Reading, Replies, Branches):
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

    @classmethod
    def open_or_read(cls, path: Path) -> Store:
        """Open the store at `path` for writing or, when the file exists but cannot be written
        (a read-only file or data directory), for reading only (:attr:`read_only` then says so,
        and the caller says that new replies will not be stored). A database of a newer
        llmchat, or one another process keeps locked, is never opened this way.

        Raises:
            SchemaTooNew: a newer llmchat wrote the file; nothing was written to it.
            StoreError: the file cannot be opened for writing (nor, when it exists, for reading):
                the error of the attempt to write.
        """
        try:
            return cls.open(path)
        except SchemaTooNew:
            raise
        except StoreError as exc:
            if not Path(path).is_file() or (exc.code or "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise
            try:
                return cls.open(path, read_only=True)
            except StoreError:
                raise exc from None

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


def _refuse_newer(db: sqlite3.Connection) -> None:
    problem = migrations.newer_schema(db)
    if problem is not None:
        raise SchemaTooNew(problem)

