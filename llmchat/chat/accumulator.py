"""Folds stream events into an assistant :class:`Message`, with timings.

The TUI, `llmchat ask` and the store all use this one accumulator (shared/DESIGN.md).

The reply's text is kept compact, so a long reply costs about its size in UTF-8, not one
object per delta or four bytes per character: recent deltas are kept as they came, older ones
are sealed into UTF-8 blocks. A caller that has the text elsewhere keeps less (see
:data:`TextPolicy`): `llmchat ask` writing to a pipe keeps none of it, or only what the
history has not saved yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

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
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)

ReplyState = Literal["idle", "waiting", "retrying", "streaming", "done", "cancelled", "error"]

TextPolicy = Literal["keep", "until_taken", "drop"]
"""What an :class:`Accumulator` keeps of the content and reasoning text:

- ``"keep"``: all of it (the TUI, ``--json``);
- ``"until_taken"``: what :meth:`Accumulator.take_utf8` has not handed out yet (the text
  is written ahead into the history as it arrives, and kept nowhere else);
- ``"drop"``: none of it (the caller showed it and needs it no more: ``ask`` to a pipe
  without history).

Counts, usage, finish reason, tool calls, refusal, thinking blocks and timings are always kept.
"""


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
        text: what to keep of the content and reasoning text (see :data:`TextPolicy`).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, text: TextPolicy = "keep") -> None:
        self._clock = clock
        self._content = _Text(text)
        self._reasoning = _Text(text)
        self._refusal: list[str] = []
        self._tools: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.thinking_blocks: list[dict[str, Any]] = []
        """The provider's reasoning blocks to send back (ThinkingBlock events), in order;
        :meth:`message` gives them only to a reply with tool calls."""
        self.deltas = 0
        """Content, reasoning and tool-call deltas received."""
        self.usage: Usage | None = None
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None
        self.model: str | None = None
        """The model the server says answered (from the Finish event), or None."""
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
        elif isinstance(event, ThinkingBlock):  # its text came as ReasoningDelta events
            self.thinking_blocks.append(event.block)
            return
        elif isinstance(event, Retrying):
            self.retry, self._retry_at = event, self._clock()
            return
        elif isinstance(event, Finish):
            self.model = event.model or self.model
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
        """The answer text so far (with a :data:`TextPolicy` other than ``"keep"``: the part
        still kept)."""
        return self._content.text()

    @property
    def reasoning(self) -> str:
        """The reasoning text so far (with a :data:`TextPolicy` other than ``"keep"``: the part
        still kept)."""
        return self._reasoning.text()

    @property
    def content_length(self) -> int:
        """Characters of answer text received in all (kept or not)."""
        return self._content.length

    @property
    def reasoning_length(self) -> int:
        """Characters of reasoning text received in all (kept or not)."""
        return self._reasoning.length

    def take_utf8(self) -> tuple[list[bytes], list[bytes]]:
        """The content and reasoning that arrived since the last call (all of it the first
        time), as pieces of valid UTF-8 (the sealed blocks themselves: nothing is joined,
        decoded or copied), e.g. to save them. With the ``"until_taken"`` policy the
        accumulator forgets what it hands out; with ``"keep"`` it only remembers how far it
        was taken; with ``"drop"`` the lists are empty."""
        return self._content.take_utf8(), self._reasoning.take_utf8()

    def content_chunks(self) -> Iterator[str]:
        """The kept answer text in order, in pieces of up to about 64 K characters, so a
        caller can write a long reply out without joining it into one string."""
        return self._content.chunks()

    def reasoning_chunks(self) -> Iterator[str]:
        """The kept reasoning text in order, in pieces (see :meth:`content_chunks`)."""
        return self._reasoning.chunks()

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

    def message(self, *, text: bool = True) -> Message:
        """The assistant message as it stands (partial until the stream ended).

        Args:
            text: False leaves content and reasoning empty (a caller that reads them in
                pieces with :meth:`content_chunks`, so a long reply is never joined).
        """
        return Message(
            role="assistant",
            content=self.content if text else "",
            reasoning=self.reasoning if text else "",
            refusal="".join(self._refusal)
            or ("the model refused to answer" if self.raw_finish_reason == "refusal" else ""),
            tool_calls=self.tool_calls(),
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            usage=self.usage,
            error=self.error,
            model=self.model,
            ttft=self._since_start(self.first_token_at),
            duration=self._since_start(self.ended_at),
            # only a turn continued with tool results needs them back: a reply without
            # calls ends its turn, so its blocks (its reasoning text again) are not kept
            thinking_blocks=list(self.thinking_blocks) if self._tools else [],
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


class _Text:
    """One text of a reply (content or reasoning) as it arrives, kept compact.

    Recent pieces are kept as they came; every :data:`SEAL_PIECES` pieces or
    :data:`SEAL_CHARS` characters, and at every :meth:`take_utf8`, they are joined and sealed
    into one UTF-8 block (a str costs up to four bytes per character once one emoji is in it,
    UTF-8 about one for most text, and one object per block instead of one per delta).
    A lone surrogate (a provider that split a surrogate pair across two escapes) survives in
    memory (``surrogatepass``) and becomes "?" in the UTF-8 handed out, which must be valid.
    """

    __slots__ = ("_blocks", "_pending", "_pieces", "_policy", "_taken", "length")

    SEAL_PIECES = 512
    SEAL_CHARS = 1 << 16

    def __init__(self, policy: TextPolicy) -> None:
        self._policy = policy
        self._blocks: list[tuple[bytes, int, bool]] = []  # (UTF-8, characters, valid UTF-8)
        self._pieces: list[str] = []  # not sealed yet
        self._pending = 0  # characters in _pieces
        self._taken = 0  # characters handed out by take_utf8() (always at a block boundary)
        self.length = 0
        """Characters received in all."""

    def append(self, text: str) -> None:
        self.length += len(text)
        if self._policy == "drop":
            self._taken = self.length
            return
        self._pieces.append(text)
        self._pending += len(text)
        if len(self._pieces) >= self.SEAL_PIECES or self._pending >= self.SEAL_CHARS:
            self._seal()

    def _seal(self) -> None:
        if self._pieces:
            joined = "".join(self._pieces)
            try:
                self._blocks.append((joined.encode(), len(joined), True))
            except UnicodeEncodeError:
                self._blocks.append((joined.encode("utf-8", "surrogatepass"), len(joined), False))
            self._pieces.clear()
            self._pending = 0

    def chunks(self) -> Iterator[str]:
        for block, _, _ in list(self._blocks):
            yield block.decode("utf-8", "surrogatepass")
        if self._pieces:
            yield "".join(self._pieces)

    def text(self) -> str:
        if not self._blocks:
            return "".join(self._pieces)
        head = b"".join(block for block, _, _ in self._blocks).decode("utf-8", "surrogatepass")
        return head + "".join(self._pieces) if self._pieces else head

    def take_utf8(self) -> list[bytes]:
        """The blocks after the last take, as valid UTF-8 (shared, not copied), and move the
        mark to the end; the ``"until_taken"`` policy forgets them."""
        self._seal()
        taken: list[bytes] = []
        offset = self.length
        for block, chars, valid in reversed(self._blocks):
            if offset <= self._taken:
                break
            offset -= chars
            taken.append(block if valid else block.decode("utf-8", "surrogatepass").encode("utf-8", "replace"))
        taken.reverse()
        self._taken = self.length
        if self._policy == "until_taken":
            self._blocks.clear()
        return taken
