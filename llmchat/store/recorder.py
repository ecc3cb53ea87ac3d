"""Recorder: the write-ahead protocol of one conversation, shared by the TUI and `llmchat ask`.

The user message is stored before its request is sent; the reply row is created when the
stream starts, the text that arrived since the last save is appended at most once a second
while it streams (the heartbeat that keeps other processes from calling it interrupted), and
the reply is made final however the stream ends. Each save costs the size of the new text,
never of the whole reply. A database failure is reported once through `on_error` and
recording stops, so the chat goes on in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.store.errors import StoreError
from llmchat.store.sqlite import Store
from llmchat.store.tree import LEAF

SAVE_EVERY = 1.0
"""Seconds between two saves of a streaming reply."""


class Recorder:
    """Records one conversation into `store` (None: record nothing).

    Args:
        store: an open store, or None when history is off or unavailable; a store opened
            read-only (:meth:`Store.open_or_read`) records nothing, as None.
        on_error: called once with a one-line message when the store fails.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        store: Store | None,
        on_error: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = None if store is not None and store.read_only else store
        self.on_error = on_error
        self.clock = clock
        self.conversation_id: str | None = None
        self._meta: tuple[str | None, str | None, str | None] = (None, None, None)
        self._reply_id: str | None = None
        self._saved_at = 0.0
        self._saved_lengths = (0, 0)  # characters of content and reasoning saved so far
        self._parent: str | None = LEAF  # where the next message goes (LEAF: the current leaf)

    def _take_parent(self) -> str | None:
        parent, self._parent = self._parent, LEAF
        return parent

    @property
    def recording(self) -> bool:
        """Whether replies are being stored (False: no store, or it failed)."""
        return self.store is not None

    def _run(self, action: Callable[[Store], object]) -> object:
        if self.store is None:
            return None
        try:
            return action(self.store)
        except StoreError as exc:
            self.store = None
            self.on_error(f"history is off for this session: {exc}")
            return None

    def open(self, conversation_id: str | None, provider: str, model: str, system: str | None) -> None:
        """Continue `conversation_id`, or start a new conversation (lazily, at the first message)."""
        if conversation_id != self.conversation_id:
            self._parent = LEAF
        self.conversation_id = conversation_id
        self._meta = (provider, model, system)

    def user(self, message: Message) -> None:
        """Store the user's (or a tool's) message before its request is sent; its
        :attr:`~Message.id` becomes the store's id."""

        def write(store: Store) -> None:
            if self.conversation_id is None:
                self.conversation_id = store.create_conversation(*self._meta)
            message.id = store.add_message(self.conversation_id, message, self._take_parent())

        self._run(write)

    def begin_reply(self, provider: str, model: str) -> None:
        """Create the reply's row as the stream starts."""
        self._reply_id = None
        if self.conversation_id is not None:
            conversation_id = self.conversation_id
            parent = self._take_parent()
            self._reply_id = self._run(  # type: ignore[assignment]
                lambda s: s.begin_reply(conversation_id, provider, model, parent))
            self._saved_at = self.clock()
            self._saved_lengths = (0, 0)

    def heartbeat(self, accumulator: Accumulator) -> None:
        """Append the reply's new text if a second has passed since the last save.

        The text is taken from `accumulator` (:meth:`Accumulator.take_utf8`), so one made
        with the ``"until_taken"`` policy keeps only what arrived since. An accumulator
        whose stream has ended is left alone (its reply was, or will be, finished with
        :meth:`finish`). When nothing is being recorded the text is taken all the same,
        so such an accumulator never grows.
        """
        if accumulator.ended_at is not None or self.clock() - self._saved_at < SAVE_EVERY:
            return
        self._saved_at = self.clock()
        content, reasoning = accumulator.take_utf8()  # the blocks as they are: nothing joined
        if self._reply_id is None:
            return
        reply_id = self._reply_id
        self._saved_lengths = (accumulator.content_length, accumulator.reasoning_length)
        self._run(lambda s: s.append_chunks(reply_id, content, reasoning))

    def finish(self, message: Message, accumulator: Accumulator | None = None) -> None:
        """Make the reply final (also when cancelled, failed or interrupted).

        Args:
            message: the reply's message: finish reason, usage, timings, tool calls; its
                content and reasoning give the text not saved yet, unless `accumulator` is given.
            accumulator: the reply's accumulator, whose heartbeats were saved: the rest of the
                text is taken from it, and `message`'s content and reasoning are not read (so
                they may be left empty: ``accumulator.message(text=False)``).
        """
        if self._reply_id is None:
            return
        reply_id = message.id = self._reply_id
        if accumulator is not None:
            content, reasoning = accumulator.take_utf8()
        else:
            saved_content, saved_reasoning = self._saved_lengths
            content = [message.content[saved_content:].encode("utf-8", "replace")]
            reasoning = [message.reasoning[saved_reasoning:].encode("utf-8", "replace")]

        def write(store: Store) -> None:
            store.append_chunks(reply_id, content, reasoning)  # the rest, not it all again
            store.finish_reply(reply_id, message, keep_text=True)

        self._run(write)
        self._reply_id = None

    def forget(self, messages: Iterable[Message]) -> None:
        """Delete stored messages that left the conversation (/retry drops the last answer,
        /edit the last question too), so that continuing it later sends what is on screen.
        Messages never stored (no :attr:`~Message.id`) are skipped."""
        ids = [message.id for message in messages if message.id]
        if ids:
            self._run(lambda store: store.delete_messages(ids))

    def branch(self, parent: Message | None) -> None:
        """The next message goes after `parent` (None: a new root): the store's current leaf
        becomes `parent`, so the history shows what the session shows, and the old branch
        stays. A `parent` never stored leaves the current leaf as it is."""
        self._parent = LEAF
        if parent is None:
            self._parent = None
        elif parent.id and self.conversation_id is not None:
            parent_id = parent.id
            self._run(lambda store: store.set_current_leaf(parent_id, descend=False))

    def siblings(self, message: Message) -> list[str]:
        """The ids of the stored branches at `message` (its own included), oldest first."""
        if not message.id or self.store is None:
            return []
        message_id = message.id
        found = self._run(lambda store: store.siblings(message_id))
        return found if isinstance(found, list) else []

    def switch(self, message_id: str) -> list[Message] | None:
        """Make the path through `message_id` (down to its newest leaf) current; return it."""
        conversation_id = self.conversation_id
        if conversation_id is None:
            return None

        def write(store: Store) -> list[Message]:
            store.set_current_leaf(message_id)
            return store.load_conversation(conversation_id)[1].messages

        self._parent = LEAF
        found = self._run(write)
        return found if isinstance(found, list) else None

    def new_conversation(self) -> None:
        """The next message starts a new conversation."""
        self.conversation_id = None
        self._parent = LEAF
