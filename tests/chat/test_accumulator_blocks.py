"""The Accumulator's compact text on both sides of its sealing thresholds (512 pieces, 64 Ki
characters), with each text policy, lone surrogates, and the figures it derives (tokens/s, the
refusal, thinking blocks). Everything read back must equal what was fed, however it was stored."""

from __future__ import annotations

import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)

PIECES = 512
CHARS = 1 << 16


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def joined(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8")


@pytest.mark.parametrize("count", [PIECES - 1, PIECES, PIECES + 1, 3 * PIECES + 7])
def test_content_reads_back_whole_on_either_side_of_the_piece_threshold(count: int) -> None:
    acc = Accumulator(Clock())
    pieces = [f"p{n}é " for n in range(count)]
    for piece in pieces:
        acc.add(ContentDelta(piece))
        acc.add(ReasoningDelta(piece.upper()))
    text = "".join(pieces)
    assert acc.content == text and acc.reasoning == text.upper()
    assert "".join(acc.content_chunks()) == text and "".join(acc.reasoning_chunks()) == text.upper()
    assert acc.content_length == len(text) and acc.reasoning_length == len(text)
    assert acc.message().content == text
    content, reasoning = acc.take_utf8()
    assert joined(content) == text and joined(reasoning) == text.upper()
    assert acc.take_utf8() == ([], [])  # nothing new since


@pytest.mark.parametrize("size", [CHARS - 1, CHARS, CHARS + 1])
def test_content_reads_back_whole_on_either_side_of_the_character_threshold(size: int) -> None:
    acc = Accumulator(Clock())
    acc.add(ContentDelta("a" * size))
    acc.add(ContentDelta("🎉 end"))
    assert acc.content == "a" * size + "🎉 end"
    assert "".join(acc.content_chunks()) == acc.content
    assert joined(acc.take_utf8()[0]) == acc.content


def test_chunks_are_blocks_of_bounded_size_in_order() -> None:
    acc = Accumulator(Clock())
    for n in range(3 * PIECES):
        acc.add(ContentDelta(f"{n:05d} "))
    chunks = list(acc.content_chunks())
    assert len(chunks) >= 3 and "".join(chunks) == "".join(f"{n:05d} " for n in range(3 * PIECES))
    assert all(len(c) <= CHARS for c in chunks)


def test_take_utf8_hands_out_only_what_arrived_since_the_last_take() -> None:
    for policy in ("keep", "until_taken"):
        acc = Accumulator(Clock(), text=policy)  # type: ignore[arg-type]
        acc.add(ContentDelta("one "))
        assert joined(acc.take_utf8()[0]) == "one "
        for n in range(PIECES + 3):  # seals in between
            acc.add(ContentDelta("x"))
        assert joined(acc.take_utf8()[0]) == "x" * (PIECES + 3)
        acc.add(ContentDelta("tail"))
        assert joined(acc.take_utf8()[0]) == "tail"
        kept = "one " + "x" * (PIECES + 3) + "tail"
        assert acc.content == (kept if policy == "keep" else "")  # until_taken forgot it
        assert acc.content_length == len(kept)


def test_the_drop_policy_keeps_nothing_but_counts() -> None:
    acc = Accumulator(Clock(), text="drop")
    for _ in range(PIECES + 1):
        acc.add(ContentDelta("zz"))
    assert acc.content == "" and acc.content_length == 2 * (PIECES + 1)
    assert acc.take_utf8() == ([], []) and list(acc.content_chunks()) == []


def test_a_lone_surrogate_stays_in_memory_and_is_valid_utf8_when_handed_out() -> None:
    acc = Accumulator(Clock())
    acc.add(ContentDelta("a\ud83d"))  # half of a surrogate pair, as a JSON escape can give
    for _ in range(PIECES):
        acc.add(ContentDelta("b"))  # sealed with it
    assert acc.content == "a\ud83d" + "b" * PIECES
    assert "".join(acc.content_chunks()) == acc.content
    assert joined(acc.take_utf8()[0]) == "a?" + "b" * PIECES


def test_tokens_per_second_needs_two_tokens_and_time() -> None:
    clock = Clock()
    acc = Accumulator(clock)
    acc.start()
    clock.now += 0.5
    acc.add(ContentDelta("a"))
    assert acc.stats().tokens_per_second is None  # one token: no rate
    clock.now += 1.0
    acc.add(ContentDelta("b"))
    acc.add(ContentDelta("c"))
    stats = acc.stats()
    assert stats.tokens_per_second == pytest.approx(3.0) and stats.estimated and stats.output_tokens == 3
    assert stats.ttft == pytest.approx(0.5) and stats.elapsed == pytest.approx(1.5)
    acc.add(Usage(5, 10, 15))
    clock.now += 1.0
    acc.add(Finish("stop", "stop"))
    stats = acc.stats()
    assert (stats.output_tokens, stats.estimated) == (10, False)
    assert stats.tokens_per_second == pytest.approx(10 / 2.0) and stats.elapsed == pytest.approx(2.5)
    clock.now += 5.0
    assert acc.stats().elapsed == pytest.approx(2.5)  # stopped with the stream


def test_no_time_since_the_first_token_gives_no_rate() -> None:
    acc = Accumulator(Clock())
    acc.start()
    acc.add(ContentDelta("a"))
    acc.add(ContentDelta("b"))
    assert acc.stats().tokens_per_second is None


def test_refusal_and_thinking_blocks_in_the_message() -> None:
    acc = Accumulator(Clock())
    acc.add(RefusalDelta("I can't "))
    acc.add(RefusalDelta("do that."))
    acc.add(Finish("content_filter", "refusal"))
    assert acc.message().refusal == "I can't do that."
    silent = Accumulator(Clock())
    silent.add(Finish("content_filter", "refusal"))
    assert silent.message().refusal == "the model refused to answer"
    other = Accumulator(Clock())
    other.add(Finish("content_filter", "content_filter"))
    assert other.message().refusal == ""
    block = {"type": "thinking", "thinking": "hm", "signature": "s"}
    plain = Accumulator(Clock())
    plain.add(ThinkingBlock(block))
    plain.add(ContentDelta("answer"))
    assert plain.message().thinking_blocks == []  # no tool call: the turn ends, not kept
    tools = Accumulator(Clock())
    tools.add(ThinkingBlock(block))
    tools.add(ToolCallDelta(0, "call_1", "f", "{}"))
    assert tools.message().thinking_blocks == [block]


def test_tool_call_fragments_are_joined_by_index_and_later_ids_and_names_win() -> None:
    acc = Accumulator(Clock())
    acc.add(ToolCallDelta(1, "call_b", "second", '{"x"'))
    acc.add(ToolCallDelta(0, "call_a", "first", "{"))
    acc.add(ToolCallDelta(1, None, None, ": 1}"))
    acc.add(ToolCallDelta(0, "", "", "}"))
    calls = acc.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [("call_a", "first", "{}"), ("call_b", "second", '{"x": 1}')]
    assert acc.deltas == 4


def test_a_one_character_reply_is_handed_out() -> None:
    acc = Accumulator(Clock())
    acc.add(ContentDelta("a"))
    assert acc.take_utf8() == ([b"a"], [])


def test_long_pieces_are_sealed_by_their_characters() -> None:
    acc = Accumulator(Clock())
    for n in range(100):  # 100,000 characters in 100 pieces: fewer pieces than the piece threshold
        acc.add(ContentDelta(str(n % 10) * 1000))
    chunks = list(acc.content_chunks())
    assert len(chunks) >= 2 and all(len(c) <= CHARS + 1000 for c in chunks)
    assert "".join(chunks) == acc.content and len(acc.content) == 100_000


def test_a_tool_call_without_id_or_name_has_empty_ones() -> None:
    acc = Accumulator(Clock())
    acc.add(ToolCallDelta(0, None, None, '{"a": 1}'))
    (call,) = acc.tool_calls()
    assert (call.id, call.name, call.arguments) == ("", "", '{"a": 1}')


def test_the_model_named_by_the_finish_is_kept() -> None:
    acc = Accumulator(Clock())
    assert acc.message().model is None and acc.message().raw_finish_reason is None
    acc.add(ContentDelta("x"))
    acc.add(Finish("stop", "stop", model="served-model-1"))
    assert acc.message().model == "served-model-1"
    unnamed = Accumulator(Clock())
    unnamed.add(Finish("stop", "stop"))
    assert unnamed.message().model is None


def test_two_tokens_give_a_rate_and_stats_carry_the_finish() -> None:
    clock = Clock()
    acc = Accumulator(clock)
    acc.start()
    acc.add(ContentDelta("a"))
    clock.now += 0.5
    acc.add(ContentDelta("b"))
    assert acc.stats().tokens_per_second == pytest.approx(4.0)
    assert acc.stats().finish_reason is None
    acc.add(Finish("length", "length"))
    assert acc.stats().finish_reason == "length"
