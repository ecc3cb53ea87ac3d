"""Plain data for conversations: :class:`Message` and :class:`Conversation`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from llmchat.providers.base import ChatRequest
from llmchat.providers.events import FinishReason, Usage

Role = Literal["user", "assistant", "tool"]


@dataclass(slots=True)
class ToolCall:
    """A complete tool call: `arguments` is the JSON text the model produced (maybe invalid)."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Message:
    """One message of a conversation. Assistant messages carry how their reply went."""

    role: Role
    content: str = ""
    reasoning: str = ""
    """The model's reasoning ("thinking") text, never sent back to the model."""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    """Normalized finish reason; None for user messages and replies still streaming."""
    raw_finish_reason: str | None = None
    """The provider's own finish reason value (e.g. "end_turn")."""
    usage: Usage | None = None
    error: str | None = None
    """Why the reply failed (the provider's message), when finish_reason is "error"."""
    ttft: float | None = None
    """Time to first token, seconds from sending the request."""
    duration: float | None = None
    """Seconds from sending the request to the end of the stream."""
    tool_call_id: str | None = None
    """For a "tool" message: the id of the tool call it answers."""
    id: str | None = None
    """The store's id for this message; None until it is saved (llmchat.store)."""
    provider: str | None = None
    """The provider (or profile) that wrote this reply, when known."""
    model: str | None = None
    """The model that wrote this reply, when known."""
    created_at: datetime | None = None
    """When the message was stored (UTC); None until it is saved."""

    def to_wire(self) -> dict[str, Any]:
        """This message in Chat Completions shape (``{"role": ..., "content": ...}``)."""
        return {"role": self.role, "content": self.content}


@dataclass(slots=True)
class Conversation:
    """A conversation: a system prompt and its messages, oldest first."""

    system: str | None = None
    messages: list[Message] = field(default_factory=list)

    def wire_messages(self) -> list[dict[str, Any]]:
        """Every message to send with the next request.

        Partial replies (cancelled, interrupted) are sent as they stand; assistant replies
        with no text at all are left out, because providers reject empty assistant turns.
        """
        return [
            m.to_wire() for m in self.messages if m.role != "assistant" or m.content.strip()
        ]

    def request(self, model: str, **options: Any) -> ChatRequest:
        """The :class:`ChatRequest` for the next reply to this conversation."""
        return ChatRequest(
            model=model, messages=self.wire_messages(), system=self.system, options=options
        )
