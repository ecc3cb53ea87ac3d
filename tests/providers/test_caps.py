"""Size caps on both sides of their boundary, and with every shape of input that fills them.

The event cap counts what the SSE decoder holds for the event being received
(``SSEDecoder.buffered``: its data lines and the open line), so an event made of many short
``data:`` lines and no blank line is capped like one endless line. A reply of exactly the reply
cap passes, one byte more fails; an event of exactly the event cap passes, one more fails.
"""

from __future__ import annotations

import json

import pytest

from llmchat.providers.errors import StreamTooLarge
from llmchat.providers.events import ContentDelta, Finish
from llmchat.providers.ndjson import NDJSONDecoder
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.sse import SSEDecoder, SSEEvent
from tests.loopback import LoopbackServer, Reply, chunk, sse
from tests.providers.streams import collect



# --- what the decoder holds ------------------------------------------------------------------


def test_a_new_decoder_holds_nothing() -> None:
    assert SSEDecoder().buffered == 0


def test_buffered_counts_each_data_line_and_its_line_end_and_the_open_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: " + b"x" * 10 + b"\n") == []
    assert decoder.buffered == 11
    decoder.feed(b"data:" + b"y" * 20 + b"\n")  # no space after the colon: the same count
    assert decoder.buffered == 11 + 21
    decoder.feed(b"data\n")  # a field without a colon: empty data, one line end
    assert decoder.buffered == 11 + 21 + 1
    decoder.feed(b"event: big\nid: 7\n: a comment\n")  # other fields hold nothing
    assert decoder.buffered == 33
    decoder.feed(b"data: open line")
    assert decoder.buffered == 33 + len("data: open line")
    assert decoder.feed(b"\n\n") == [SSEEvent(data="x" * 10 + "\n" + "y" * 20 + "\n\nopen line", event="big", id="7")]
    assert decoder.buffered == 0  # dispatched: nothing held


def test_many_short_data_lines_without_a_blank_line_grow_what_is_held() -> None:
    decoder = SSEDecoder()
    for n in range(1, 201):
        decoder.feed(b"data: " + b"z" * 99 + b"\n")
        assert decoder.buffered == 100 * n


def test_after_close_nothing_is_held() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n")
    decoder.feed(b"data: unterminated")
    assert decoder.close() == [SSEEvent(data="a")]
    assert decoder.buffered == 0
    assert decoder.close() == []


def test_a_bom_is_dropped_only_at_the_very_start() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("\ufeffdata: a\n\n".encode()) == [SSEEvent(data="a")]
    # Later, a BOM is an ordinary character: here it makes the field name "\ufeffdata", ignored.
    assert decoder.feed("\ufeffdata: b\n\ndata: c\n\n".encode()) == [SSEEvent(data="c")]


def test_ndjson_drops_a_bom_only_at_the_very_start() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed('\ufeff{"a": 1}\n'.encode()) == ['{"a": 1}']
    assert decoder.feed('\ufeff{"b": 2}\n'.encode()) == ['\ufeff{"b": 2}']  # later: kept (and invalid JSON)


# --- the event cap through the provider ------------------------------------------------------

PAD_TO = 2_000


def padded_chunk(text: str, size: int) -> bytes:
    """One `data:` line whose JSON chunk, padded with spaces (JSON whitespace), is `size` - 1
    characters: the decoder holds exactly `size` for it (the line end counts one)."""
    body = json.dumps(chunk(text))
    assert len(body) <= size - 1
    return b"data: " + (body + " " * (size - 1 - len(body))).encode() + b"\n"


@pytest.mark.parametrize(("cap", "fails"), [(PAD_TO, False), (PAD_TO - 1, True)])
async def test_an_event_of_exactly_the_cap_passes_one_more_fails(server: LoopbackServer, cap: int, fails: bool) -> None:
    # The event's line and its blank line come in separate writes, a pause apart, so the cap is
    # checked while the decoder holds the whole event and nothing else.
    parts = [sse(chunk("", role=True), done=False), padded_chunk("big", PAD_TO), 0.2, b"\n", sse(chunk(finish="stop"))]
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await collect(server, StreamPolicy(retries=0, max_event_bytes=cap))
    if fails:
        assert isinstance(error, StreamTooLarge) and "event" in error.message and events == []
    else:
        assert error is None and events == [ContentDelta("big"), Finish("stop", "stop")]


async def test_many_data_lines_and_no_blank_line_hit_the_event_cap(server: LoopbackServer) -> None:
    line = b"data: " + b"w" * 93 + b"\n"  # 100 characters held per line
    parts = [sse(chunk("ok"), done=False), *[line] * 200, 5.0]  # 20,000 held, never dispatched
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await collect(server, StreamPolicy(retries=0, max_event_bytes=10_000))
    assert events == [ContentDelta("ok")]
    assert isinstance(error, StreamTooLarge) and "event" in error.message
    assert server.disconnected.wait(5)


# --- the reply cap ---------------------------------------------------------------------------


@pytest.mark.parametrize("over", [0, 1])
async def test_a_reply_of_exactly_the_cap_passes_one_byte_more_fails(server: LoopbackServer, over: int) -> None:
    body = sse(chunk("", role=True), chunk("a"), chunk("b"), chunk(finish="stop"))
    server.handler = lambda _r: Reply(parts=[body])
    events, error = await collect(server, StreamPolicy(retries=0, max_reply_bytes=len(body) - over))
    if over:
        assert isinstance(error, StreamTooLarge) and "reply" in error.message
    else:
        assert error is None and events == [ContentDelta("a"), ContentDelta("b"), Finish("stop", "stop")]


# --- the NDJSON line cap ---------------------------------------------------------------------


@pytest.mark.parametrize(("cap", "fails"), [(PAD_TO, False), (PAD_TO - 1, True)])
async def test_an_ndjson_line_of_exactly_the_cap_passes_one_more_fails(server: LoopbackServer, cap: int,
                                                                        fails: bool) -> None:
    head = json.dumps({"model": "m", "message": {"role": "assistant", "content": "big"}, "done": False})
    line = (head + " " * (PAD_TO - len(head))).encode()  # PAD_TO characters before its line end
    done = json.dumps({"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                       "done_reason": "stop"}).encode() + b"\n"
    server.handler = lambda _r: Reply(parts=[line, 0.2, b"\n" + done], headers={"content-type": "application/x-ndjson"})
    events, error = await collect(server, StreamPolicy(retries=0, max_event_bytes=cap), ollama=True)
    if fails:
        assert isinstance(error, StreamTooLarge) and events == []
    else:
        assert error is None and events == [ContentDelta("big"), Finish("stop", "stop")]
