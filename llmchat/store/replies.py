"""The :class:`~llmchat.store.sqlite.Store` methods that write a reply ahead (mixed into it).

:meth:`Replies.begin_reply` creates the row before the first token,
:meth:`Replies.append_partial` adds the new text while streaming (it doubles as a heartbeat),
:meth:`Replies.finish_reply` makes it final. Rows a killed process left streaming are marked
interrupted by :meth:`Replies.recover_interrupted`.

While a reply streams, its text is kept in ``reply_chunks`` (UTF-8 blobs), one row per save, so
a save costs the size of the new text. When the reply is made final the chunks are joined
inside SQLite, a chunk at a time (incremental blob I/O into one preallocated row), and written
into the message row by one UPDATE: the text never passes through Python, and only that
UPDATE holds it whole (SQLite, about three copies of it for that moment).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from itertools import zip_longest
from pathlib import Path

from llmchat.chat.models import Message
from llmchat.store.ids import timestamp
from llmchat.store.records import message_values
from llmchat.store.tree import LEAF

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


class Replies:
    """The :class:`~llmchat.store.sqlite.Store` methods about streaming replies (mixed into it).

    Every method raises :class:`~llmchat.store.errors.StoreError` when the database fails.
    """

    path: Path
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _now: Callable[[], tuple[float, str]]
    _append: Callable[..., str]

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
