"""SpyRecorder: a Recording that writes nothing and keeps a log of the calls it was given, and
stored branches the test sets up (for the session's branching and the lanes of a comparison)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message


class SpyRecorder:
    """A :class:`llmchat.chat.recording.Recording` that logs ``(method, argument...)`` tuples.

    `sibling_ids` maps a message id to the ids of its stored branches (what :meth:`siblings`
    answers); `paths` maps a message id to the path :meth:`switch` returns for it.
    """

    def __init__(self) -> None:
        self.conversation_id: str | None = None
        self.calls: list[tuple[Any, ...]] = []
        self.sibling_ids: dict[str, list[str]] = {}
        self.paths: dict[str, list[Message]] = {}

    def open(self, conversation_id: str | None, provider: str, model: str, system: str | None) -> None:
        self.calls.append(("open", conversation_id, provider, model, system))
        self.conversation_id = conversation_id

    def new_conversation(self) -> None:
        self.calls.append(("new_conversation",))

    def user(self, message: Message) -> None:
        self.calls.append(("user", message))

    def begin_reply(self, provider: str, model: str) -> None:
        self.calls.append(("begin_reply", provider, model))

    def heartbeat(self, accumulator: Accumulator) -> None:
        self.calls.append(("heartbeat", accumulator))

    def finish(self, message: Message, accumulator: Accumulator | None = None) -> None:
        self.calls.append(("finish", message, accumulator))

    def forget(self, messages: Iterable[Message]) -> None:
        self.calls.append(("forget", list(messages)))

    def branch(self, parent: Message | None) -> None:
        self.calls.append(("branch", parent))

    def siblings(self, message: Message) -> list[str]:
        self.calls.append(("siblings", message))
        return list(self.sibling_ids.get(message.id or "", []))

    def switch(self, message_id: str) -> list[Message] | None:
        self.calls.append(("switch", message_id))
        return self.paths.get(message_id)

    def names(self) -> list[str]:
        """The methods called, in order."""
        return [call[0] for call in self.calls]
