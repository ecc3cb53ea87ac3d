"""The meter's figures as plain functions (llmchat.chat.meter): each figure present or absent,
both sides of the tokens-per-second conditions, the state a stored reply is shown in, the
conversation's cost with unknown prices, and the context bar's rounding and overflow."""

from __future__ import annotations

import pytest

from llmchat.chat.meter import ConversationCost, context_bar, conversation_cost, reply_line, stats_of, tokens_per_second
from llmchat.chat.models import Message
from llmchat.chat.pricing import Cost
from llmchat.providers.events import Usage


def reply(out: int = 100, ttft: float | None = 0.5, duration: float | None = 2.5, *, usage: bool = True,
          **kwargs: object) -> Message:
    return Message("assistant", "x", usage=Usage(10, out, 10 + out) if usage else None, ttft=ttft,
                   duration=duration, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("message", "rate"), [
    (reply(100, 0.5, 2.5), 50.0),  # 100 tokens over the 2 s after the first
    (reply(2, 0.0, 1.0), 2.0),  # two tokens: the fewest a rate is given for
    (reply(1, 0.0, 1.0), None),  # one token has no rate
    (reply(0, 0.0, 1.0), None),
    (reply(100, 1.0, 1.0), None),  # no time after the first token
    (reply(100, 1.5, 1.0), None),  # a clock that went backwards
    (reply(100, 1.0, 1.25), 400.0),  # a short span is still a span
    (reply(100, None, 2.0), None),
    (reply(100, 0.5, None), None),
    (reply(100, usage=False), None),
])
def test_tokens_per_second(message: Message, rate: float | None) -> None:
    assert tokens_per_second(message) == (pytest.approx(rate) if rate is not None else None)


def test_the_reply_line_leaves_out_each_unknown_figure() -> None:
    full = reply(300, 0.5, 3.5, model="gpt-4o")
    assert reply_line(full, Cost(0.5, 0.75)) == "gpt-4o · 10 in / 300 out · TTFT 0.50 s · 100 tok/s · 3.50 s · $1.25"
    assert reply_line(full) == "gpt-4o · 10 in / 300 out · TTFT 0.50 s · 100 tok/s · 3.50 s"
    assert reply_line(reply(300, 0.5, 3.5)) == "10 in / 300 out · TTFT 0.50 s · 100 tok/s · 3.50 s"
    assert reply_line(reply(300, None, 3.5, model="m")) == "m · 10 in / 300 out · 3.50 s"
    assert reply_line(reply(300, 0.5, None, model="m")) == "m · 10 in / 300 out · TTFT 0.50 s"
    assert reply_line(reply(300, usage=False, model="m")) == "m · TTFT 0.50 s · 2.50 s"
    assert reply_line(reply(1, 0.25, 1.0)) == "10 in / 1 out · TTFT 0.25 s · 1.00 s"  # no rate for one token
    assert reply_line(Message("assistant", "x")) == ""
    assert reply_line(Message("assistant", "x"), Cost(0.0, 0.0)) == "$0.000000"
    big = Message("assistant", "x", usage=Usage(1_234_567, 2_000, 0), ttft=0.004, duration=100.0,
                  model="m")
    assert reply_line(big, Cost(1000.0, 234.5)) == (
        "m · 1,234,567 in / 2,000 out · TTFT 0.00 s · 20 tok/s · 100.00 s · $1,234.50")
    fast = Message("assistant", "x", usage=Usage(1, 20_000, 0), ttft=0.0, duration=4.0)
    assert "5,000 tok/s" in reply_line(fast)


@pytest.mark.parametrize(("finish", "state"), [
    ("stop", "done"), ("length", "done"), ("tool_calls", "done"), ("content_filter", "done"), (None, "done"),
    ("cancelled", "cancelled"), ("error", "error"),
])
def test_a_stored_reply_is_shown_in_the_state_its_finish_reason_says(finish: str | None, state: str) -> None:
    stats = stats_of(reply(40, 0.2, 1.2, finish_reason=finish, error="boom" if finish == "error" else None))
    assert stats.state == state and stats.finish_reason == finish
    assert stats.error == ("boom" if finish == "error" else None)


def test_stats_of_a_stored_reply_with_and_without_usage() -> None:
    stats = stats_of(reply(40, 0.2, 1.2, finish_reason="stop"))
    assert (stats.usage, stats.ttft, stats.elapsed, stats.output_tokens, stats.estimated) == (
        Usage(10, 40, 50), 0.2, 1.2, 40, False)
    assert stats.tokens_per_second == pytest.approx(40.0)
    bare = stats_of(reply(usage=False, ttft=None, duration=None, finish_reason="length"))
    assert (bare.usage, bare.ttft, bare.elapsed, bare.output_tokens, bare.estimated, bare.tokens_per_second) == (
        None, None, None, 0, True, None)
    assert bare.retry is None


def test_the_conversation_cost_never_counts_an_unknown_price_as_zero() -> None:
    assert conversation_cost([]) == ConversationCost(0.0, 0, 0)
    assert conversation_cost([]).text() == "$0.000000"
    assert conversation_cost([None, None]) == ConversationCost(0.0, 0, 2)
    assert conversation_cost([None, None]).text() == "unknown"
    both = conversation_cost([Cost(0.01, 0.02), None, Cost(0.5, 0.0)])
    assert (both.total, both.priced, both.unpriced) == (pytest.approx(0.53), 2, 1)
    assert both.text() == "$0.5300 + 1 unpriced"
    assert conversation_cost([Cost(1.0, 0.25), Cost(0.0, 0.0)]).text() == "$1.25"
    assert ConversationCost(0.0123, 1, 0).text() == "$0.0123"
    assert ConversationCost(0.0123, 3, 2).text() == "$0.0123 + 2 unpriced"


@pytest.mark.parametrize(("used", "window", "kwargs", "bar"), [
    (0, 100, {"width": 4}, "0 / 100 (0%) ░░░░"),
    (12, 100, {"width": 4}, "12 / 100 (12%) ░░░░"),  # 0.48 of a cell: none
    (13, 100, {"width": 4}, "13 / 100 (13%) █░░░"),  # 0.52 of a cell: one
    (100, 100, {"width": 4}, "100 / 100 (100%) ████"),
    (101, 100, {"width": 4}, "101 / 100 (101%) ████"),
    (250, 100, {"width": 4, "sep": "\n"}, "250 / 100 (250%)\n████"),
    (32_000, 128_000, {}, "32,000 / 128,000 (25%) █████░░░░░░░░░░░░░░░"),  # 20 cells by default
    (12_345, None, {}, "12,345 / ?"),
    (12_345, 0, {}, "12,345 / ?"),  # an unknown window, not a division by zero
])
def test_the_context_bar(used: int, window: int | None, kwargs: dict[str, object], bar: str) -> None:
    assert context_bar(used, window, **kwargs) == bar  # type: ignore[arg-type]
