"""The figures of replies and of the conversation, as the session shows them: the quiet line
under each reply, the conversation's cost and how full its context window is.

Plain functions on :class:`~llmchat.chat.models.Message` and friends (no Textual), so the
TUI, ``serve`` and tests share them. Costs come from :mod:`llmchat.chat.pricing`, counts from
:mod:`llmchat.chat.counting`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmchat.chat.accumulator import ReplyStats
from llmchat.chat.pricing import Cost, format_usd
from llmchat.chat.models import Message

DRAFT_OVERHEAD = 4
"""Tokens a new user message adds besides its text (3 per message and the role, OpenAI's count)."""


def tokens_per_second(message: Message) -> float | None:
    """Output tokens over the time from the first token to the end, when both are known."""
    usage = message.usage
    if usage is None or message.ttft is None or message.duration is None:
        return None
    span = message.duration - message.ttft
    return usage.output_tokens / span if span > 0 and usage.output_tokens > 1 else None


def reply_line(message: Message, cost: Cost | None = None) -> str:
    """The quiet line under a finished reply: model, tokens in / out, TTFT, tokens/s,
    duration and cost, each only when known, e.g.
    ``gpt-4o · 1,200 in / 300 out · TTFT 0.42 s · 85 tok/s · 3.10 s · $0.001234``."""
    parts = [message.model] if message.model else []
    usage = message.usage
    if usage is not None:
        parts.append(f"{usage.input_tokens:,} in / {usage.output_tokens:,} out")
    if message.ttft is not None:
        parts.append(f"TTFT {message.ttft:.2f} s")
    rate = tokens_per_second(message)
    if rate is not None:
        parts.append(f"{rate:,.0f} tok/s")
    if message.duration is not None:
        parts.append(f"{message.duration:.2f} s")
    if cost is not None:
        parts.append(format_usd(cost.total))
    return " · ".join(parts)


def stats_of(message: Message) -> ReplyStats:
    """The sidebar's figures for a stored reply (opening a conversation shows its last one)."""
    usage = message.usage
    state = message.finish_reason if message.finish_reason in ("cancelled", "error") else "done"
    return ReplyStats(
        state=state,  # type: ignore[arg-type]
        finish_reason=message.finish_reason,
        usage=usage,
        ttft=message.ttft,
        elapsed=message.duration,
        output_tokens=usage.output_tokens if usage else 0,
        estimated=usage is None,
        tokens_per_second=tokens_per_second(message),
        error=message.error,
    )


@dataclass(frozen=True, slots=True)
class ConversationCost:
    """What a conversation's replies cost so far."""

    total: float
    """USD, summed over the replies whose cost is known."""
    priced: int
    """Replies with a known cost."""
    unpriced: int
    """Replies with usage but no known price (or no usage): not in :attr:`total`."""

    def text(self) -> str:
        """``$0.0123``, ``$0.0123 + 2 unpriced``, or ``unknown`` when no reply has a price."""
        if not self.priced:
            return "unknown" if self.unpriced else format_usd(0.0)
        extra = f" + {self.unpriced} unpriced" if self.unpriced else ""
        return format_usd(self.total) + extra


def conversation_cost(costs: Iterable[Cost | None]) -> ConversationCost:
    """Sum the replies' `costs` (None: unknown), keeping count of the unknown ones."""
    total, priced, unpriced = 0.0, 0, 0
    for cost in costs:
        if cost is None:
            unpriced += 1
        else:
            total += cost.total
            priced += 1
    return ConversationCost(total, priced, unpriced)


def context_bar(used: int, window: int | None, width: int = 20, sep: str = " ") -> str:
    """``12,345 / 128,000 (10%) ██░░░░░░``: the tokens used, the window and the share, then
    a bar of `width` cells after `sep`; without a window ``12,345 / ?``. Over the window the
    bar is full and the share says so (``112%``)."""
    if not window:
        return f"{used:,} / ?"
    share = used / window
    filled = min(width, round(share * width))
    return f"{used:,} / {window:,} ({share:.0%}){sep}{'█' * filled}{'░' * (width - filled)}"
