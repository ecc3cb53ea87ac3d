"""What a :class:`~llmchat.chat.engine.ChatSession` records its conversation with: the
:class:`Recording` protocol (``llmchat.store.recorder.Recorder`` implements it; ``chat`` never
imports ``store``), :class:`NoRecording`, for history off, and :class:`LaneRecording`, for
one of several sessions whose replies are siblings (a comparison)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message


class Recording(Protocol):
    """Where a session writes its history ahead (:class:`llmchat.store.recorder.Recorder`)."""

    conversation_id: str | None
    """The stored conversation written to (None: a new one is created at the first message)."""

    def open(self, conversation_id: str | None, provider: str, model: str, system: str | None) -> None:
        """Go on with stored conversation `conversation_id` (None: a new one, created with this
        provider, model and system prompt at its first message)."""

    def new_conversation(self) -> None:
        """The next message starts a new stored conversation."""

    def user(self, message: Message) -> None:
        """Store a complete message (user, tool, or a copied reply); set its id."""

    def begin_reply(self, provider: str, model: str) -> None:
        """Create the reply's row as its request is sent."""

    def heartbeat(self, accumulator: Accumulator) -> None:
        """Save the text the reply received since the last save (throttled by the recorder)."""

    def finish(self, message: Message, accumulator: Accumulator | None = None) -> None:
        """Make the reply final (the rest of its text from `accumulator`)."""

    def forget(self, messages: Iterable[Message]) -> None:
        """Delete stored messages that left the conversation."""

    def branch(self, parent: Message | None) -> None:
        """The next message stored goes after `parent` (None: it starts a new root), so it is
        a sibling of what followed `parent`; the old branch stays in the history."""

    def siblings(self, message: Message) -> list[str]:
        """The ids of the stored branches at `message` (its own id included), oldest first;
        empty when it is not stored."""

    def switch(self, message_id: str) -> list[Message] | None:
        """Make the path through stored message `message_id` (down to its newest leaf) the
        current one and return it, root first (None: nothing is stored)."""


class NoRecording:
    """A :class:`Recording` that stores nothing (history off)."""

    conversation_id: str | None = None

    def open(self, conversation_id: str | None, provider: str, model: str, system: str | None) -> None:
        """Nothing is stored."""
        self.conversation_id = conversation_id

    def new_conversation(self) -> None:
        """Nothing is stored."""
        self.conversation_id = None

    def user(self, message: Message) -> None:
        """Nothing is stored."""

    def begin_reply(self, provider: str, model: str) -> None:
        """Nothing is stored."""

    def heartbeat(self, accumulator: Accumulator) -> None:
        """Nothing is stored; the text is taken all the same, so an accumulator that keeps
        only what was not taken yet never grows."""
        accumulator.take_utf8()

    def finish(self, message: Message, accumulator: Accumulator | None = None) -> None:
        """Nothing is stored."""

    def forget(self, messages: Iterable[Message]) -> None:
        """Nothing is stored."""

    def branch(self, parent: Message | None) -> None:
        """Nothing is stored (the old branch is gone with the history off)."""

    def siblings(self, message: Message) -> list[str]:
        """Nothing is stored: no branches."""
        return []

    def switch(self, message_id: str) -> list[Message] | None:
        """Nothing is stored."""
        return None


class LaneRecording:
    """A :class:`Recording` for one of several sessions that answer the same question at once
    (:mod:`llmchat.chat.compare`): every message it stores goes after its own last one (first
    `after`, the question; then its replies and tool results), whatever the other sessions
    stored meanwhile, so their replies are siblings.

    The store puts a new message after the conversation's current leaf; the lanes share the
    conversation, so before each write the current leaf is set to this lane's last message
    (:meth:`Recording.branch`). Both happen with no await between them, so lanes cannot
    interleave there.

    Args:
        inner: the recorder that writes (e.g. a fresh ``llmchat.store.recorder.Recorder``).
        after: the message the first message stored goes after.
    """

    def __init__(self, inner: Recording, after: Message) -> None:
        self.inner = inner
        self._last = after

    @property
    def conversation_id(self) -> str | None:
        """The inner recorder's stored conversation."""
        return self.inner.conversation_id

    @conversation_id.setter
    def conversation_id(self, value: str | None) -> None:
        self.inner.conversation_id = value

    def open(self, conversation_id: str | None, provider: str, model: str, system: str | None) -> None:
        """As the inner recorder."""
        self.inner.open(conversation_id, provider, model, system)

    def new_conversation(self) -> None:
        """As the inner recorder."""
        self.inner.new_conversation()

    def user(self, message: Message) -> None:
        """Store `message` after this recorder's last message."""
        self.inner.branch(self._last)
        self.inner.user(message)
        self._last = message

    def begin_reply(self, provider: str, model: str) -> None:
        """Create the reply's row after this recorder's last message."""
        self.inner.branch(self._last)
        self.inner.begin_reply(provider, model)

    def heartbeat(self, accumulator: Accumulator) -> None:
        """As the inner recorder."""
        self.inner.heartbeat(accumulator)

    def finish(self, message: Message, accumulator: Accumulator | None = None) -> None:
        """Make the reply final; the next message goes after it."""
        self.inner.finish(message, accumulator)
        self._last = message

    def forget(self, messages: Iterable[Message]) -> None:
        """As the inner recorder."""
        self.inner.forget(messages)

    def branch(self, parent: Message | None) -> None:
        """As the inner recorder."""
        self.inner.branch(parent)

    def siblings(self, message: Message) -> list[str]:
        """As the inner recorder."""
        return self.inner.siblings(message)

    def switch(self, message_id: str) -> list[Message] | None:
        """As the inner recorder."""
        return self.inner.switch(message_id)
