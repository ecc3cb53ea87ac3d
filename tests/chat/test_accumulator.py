"""The Accumulator folds stream events into a message, with timings from a fake clock."""

from __future__ import annotations

import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import ToolCall
from llmchat.providers.errors import AuthenticationError, StreamInterrupted
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acc(clock: FakeClock) -> Accumulator:
    return Accumulator(clock=clock)


def test_text_parts_are_joined_in_order(acc: Accumulator) -> None:
    acc.start()
    for event in (
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        ContentDelta("Hel"),
        ContentDelta("lo, "),
        RefusalDelta("I can't "),
        ContentDelta("world"),
        RefusalDelta("do that."),
        Finish("stop", "stop"),
    ):
        acc.add(event)

    message = acc.message()
    assert acc.content == "Hello, world"
    assert message.role == "assistant"
    assert message.content == "Hello, world"
    assert message.reasoning == "Let me think."
    assert message.refusal == "I can't do that."
    assert message.finish_reason == "stop"
    assert message.raw_finish_reason == "stop"
    assert acc.deltas == 7


def test_content_reads_the_same_while_streaming(acc: Accumulator) -> None:
    acc.start()
    acc.add(ContentDelta("a"))
    acc.add(ContentDelta("b"))
    assert acc.content == "ab"
    acc.add(ContentDelta("c"))
    assert acc.content == "abc"
    assert acc.content == "abc"  # reading twice does not change it


def test_empty_accumulator_has_empty_message(acc: Accumulator) -> None:
    message = acc.message()
    assert message.content == ""
    assert message.tool_calls == []
    assert message.finish_reason is None
    assert message.ttft is None
    assert message.duration is None


def test_interleaved_tool_call_fragments_are_joined_by_index(acc: Accumulator) -> None:
    acc.start()
    for event in (
        ToolCallDelta(1, "call_b", "get_time", ""),
        ToolCallDelta(0, "call_a", "get_weather", '{"ci'),
        ToolCallDelta(1, None, None, '{"tz":'),
        ToolCallDelta(0, None, None, 'ty": "Par'),
        ToolCallDelta(1, None, None, ' "UTC"}'),
        ToolCallDelta(0, None, None, 'is"}'),
        Finish("tool_calls", "tool_calls"),
    ):
        acc.add(event)

    assert acc.tool_calls() == [
        ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_b", name="get_time", arguments='{"tz": "UTC"}'),
    ]
    message = acc.message()
    assert message.tool_calls == acc.tool_calls()
    assert message.finish_reason == "tool_calls"
    assert message.content == ""


def test_usage_and_finish_are_recorded_but_not_counted_as_deltas(
    acc: Accumulator, clock: FakeClock
) -> None:
    usage = Usage(input_tokens=12, output_tokens=34, total_tokens=46, cached_tokens=2)
    acc.start()
    acc.add(ContentDelta("x"))
    acc.add(usage)
    clock.advance(1.0)
    acc.add(Finish("length", "max_tokens"))

    assert acc.deltas == 1
    assert acc.usage == usage
    assert acc.finish_reason == "length"
    assert acc.raw_finish_reason == "max_tokens"
    message = acc.message()
    assert message.usage == usage
    assert message.finish_reason == "length"
    assert message.raw_finish_reason == "max_tokens"
    assert message.duration == pytest.approx(1.0)


def test_ttft_is_first_delta_time_minus_start(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    clock.advance(0.75)
    assert acc.stats().ttft is None
    acc.add(ContentDelta("first"))
    clock.advance(2.0)
    acc.add(ContentDelta(" second"))
    clock.advance(0.25)
    acc.add(Finish("stop"))

    stats = acc.stats()
    assert stats.ttft == pytest.approx(0.75)
    assert stats.elapsed == pytest.approx(3.0)
    message = acc.message()
    assert message.ttft == pytest.approx(0.75)
    assert message.duration == pytest.approx(3.0)


def test_usage_arriving_first_does_not_set_ttft(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    clock.advance(1.0)
    acc.add(Usage(1, 0, 1))
    assert acc.first_token_at is None
    clock.advance(1.0)
    acc.add(ContentDelta("x"))
    assert acc.stats().ttft == pytest.approx(2.0)


def test_tokens_per_second_uses_reported_usage(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    clock.advance(0.5)
    acc.add(ContentDelta("a"))  # first token at t=0.5
    clock.advance(1.0)
    acc.add(ContentDelta("b"))
    clock.advance(1.0)
    acc.add(Usage(input_tokens=10, output_tokens=100, total_tokens=110))
    acc.add(Finish("stop"))  # ends at t=2.5: 2.0 s after the first token

    stats = acc.stats()
    assert stats.output_tokens == 100
    assert stats.estimated is False
    assert stats.tokens_per_second == pytest.approx(100 / 2.0)
    assert stats.usage is not None and stats.usage.total_tokens == 110


def test_tokens_per_second_estimates_from_deltas_without_usage(
    acc: Accumulator, clock: FakeClock
) -> None:
    acc.start()
    clock.advance(0.5)
    for _ in range(5):
        acc.add(ContentDelta("w"))
        clock.advance(0.5)
    acc.add(Finish("stop"))  # 2.5 s after the first delta

    stats = acc.stats()
    assert stats.output_tokens == 5
    assert stats.estimated is True
    assert stats.usage is None
    assert stats.tokens_per_second == pytest.approx(5 / 2.5)


def test_elapsed_runs_on_the_clock_until_the_end(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    clock.advance(1.0)
    acc.add(ContentDelta("a"))
    clock.advance(1.0)
    assert acc.stats().elapsed == pytest.approx(2.0)
    clock.advance(1.0)
    assert acc.stats().elapsed == pytest.approx(3.0)
    acc.add(Finish("stop"))
    clock.advance(10.0)
    assert acc.stats().elapsed == pytest.approx(3.0)


def test_no_rate_with_a_single_token(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    acc.add(ContentDelta("only"))
    clock.advance(1.0)
    acc.add(Finish("stop"))
    assert acc.stats().tokens_per_second is None


def test_cancel_after_finish_does_not_override(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    acc.add(ContentDelta("done"))
    clock.advance(1.0)
    acc.add(Finish("stop", "stop"))
    clock.advance(5.0)
    acc.cancel()
    acc.fail(StreamInterrupted("late", provider="fake"))

    assert acc.finish_reason == "stop"
    assert acc.state == "done"
    assert acc.error is None
    assert acc.message().duration == pytest.approx(1.0)


def test_cancel_keeps_the_partial_reply(acc: Accumulator, clock: FakeClock) -> None:
    acc.start()
    acc.add(ContentDelta("partial"))
    clock.advance(1.0)
    acc.cancel()
    acc.add(ContentDelta(" more"))  # a late event does not reopen the reply

    message = acc.message()
    assert message.finish_reason == "cancelled"
    assert message.content.startswith("partial")
    assert acc.state == "cancelled"
    assert message.duration == pytest.approx(1.0)
    acc.cancel()
    assert acc.finish_reason == "cancelled"


def test_fail_with_stream_interrupted(acc: Accumulator) -> None:
    acc.start()
    acc.add(ContentDelta("half an ans"))
    acc.fail(StreamInterrupted("the connection was lost", provider="fake"))

    message = acc.message()
    assert message.finish_reason == "error"
    assert message.content == "half an ans"
    assert message.error is not None
    assert "interrupted" in message.error
    assert "the connection was lost" in message.error
    assert acc.state == "error"
    assert acc.stats().error == message.error


def test_fail_with_provider_error_uses_its_description(acc: Accumulator) -> None:
    acc.start()
    acc.fail(AuthenticationError("bad key", status=401, provider="fake"))
    assert acc.finish_reason == "error"
    assert acc.error == "fake: HTTP 401: bad key (check the API key for this provider)"
    assert "interrupted" not in acc.error


def test_fail_with_other_exception_names_its_type(acc: Accumulator) -> None:
    acc.start()
    acc.fail(RuntimeError("boom"))
    assert acc.error == "RuntimeError: boom"
    assert acc.finish_reason == "error"


def test_fail_after_cancel_does_not_override(acc: Accumulator) -> None:
    acc.start()
    acc.cancel()
    acc.fail(RuntimeError("boom"))
    assert acc.finish_reason == "cancelled"
    assert acc.error is None


@pytest.mark.parametrize(
    ("ending", "final"),
    [
        ("finish", "done"),
        ("cancel", "cancelled"),
        ("fail", "error"),
    ],
)
def test_state_transitions(acc: Accumulator, ending: str, final: str) -> None:
    assert acc.state == "idle"
    assert acc.stats().state == "idle"
    assert acc.stats().elapsed is None
    acc.start()
    assert acc.state == "waiting"
    acc.add(Usage(1, 0, 1))  # not a token: still waiting
    assert acc.state == "waiting"
    acc.add(ContentDelta("a"))
    assert acc.state == "streaming"
    assert acc.stats().state == "streaming"
    if ending == "finish":
        acc.add(Finish("stop"))
    elif ending == "cancel":
        acc.cancel()
    else:
        acc.fail(StreamInterrupted("gone", provider="fake"))
    assert acc.state == final
    assert acc.stats().state == final


def test_finish_without_tokens_goes_from_waiting_to_done(acc: Accumulator) -> None:
    acc.start()
    assert acc.state == "waiting"
    acc.add(Finish("content_filter", "content_filter"))
    assert acc.state == "done"
    assert acc.finish_reason == "content_filter"


def test_cancel_while_waiting(acc: Accumulator) -> None:
    acc.start()
    acc.cancel()
    assert acc.state == "cancelled"
    assert acc.message().ttft is None
    assert acc.message().content == ""


def test_a_refusal_stop_reason_without_text_still_reports_a_refusal() -> None:
    from llmchat.providers.events import Finish

    accumulator = Accumulator()
    accumulator.start()
    accumulator.add(Finish("content_filter", "refusal"))  # Anthropic sends no refusal text
    assert accumulator.message().refusal == "the model refused to answer"
    other = Accumulator()
    other.add(Finish("content_filter", "content_filter"))
    assert other.message().refusal == ""


def test_retrying_is_a_state_while_its_wait_runs_and_not_a_token() -> None:
    from llmchat.providers.events import ContentDelta, Retrying

    now = [0.0]
    accumulator = Accumulator(clock=lambda: now[0])
    accumulator.start()
    accumulator.add(Retrying(1, 2.0, "openai: HTTP 429: slow down"))
    assert accumulator.state == "retrying" and accumulator.deltas == 0
    assert accumulator.stats().retry == Retrying(1, 2.0, "openai: HTTP 429: slow down")
    now[0] = 2.5
    assert accumulator.state == "waiting" and accumulator.stats().retry is None
    accumulator.add(ContentDelta("hi"))
    assert accumulator.state == "streaming" and accumulator.message().ttft == 2.5


SIGNED = {"type": "thinking", "thinking": "Call it.", "signature": "EuYBCkQ"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}


@pytest.mark.parametrize("policy", ["keep", "until_taken", "drop"])
def test_thinking_blocks_are_kept_in_order_for_a_reply_with_tool_calls(
    clock: FakeClock, policy: str
) -> None:
    acc = Accumulator(clock=clock, text=policy)  # type: ignore[arg-type]
    acc.start()
    clock.advance(1.0)
    acc.add(ThinkingBlock(REDACTED))  # nothing to show: neither a token nor a delta
    assert (acc.first_token_at, acc.deltas) == (None, 0)
    acc.add(ReasoningDelta("Call it."))
    acc.add(ThinkingBlock(SIGNED))
    acc.add(ToolCallDelta(0, "toolu_1", "weather", "{}"))
    acc.add(Finish("tool_calls", "tool_use"))
    message = acc.message(text=False)
    assert message.thinking_blocks == [REDACTED, SIGNED]  # whatever the text policy
    assert acc.deltas == 2 and message.ttft == 1.0
    assert message.to_wire()["thinking_blocks"] == [REDACTED, SIGNED]


def test_a_reply_without_tool_calls_ends_its_turn_and_keeps_no_blocks(acc: Accumulator) -> None:
    acc.start()
    for event in (ReasoningDelta("Call it."), ThinkingBlock(SIGNED), ContentDelta("Hi"), Finish("stop")):
        acc.add(event)
    message = acc.message()
    assert message.reasoning == "Call it." and message.thinking_blocks == []
    assert message.to_wire() == {"role": "assistant", "content": "Hi"}
