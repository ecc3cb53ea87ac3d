"""Recorder: the write-ahead protocol of one conversation, shared by the TUI and `llmchat ask`.

The user message is stored before its request is sent; the reply row is created when the
stream starts, its partial text saved at most once a second while it streams (the
heartbeat that keeps other processes from calling it interrupted), and made final however
the stream ends. A database failure is reported once through `on_error` and recording
stops, so the chat goes on in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.store.errors import StoreError
from llmchat.store.sqlite import Store

SAVE_EVERY = 1.0
"""Seconds between two saves of a streaming reply."""


class Recorder:
    """Records one conversation into `store` (None: record nothing).

    Args:
        store: an open store, or None when history is off or unavailable.
        on_error: called once with a one-line message when the store fails.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        store: Store | None,
        on_error: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.on_error = on_error
        self.clock = clock
        self.conversation_id: str | None = None
        self._meta: tuple[str | None, str | None, str | None] = (None, None, None)
        self._reply_id: str | None = None
        self._saved_at = 0.0
        self._saved_lengths = (0, 0)  # characters of content and reasoning saved so far

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
        self.conversation_id = conversation_id
        self._meta = (provider, model, system)

    def user(self, message: Message) -> None:
        """Store the user's message (before its request is sent)."""

        def write(store: Store) -> None:
            if self.conversation_id is None:
                self.conversation_id = store.create_conversation(*self._meta)
            store.add_message(self.conversation_id, message)

        self._run(write)

    def begin_reply(self, provider: str, model: str) -> None:
        """Create the reply's row as the stream starts."""
        self._reply_id = None
        if self.conversation_id is not None:
            conversation_id = self.conversation_id
            self._reply_id = self._run(lambda s: s.begin_reply(conversation_id, provider, model))  # type: ignore[assignment]
            self._saved_at = self.clock()
            self._saved_lengths = (0, 0)

    def heartbeat(self, accumulator: Accumulator) -> None:
        """Save the new text of the reply if a second has passed since the last save."""
        if self._reply_id is None or self.clock() - self._saved_at < SAVE_EVERY:
            return
        self._saved_at = self.clock()
        reply_id = self._reply_id
        content, reasoning = accumulator.text_since(*self._saved_lengths)
        self._saved_lengths = (self._saved_lengths[0] + len(content), self._saved_lengths[1] + len(reasoning))
        self._run(lambda s: s.append_partial(reply_id, content, reasoning))

    def finish(self, message: Message) -> None:
        """Make the reply final (also when cancelled, failed or interrupted)."""
        if self._reply_id is not None:
            reply_id = self._reply_id
            saved_content, saved_reasoning = self._saved_lengths
            content, reasoning = message.content[saved_content:], message.reasoning[saved_reasoning:]

            def write(store: Store) -> None:
                store.append_partial(reply_id, content, reasoning)  # the rest, not it all again
                store.finish_reply(reply_id, message, keep_text=True)

            self._run(write)
            self._reply_id = None

    def new_conversation(self) -> None:
        """The next message starts a new conversation."""
        self.conversation_id = None
