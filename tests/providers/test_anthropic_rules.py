"""Anthropic's side branches, over the wire: whole (non-streaming) Message bodies, error events
whose data is not JSON, events that are not objects, and usage values that are not counts.

Each test kills mutants that survived the wire tests (docs/testing.md, kill rates).
"""

from __future__ import annotations

from typing import Any

import pytest

from llmchat.providers.errors import ServerError
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, ThinkingBlock, ToolCallDelta, Usage
from tests.loopback import LoopbackServer, Reply, json_reply
from tests.providers.test_anthropic_wire import (
    MESSAGE_STOP,
    block_start,
    block_stop,
    collect,
    collect_until_error,
    content,
    event,
    json_delta,
    message_delta,
    message_start,
    reply_with,
    stream,
    text_delta,
    text_start,
)


def whole(message: dict[str, Any]) -> Reply:
    """A server that ignores ``stream`` and answers with one JSON body."""
    return json_reply(200, message)


def raw_json(body: str) -> Reply:
    return Reply(status=200, parts=[body.encode()], headers={"content-type": "application/json"}, chunked=False)


async def test_a_whole_error_object_raises_its_error(server: LoopbackServer) -> None:
    server.handler = lambda _r: whole({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    _, error = await collect_until_error(server, ServerError)
    assert "Overloaded" in str(error) and error.status == 529


async def test_a_whole_message_without_a_type_is_still_read(server: LoopbackServer) -> None:
    """Some proxies drop ``type``; a body with ``content`` is a reply all the same."""
    server.handler = lambda _r: whole({
        "role": "assistant", "content": [{"type": "text", "text": "hi there"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 2}})
    events = await collect(server)
    assert content(events) == "hi there"
    assert [e.reason for e in events if isinstance(e, Finish)] == ["stop"]


async def test_a_whole_tool_call_keeps_its_arguments_as_written(server: LoopbackServer) -> None:
    server.handler = lambda _r: whole({
        "type": "message", "role": "assistant", "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Zürich"}}],
        "usage": {"input_tokens": 5, "output_tokens": 2}})
    events = await collect(server)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.id, c.name, c.arguments_fragment) for c in calls] == [("toolu_1", "weather", '{"city": "Zürich"}')]


async def test_a_whole_body_that_is_not_an_object_names_the_provider(server: LoopbackServer) -> None:
    server.handler = lambda _r: raw_json("[1, 2]")
    _, error = await collect_until_error(server, ServerError)
    assert "unexpected response: '[1, 2]'" in str(error) and error.provider == "anthropic"


async def test_a_malformed_whole_body_is_quoted_up_to_200_characters(server: LoopbackServer) -> None:
    body = "{not json " + "".join(chr(ord("a") + n % 26) for n in range(300))
    server.handler = lambda _r: raw_json(body)
    _, error = await collect_until_error(server, ServerError)
    assert f"malformed response: {body[:200]!r}" in str(error)
    assert error.provider == "anthropic"


@pytest.mark.parametrize(("data", "message"), [("Overloaded, try later", "Overloaded, try later"), ("", "error event")])
async def test_an_error_event_whose_data_is_not_json_says_what_it_said(server: LoopbackServer, data: str,
                                                                       message: str) -> None:
    server.handler = reply_with(event(message_start()), f"event: error\ndata: {data}\n\n".encode())
    _, error = await collect_until_error(server, ServerError)
    assert str(error).endswith(message) and error.provider == "anthropic"


@pytest.mark.parametrize(("data", "words"), [("{bad", "malformed stream event: '{bad'"),
                                             ("[1]", "unexpected stream event: '[1]'")])
async def test_an_event_that_is_not_an_object_names_the_provider(server: LoopbackServer, data: str, words: str) -> None:
    server.handler = reply_with(event(message_start()), f"event: content_block_delta\ndata: {data}\n\n".encode())
    _, error = await collect_until_error(server, ServerError)
    assert words in str(error) and error.provider == "anthropic"


async def test_usage_values_that_are_not_counts_are_left_out(server: LoopbackServer) -> None:
    """``true`` is not one token and ``"5"`` not five: such values are ignored, not added."""
    start = message_start()
    start["message"]["usage"] = {"input_tokens": 10, "output_tokens": True, "cache_read_input_tokens": "5"}
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": None}}
    server.handler = reply_with(stream(start, text_start(0), text_delta(0, "ok"), block_stop(0), end, MESSAGE_STOP))
    events = await collect(server)
    usages = [e for e in events if isinstance(e, Usage)]
    assert content(events) == "ok"
    assert usages and usages[-1].input_tokens == 10 and usages[-1].output_tokens == 0
    assert all(isinstance(e, (ContentDelta, Usage, Finish)) for e in events)


@pytest.mark.parametrize(("block", "expected"), [
    ({"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}, ("toolu_1", "weather")),
    ({"type": "tool_use", "id": "toolu_1", "input": {}}, ("toolu_1", "")),  # no name: unknown, not "None"
    ({"type": "tool_use", "id": "toolu_1", "name": None, "input": {}}, ("toolu_1", "")),
    ({"type": "tool_use", "name": "weather", "input": {}}, ("", "weather")),
    ({"type": "tool_use", "id": None, "name": "weather", "input": {}}, ("", "weather")),
])
async def test_a_tool_use_block_without_an_id_or_name_gives_empty_ones(
        server: LoopbackServer, block: dict[str, Any], expected: tuple[str, str]) -> None:
    server.handler = reply_with(stream(message_start(), block_start(0, block), json_delta(0, '{"city": "Oslo"}'),
                                       block_stop(0), message_delta("tool_use", 3), MESSAGE_STOP))
    events = await collect(server)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.id, c.name, c.arguments_fragment) for c in calls] == [
        (0, *expected, ""), (0, None, None, '{"city": "Oslo"}')]
    assert events[-1] == Finish("tool_calls", "tool_use")


@pytest.mark.parametrize(("model", "expected"), [("claude-haiku-4-5", "claude-haiku-4-5"), ("", None), (None, None)])
async def test_the_answering_model_is_message_starts_or_none(server: LoopbackServer, model: str | None,
                                                             expected: str | None) -> None:
    start = message_start()
    start["message"]["model"] = model
    server.handler = reply_with(stream(start, text_start(0), text_delta(0, "hi"), block_stop(0),
                                       message_delta("end_turn", 2), MESSAGE_STOP))
    finish = (await collect(server))[-1]
    assert isinstance(finish, Finish) and finish.model == expected


async def test_a_stream_without_message_start_names_no_model(server: LoopbackServer) -> None:
    """Some proxies send no ``message_start``: the reply is read, and its model is None, not ""."""
    server.handler = reply_with(stream(text_start(0), text_delta(0, "hi"), block_stop(0),
                                       message_delta("end_turn", 2), MESSAGE_STOP))
    events = await collect(server)
    assert content(events) == "hi"
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "stop" and finish.model is None


@pytest.mark.parametrize("without", [("start",), ("delta",), ("stop",), ("start", "delta", "stop")])
async def test_an_event_without_an_index_is_about_block_zero(server: LoopbackServer, without: tuple[str, ...]) -> None:
    """The Messages API always sends ``index``; from a proxy that drops it, an event is about
    the first block (index 0)."""
    events_of = {"start": block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}),
                 "delta": json_delta(0, '{"city": "Oslo"}'), "stop": block_stop(0)}
    for name in without:
        del events_of[name]["index"]
    server.handler = reply_with(stream(message_start(), events_of["start"], events_of["delta"], events_of["stop"],
                                       message_delta("tool_use", 3), MESSAGE_STOP))
    events = await collect(server)
    calls = [(e.index, e.id, e.name, e.arguments_fragment) for e in events if isinstance(e, ToolCallDelta)]
    assert calls == [(0, "toolu_1", "weather", ""), (0, None, None, '{"city": "Oslo"}')]


async def test_a_redacted_block_shows_nothing_even_with_a_thinking_field(server: LoopbackServer) -> None:
    redacted = {"type": "redacted_thinking", "data": "opaque", "thinking": "must not show"}
    server.handler = reply_with(stream(message_start(), block_start(0, redacted), block_stop(0), text_start(1),
                                       text_delta(1, "answer"), block_stop(1), message_delta("end_turn", 3),
                                       MESSAGE_STOP))
    events = await collect(server)
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert [e.block for e in events if isinstance(e, ThinkingBlock)] == [redacted]
    assert content(events) == "answer"


async def test_a_stop_without_an_index_closes_block_zero(server: LoopbackServer) -> None:
    """A tool call without parameters gets its ``{}`` arguments at its stop, found by index 0."""
    stop = block_stop(0)
    del stop["index"]
    server.handler = reply_with(stream(message_start(), block_start(0, {"type": "tool_use", "id": "t1", "name": "now",
                                                                         "input": {}}),
                                       stop, message_delta("tool_use", 3), MESSAGE_STOP))
    events = await collect(server)
    calls = [(e.index, e.id, e.name, e.arguments_fragment) for e in events if isinstance(e, ToolCallDelta)]
    assert calls == [(0, "t1", "now", ""), (0, None, None, "{}")]
