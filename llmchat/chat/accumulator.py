"""Folds stream events into an assistant :class:`Message`, with timings.

The TUI, `llmchat ask` and the store all use this one accumulator (shared/DESIGN.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from llmchat.chat.models import Message, ToolCall
from llmchat.providers.errors import ProviderError, StreamInterrupted
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    StreamEvent,
    ToolCallDelta,
    Usage,
)

ReplyState = Literal["idle", "waiting", "retrying", "streaming", "done", "cancelled", "error"]


@dataclass(frozen=True, slots=True)
class ReplyStats:
    """A snapshot of one reply's progress, for display.

    Times are seconds. `output_tokens` is the provider's count when it reported usage,
    otherwise the number of deltas received (`estimated` is then True).
    """

    state: ReplyState
    finish_reason: FinishReason | None
    usage: Usage | None
    ttft: float | None
    elapsed: float | None
    output_tokens: int
    estimated: bool
    tokens_per_second: float | None
    error: str | None
    retry: Retrying | None = None
    """The last retry announced, while its wait runs (state "retrying")."""


class Accumulator:
    """Collects the events of one reply.

    Call :meth:`start` when the request is sent, :meth:`add` for every event, and
    :meth:`cancel` or :meth:`fail` when the stream ends early. :meth:`message` builds the
    assistant message at any point (partial while streaming).

    Args:
        clock: a monotonic clock in seconds (tests pass a fake).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._tools: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.deltas = 0
        """Content, reasoning and tool-call deltas received."""
        self.usage: Usage | None = None
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.retry: Retrying | None = None
        """The last Retrying event (the request failed before any token and is sent again)."""
        self._retry_at = 0.0

    # -- feeding -------------------------------------------------------------------------

    def start(self) -> None:
        """Mark the moment the request is sent (the origin of TTFT and elapsed time)."""
        self.started_at = self._clock()

    def add(self, event: StreamEvent) -> None:
        """Fold one stream event in."""
        if isinstance(event, ContentDelta):
            self._content.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolCallDelta):
            parts = self._tools.setdefault(event.index, ["", ""])
            if event.id:
                parts[0] = event.id
            if event.name:
                parts[1] = event.name
            parts.append(event.arguments_fragment)
        elif isinstance(event, RefusalDelta):
            self._refusal.append(event.text)
        elif isinstance(event, Usage):
            self.usage = event
            return
        elif isinstance(event, Retrying):
            self.retry, self._retry_at = event, self._clock()
            return
        elif isinstance(event, Finish):
            self._end(event.reason, event.raw)
            return
        self.deltas += 1
        if self.first_token_at is None:
            self.first_token_at = self._clock()

    def cancel(self) -> None:
        """The user stopped the stream: keep what arrived, finish reason "cancelled"."""
        if self.ended_at is None:
            self._end("cancelled", None)

    def fail(self, error: BaseException) -> None:
        """The stream failed: keep what arrived, finish reason "error" with the message."""
        if self.ended_at is not None:
            return
        if isinstance(error, ProviderError):
            self.error = error.describe()
            if isinstance(error, StreamInterrupted):
                self.error = f"interrupted: {self.error}"
        else:
            self.error = f"{type(error).__name__}: {error}"
        self._end("error", None)

    def _end(self, reason: FinishReason, raw: str | None) -> None:
        self.finish_reason = reason
        self.raw_finish_reason = raw
        self.ended_at = self._clock()

    # -- reading -------------------------------------------------------------------------

    @property
    def content(self) -> str:
        """The answer text so far."""
        if len(self._content) > 1:
            self._content = ["".join(self._content)]
        return self._content[0] if self._content else ""

    @property
    def reasoning(self) -> str:
        """The reasoning text so far."""
        if len(self._reasoning) > 1:
            self._reasoning = ["".join(self._reasoning)]
        return self._reasoning[0] if self._reasoning else ""

    def text_since(self, content_chars: int, reasoning_chars: int) -> tuple[str, str]:
        """The content and reasoning after the first `content_chars` / `reasoning_chars`
        characters (what arrived since a save), without joining the whole text."""
        return _tail(self._content, content_chars), _tail(self._reasoning, reasoning_chars)

    @property
    def state(self) -> ReplyState:
        """Where the reply is: waiting, streaming, done, cancelled or error (idle before start)."""
        if self.started_at is None:
            return "idle"
        if self.finish_reason is None:
            if self.first_token_at is not None:
                return "streaming"
            if self.retry and self._clock() < self._retry_at + self.retry.delay:
                return "retrying"
            return "waiting"
        if self.finish_reason in ("cancelled", "error"):
            return self.finish_reason
        return "done"

    def tool_calls(self) -> list[ToolCall]:
        """The tool calls so far, by index, with their argument fragments joined."""
        return [
            ToolCall(id=p[0], name=p[1], arguments="".join(p[2:]))
            for _, p in sorted(self._tools.items())
        ]

    def message(self) -> Message:
        """The assistant message as it stands (partial until the stream ended)."""
        return Message(
            role="assistant",
            content=self.content,
            reasoning=self.reasoning,
            refusal="".join(self._refusal)
            or ("the model refused to answer" if self.raw_finish_reason == "refusal" else ""),
            tool_calls=self.tool_calls(),
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            usage=self.usage,
            error=self.error,
            ttft=self._since_start(self.first_token_at),
            duration=self._since_start(self.ended_at),
        )

    def stats(self) -> ReplyStats:
        """A display snapshot; elapsed time runs on the clock until the stream ends."""
        now = self.ended_at if self.ended_at is not None else self._clock()
        estimated = self.usage is None
        output = self.deltas if self.usage is None else self.usage.output_tokens
        rate = None
        if self.first_token_at is not None:
            span = now - self.first_token_at
            if span > 0 and output > 1:
                rate = output / span
        return ReplyStats(
            state=self.state,
            finish_reason=self.finish_reason,
            usage=self.usage,
            ttft=self._since_start(self.first_token_at),
            elapsed=None if self.started_at is None else now - self.started_at,
            output_tokens=output,
            estimated=estimated,
            tokens_per_second=rate,
            error=self.error,
            retry=self.retry if self.state == "retrying" else None,
        )

    def _since_start(self, moment: float | None) -> float | None:
        if moment is None or self.started_at is None:
            return None
        return moment - self.started_at


def _tail(parts: list[str], skip: int) -> str:
    """The text of `parts` after its first `skip` characters, reading from the end."""
    tail: list[str] = []
    remaining = sum(map(len, parts)) - skip
    for part in reversed(parts):
        if remaining <= 0:
            break
        tail.append(part[-remaining:] if len(part) > remaining else part)
        remaining -= len(part)
    return "".join(reversed(tail))
