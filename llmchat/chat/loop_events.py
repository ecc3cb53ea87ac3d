"""The events of a turn's tool loop (:meth:`llmchat.chat.toolloop.ToolLoop.events`) and what a
finished loop produced (:class:`LoopOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmchat.chat.models import Message, ToolCall
from llmchat.chat.tools import Tool, ToolOutput
from llmchat.providers.base import ChatRequest
from llmchat.providers.events import FinishReason, StreamEvent, Usage


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """A request is about to be sent; `round` counts requests from 1."""

    round: int
    request: ChatRequest


@dataclass(frozen=True, slots=True)
class ReplyFinished:
    """The round's reply streamed to its end; `message` is already in the conversation."""

    round: int
    message: Message


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A call of the reply is about to be handled (approval is asked after this event)."""

    round: int
    index: int
    """The call's position among the reply's calls."""
    call: ToolCall
    tool: Tool | None
    """None when the model named a tool that does not exist."""
    arguments: dict[str, Any] | None
    """The parsed arguments; None when they are not a JSON object."""
    needs_approval: bool
    """True when `approve` is about to be asked (a tool that is not read-only, or a
    read-only call that touches a secret location)."""
    reason: str | None = None
    """Why approval is needed (:meth:`Tool.approval_reason`), when it is."""
    refused: bool = False
    """The call is answered "not run" at once: past the reply's tool limits (ToolLimits)."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A call ended; `message` (the ``tool`` message) is already in the conversation."""

    round: int
    index: int
    call: ToolCall
    output: ToolOutput
    message: Message


@dataclass(frozen=True, slots=True)
class RoundLimitReached:
    """The reply asked for tools in the last allowed round: they were not run."""

    max_rounds: int


@dataclass(frozen=True, slots=True)
class LoopOutcome:
    """What one run of the loop produced."""

    messages: tuple[Message, ...]
    """The messages the loop added to the conversation, in order."""
    rounds: int
    """Requests sent."""
    usage: Usage | None
    """Usage summed over the rounds; None when no round reported any."""
    finish_reason: FinishReason | None
    """The last reply's finish reason; "cancelled" when the loop was cancelled."""
    round_limit_reached: bool

    @property
    def replies(self) -> list[Message]:
        """The assistant messages, one per round."""
        return [m for m in self.messages if m.role == "assistant"]

    @property
    def content(self) -> str:
        """The text of every round, in order, joined by a blank line."""
        return "\n\n".join(m.content for m in self.replies if m.content.strip())

    @property
    def reasoning(self) -> str:
        """The reasoning of every round, joined by a blank line."""
        return "\n\n".join(m.reasoning for m in self.replies if m.reasoning.strip())

    @property
    def refusal(self) -> str:
        """Any refusal, joined by a blank line."""
        return "\n\n".join(m.refusal for m in self.replies if m.refusal)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Every tool call of every round, in order."""
        return [call for m in self.replies for call in m.tool_calls]

    @property
    def error(self) -> str | None:
        """The last reply's error (the provider's message), if it failed."""
        replies = self.replies
        return replies[-1].error if replies else None


@dataclass(frozen=True, slots=True)
class LoopFinished:
    """The last event of a loop that ended normally (not cancelled, no provider error)."""

    outcome: LoopOutcome


LoopEvent = (
    StreamEvent
    | RoundStarted
    | ReplyFinished
    | ToolCallStarted
    | ToolResult
    | RoundLimitReached
    | LoopFinished
)
"""Everything :meth:`ToolLoop.events` yields."""
