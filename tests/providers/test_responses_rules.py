"""The Responses API's mappings and side paths, one row per documented value, through the
loopback server where the wire is involved; written against the mutants that lived
(`python tools/mutation.py providers.responses` / `providers.responses_request`).

Expected values follow the OpenAI API reference: "Responses" (``status``,
``incomplete_details.reason``: ``max_output_tokens`` / ``content_filter``; ``usage`` with
``input_tokens_details.cached_tokens`` and ``output_tokens_details.reasoning_tokens``; ``error``)
and "Streaming events" (``response.*`` event types, the ``error`` event).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    ContextLengthError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.responses import ResponsesProvider
from llmchat.providers.responses_request import build_body, convert_input, convert_tools
from tests.loopback import DROP, LoopbackServer, Reply, json_reply
from tests.streams import named_sse, response_object

HI = [{"role": "user", "content": "hi"}]
MODEL = "gpt-5-mini-2025-08-07"


def created() -> dict[str, Any]:
    return {"type": "response.created", "response": response_object("in_progress", model=MODEL)}


def completed(output: list[dict[str, Any]] | None = None, **response: Any) -> dict[str, Any]:
    return {"type": "response.completed", "response": {**response_object("completed", output or [], model=MODEL),
                                                         **response}}


def delta(text: str) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": text}


async def collect(server: LoopbackServer, body: bytes | list[dict[str, Any]], *parts: Any) -> list[StreamEvent]:
    data = named_sse(body) if isinstance(body, list) else body
    server.handler = lambda _r: Reply(parts=[data, *parts])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k", name="resp")
        return [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]


async def collect_error(server: LoopbackServer, body: bytes | list[dict[str, Any]], error: type[ProviderError],
                        *parts: Any) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    data = named_sse(body) if isinstance(body, list) else body
    server.handler = lambda _r: Reply(parts=[data, *parts])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k", name="resp")
        with pytest.raises(error) as info:
            async for event in provider.stream(ChatRequest(model="m", messages=HI)):
                events.append(event)
    assert info.value.provider == "resp"
    return events, info.value


# --- terminal events: finish reasons ------------------------------------------------------------


@pytest.mark.parametrize(("terminal", "finish"), [
    (completed(), Finish("stop", "completed")),
    (completed(status=None), Finish("stop", "completed")),  # no status: completed
    ({"type": "response.completed", "response": {"status": "completed"}}, Finish("stop", "completed")),
    ({"type": "response.completed"}, Finish("stop", "completed")),  # no response object at all
    ({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}},
     Finish("length", "max_output_tokens")),
    ({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "content_filter"}}},
     Finish("content_filter", "content_filter")),
    ({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "something_new"}}},
     Finish("length", "something_new")),
    ({"type": "response.incomplete", "response": {}}, Finish("length", "incomplete")),
    ({"type": "response.incomplete"}, Finish("length", "incomplete")),
    # a completed event whose response says incomplete is read as incomplete
    ({"type": "response.completed", "response": {"status": "incomplete",
                                                 "incomplete_details": {"reason": "content_filter"}}},
     Finish("content_filter", "content_filter")),
])
async def test_terminal_events(server: LoopbackServer, terminal: dict[str, Any], finish: Finish) -> None:
    events = await collect(server, [created(), delta("a"), terminal])
    assert events == [ContentDelta("a"), finish]
    assert events[-1].model == (MODEL if isinstance(terminal.get("response"), dict)  # type: ignore[attr-defined]
                                and "model" in terminal["response"] else MODEL)


async def test_the_terminal_events_model_wins(server: LoopbackServer) -> None:
    events = await collect(server, [created(), delta("a"), {"type": "response.completed",
                                                           "response": {"model": "gpt-5", "status": "completed"}}])
    assert events[-1].model == "gpt-5"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["response.in_progress", "response.queued", "response.created"])
async def test_every_response_event_names_the_model(server: LoopbackServer, kind: str) -> None:
    events = await collect(server, [{"type": kind, "response": {"model": "o4-mini"}}, delta("a"),
                                    {"type": "response.completed", "response": {"status": "completed"}}])
    assert events[-1].model == "o4-mini"  # type: ignore[attr-defined]


async def test_function_calls_in_the_output_make_a_tool_calls_finish(server: LoopbackServer) -> None:
    output = [{"type": "message", "content": []}, {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]
    events = await collect(server, [created(), completed(output)])
    assert events == [Finish("tool_calls", "completed")]
    plain = await collect(server, [created(), completed(["not an item", {"type": "message"}])])  # type: ignore[list-item]
    assert plain == [Finish("stop", "completed")]


# --- usage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 36, "output_tokens": 87, "total_tokens": 123}, Usage(36, 87, 123)),
        ({"input_tokens": 36, "output_tokens": 87}, Usage(36, 87, 123)),  # no total: the sum
        ({"input_tokens": 36, "output_tokens": 87, "total_tokens": 200}, Usage(36, 87, 200)),
        ({"input_tokens": 36}, Usage(36, 0, 36)),
        ({"output_tokens": 5}, Usage(0, 5, 5)),
        ({"input_tokens": 2000, "output_tokens": 10, "input_tokens_details": {"cached_tokens": 1920},
          "output_tokens_details": {"reasoning_tokens": 6}}, Usage(2000, 10, 2010, cached_tokens=1920, reasoning_tokens=6)),
        ({"input_tokens": 20, "output_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
          "output_tokens_details": {"reasoning_tokens": 0}}, Usage(20, 10, 30, cached_tokens=0, reasoning_tokens=0)),
        ({"input_tokens": 20, "output_tokens": 10, "input_tokens_details": None, "output_tokens_details": None},
         Usage(20, 10, 30)),
        ({"total_tokens": 9}, None),
        (None, None),
        ("lots", None),
    ],
)
async def test_usage_fields(server: LoopbackServer, usage: Any, expected: Usage | None) -> None:
    events = await collect(server, [created(), delta("a"), completed(usage=usage)])
    assert events == [ContentDelta("a"), *([expected] if expected else []), Finish("stop", "completed")]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "kind", "message"),
    [
        ({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down."}, RateLimitError, "Slow down."),
        ({"type": "error", "error": {"type": "server_error", "message": "Nested."}}, ServerError, "Nested."),
        ({"type": "error", "error": {"type": "rate_limit_error", "message": "Nested limit."}}, RateLimitError,
         "Nested limit."),
        ({"type": "error", "error": "a string"}, ServerError, "the response failed"),
        ({"type": "error"}, ServerError, "the response failed"),
        ({"type": "error", "type_": "x", "code": "", "message": "No code."}, ServerError, "No code."),
        ({"type": "response.failed", "response": {"error": {"code": "context_length_exceeded",
                                                             "message": "Too long."}}}, ContextLengthError, "Too long."),
        ({"type": "response.failed", "response": {"error": None}}, ServerError, "the response failed"),
        ({"type": "response.failed"}, ServerError, "the response failed"),
    ],
)
async def test_error_events(server: LoopbackServer, event: dict[str, Any], kind: type[ProviderError],
                            message: str) -> None:
    events, error = await collect_error(server, [created(), delta("a"), event, completed()], ProviderError)
    assert events == [ContentDelta("a")]
    assert type(error) is kind and error.message == message


async def test_an_error_named_only_by_the_sse_event(server: LoopbackServer) -> None:
    body = named_sse([created(), delta("a")]) + b'event: error\ndata: {"message": "by name", "code": "x"}\n\n'
    events, error = await collect_error(server, body, ServerError)
    assert events == [ContentDelta("a")] and error.message == "by name"


@pytest.mark.parametrize(("data", "message"), [
    (b"event: error\ndata: upstream timed out\n\n", "upstream timed out"),
    (b"event: error\ndata:   \n\n", "error event"),
    (b"event: response.output_text.delta\ndata: {nope\n\n", "malformed stream event: '{nope'"),
    (b"data: [1]\n\n", "unexpected stream event: '[1]'"),
    (b"data: {" + b"y" * 300 + b"\n\n", "malformed stream event: " + repr("{" + "y" * 199)),
])
async def test_event_data_that_is_not_an_object(server: LoopbackServer, data: bytes, message: str) -> None:
    events, error = await collect_error(server, named_sse([created(), delta("a")]) + data, ServerError)
    assert events == [ContentDelta("a")] and error.message == message


async def test_a_type_in_the_data_wins_over_the_event_name(server: LoopbackServer) -> None:
    body = b'event: whatever\ndata: {"type": "response.output_text.delta", "delta": "x"}\n\n'
    body += b'event: response.output_text.delta\ndata: {"delta": "y"}\n\n'  # no type: the event name
    body += named_sse([completed()])
    assert await collect(server, body) == [ContentDelta("x"), ContentDelta("y"), Finish("stop", "completed")]


@pytest.mark.parametrize(("parts", "message"), [
    ([], "the connection closed before the reply was finished"),
    ([DROP], "the connection was lost before the reply was finished"),
])
async def test_a_stream_without_terminal_event(server: LoopbackServer, parts: list[Any], message: str) -> None:
    events, error = await collect_error(server, [created(), delta("a")], StreamInterrupted, *parts)
    assert events == [ContentDelta("a")] and error.message == message


# --- text, refusal, reasoning ---------------------------------------------------------------------


async def test_empty_deltas_say_nothing_and_done_events_repeat_nothing(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(), delta(""), delta("a"),
        {"type": "response.refusal.delta", "delta": ""}, {"type": "response.refusal.delta", "delta": "no"},
        {"type": "response.reasoning_summary_text.delta", "delta": ""},
        {"type": "response.reasoning_text.delta", "delta": "r"},
        {"type": "response.output_text.done", "text": "a"},
        {"type": "response.reasoning_summary_text.done", "text": "r"},
        {"type": "response.reasoning_text.done", "text": "r"},
        {"type": "response.content_part.added"}, {"type": "something.new"},
        completed()])
    assert events == [ContentDelta("a"), RefusalDelta("no"), ReasoningDelta("r"), Finish("stop", "completed")]


async def test_text_and_reasoning_sent_only_whole(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(),
        {"type": "response.reasoning_text.done", "text": "why"},
        {"type": "response.reasoning_summary_text.done", "text": ""},
        {"type": "response.output_text.done", "text": ""},
        {"type": "response.output_text.done", "text": "whole"},
        completed()])
    assert events == [ReasoningDelta("why"), ContentDelta("whole"), Finish("stop", "completed")]


# --- tool calls -----------------------------------------------------------------------------------


def added(index: int, item_id: str | None, call_id: str | None, name: str | None, arguments: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call", "arguments": arguments}
    if item_id is not None:
        item["id"] = item_id
    if call_id is not None:
        item["call_id"] = call_id
    if name is not None:
        item["name"] = name
    return {"type": "response.output_item.added", "output_index": index, "item": item}


async def test_tool_calls_by_item_id_and_by_output_index(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_1"}},
        added(1, "fc_1", "call_1", "first"),
        added(2, None, None, "second"),  # no ids: known by its output index, no call id at all
        added(3, "fc_3", None, None, '{"whole": 1}'),  # the item's id stands for the call id
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": ""},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"b": 2}'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_9", "output_index": 9, "delta": "lost"},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": " 1}"},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 1, "arguments": '{"a": 1}'},
        {"type": "response.function_call_arguments.done", "item_id": "fc_3", "output_index": 3, "arguments": "{}"},
        completed()])
    assert events == [
        ToolCallDelta(0, "call_1", "first", ""),
        ToolCallDelta(1, "", "second", ""),
        ToolCallDelta(2, "fc_3", "", '{"whole": 1}'),
        ToolCallDelta(0, None, None, '{"a":'),
        ToolCallDelta(1, None, None, '{"b": 2}'),
        ToolCallDelta(0, None, None, " 1}"),
        Finish("tool_calls", "completed"),
    ]


async def test_arguments_sent_whole_at_the_end(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(), added(0, "fc_1", "call_1", "f"),
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": ""},
        {"type": "response.function_call_arguments.done", "item_id": "nope", "arguments": "{}"},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": '{"x": 1}'},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": '{"x": 1}'},  # once
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": '{"x": 1}'}},
        completed()])
    assert events == [ToolCallDelta(0, "call_1", "f", ""), ToolCallDelta(0, None, None, '{"x": 1}'),
                      Finish("tool_calls", "completed")]


async def test_a_call_seen_only_when_done(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(),
        {"type": "response.output_item.done", "output_index": 0, "item": "not an item"},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "function_call", "id": "fc_7", "call_id": "call_7", "name": "g", "arguments": '{"q": 1}'}},
        {"type": "response.output_item.done", "output_index": 1,
         "item": {"type": "function_call", "id": "fc_8", "call_id": "call_8", "name": "h", "arguments": ""}},
        completed()])
    assert events == [ToolCallDelta(0, "call_7", "g", '{"q": 1}'), ToolCallDelta(1, "call_8", "h", ""),
                      Finish("tool_calls", "completed")]


async def test_a_call_announced_by_index_and_done_by_id(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(), added(4, None, "call_1", "f"),
        {"type": "response.output_item.done", "output_index": 4,
         "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}},
        completed()])
    assert events == [ToolCallDelta(0, "call_1", "f", ""), ToolCallDelta(0, None, None, "{}"),
                      Finish("tool_calls", "completed")]


# --- output items kept for the tool loop ---------------------------------------------------------


async def test_output_items_are_given_only_for_a_reply_with_reasoning(server: LoopbackServer) -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}
    message = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
    other = {"type": "web_search_call", "id": "ws_1"}
    items = [reasoning, message, other, call]
    done = [{"type": "response.output_item.done", "output_index": i, "item": item} for i, item in enumerate(items)]
    events = await collect(server, [created(), *done, completed(usage={"input_tokens": 1, "output_tokens": 2})])
    assert events[1:] == [ThinkingBlock(reasoning), ThinkingBlock(message), ThinkingBlock(call),
                          Usage(1, 2, 3), Finish("tool_calls", "completed")]
    without = await collect(server, [created(), *done[1:], completed()])
    assert not any(isinstance(e, ThinkingBlock) for e in without)


# --- a whole Response object (a server that ignored stream: true) ---------------------------------


async def test_a_whole_response_with_every_kind_of_output(server: LoopbackServer) -> None:
    output = [
        {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}, {"text": None},
                                                         {"type": "summary_text", "text": "b"}]},
        {"id": "rs_2", "type": "reasoning", "summary": []},
        {"id": "msg_1", "type": "message", "content": [
            {"type": "output_text", "text": "Hi"}, {"type": "output_text", "text": ""},
            {"type": "refusal", "refusal": "no"}, {"type": "refusal", "refusal": ""}, {"type": "other"}]},
        {"id": "msg_2", "type": "message"},
        {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    server.handler = lambda _r: json_reply(200, response_object("incomplete", output, usage={"input_tokens": 3},
                                                                incomplete_details={"reason": "max_output_tokens"}))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k")
        events = [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    assert events[:4] == [ReasoningDelta("ab"), ContentDelta("Hi"), RefusalDelta("no"), ToolCallDelta(0, "c1", "f", "{}")]
    blocks = [e.block for e in events if isinstance(e, ThinkingBlock)]
    assert [b["id"] for b in blocks] == ["rs_1", "rs_2", "msg_1", "msg_2", "fc_1"]
    assert events[-2:] == [Usage(3, 0, 3), Finish("length", "max_output_tokens")]


@pytest.mark.parametrize(("body", "kind", "message"), [
    ({"error": {"code": "rate_limit_exceeded", "message": "Whole limit."}}, RateLimitError, "Whole limit."),
    (response_object("failed", error={"code": "server_error", "message": "It failed."}), ServerError, "It failed."),
    ({"object": "response", "status": "failed"}, ServerError, "the response failed"),
])
async def test_a_whole_response_that_failed(server: LoopbackServer, body: dict[str, Any], kind: type[ProviderError],
                                            message: str) -> None:
    server.handler = lambda _r: json_reply(200, body)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k")
        with pytest.raises(ProviderError) as info:
            [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    assert type(info.value) is kind and info.value.message == message


async def test_a_json_document_that_is_not_a_response(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"object": "list", "data": []})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k")
        with pytest.raises(ProviderError):
            [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    server.handler = lambda _r: json_reply(200, {"output": [], "status": "completed"})  # no "object": still one
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k")
        assert [e async for e in provider.stream(ChatRequest(model="m", messages=HI))] == [Finish("stop", "completed")]


# --- requests -------------------------------------------------------------------------------------


def test_input_items_of_every_role() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "developer", "content": [{"type": "text", "text": "d"}]},
        {"role": "user", "content": ""},
        {"role": "user", "content": None},
        {"role": "user", "content": []},
        {"role": "critic", "content": "c"},  # an unknown role speaks as the user
        {"role": "user", "content": [
            {"type": "text", "text": ""}, {"type": "text", "text": "look"}, "junk",
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            {"type": "image_url"},
            {"type": "file", "file": {"file_id": "file-1", "filename": "", "extra": 1}},
            {"type": "file"},
            {"type": "input_audio", "input_audio": {"data": "UklG"}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r1"}, {"type": "text", "text": "r2"}]},
        {"role": "tool", "content": None},
    ]
    assert convert_input(messages) == [
        {"role": "system", "content": "s"},
        {"role": "developer", "content": [{"type": "input_text", "text": "d"}]},
        {"role": "user", "content": "c"},
        {"role": "user", "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
            {"type": "input_image", "image_url": "", "detail": "auto"},
            {"type": "input_file", "file_id": "file-1"},
            {"type": "input_file"},
            {"type": "input_audio", "input_audio": {"data": "UklG"}},
        ]},
        {"type": "function_call_output", "call_id": "c1", "output": "r1r2"},
        {"type": "function_call_output", "call_id": "", "output": ""},
    ]


@pytest.mark.parametrize(("arguments", "sent"), [
    ('{"a": 1}', '{"a": 1}'), ({"b": 2}, '{"b": 2}'), (None, "{}"), ("", ""),
])
def test_assistant_calls_without_reasoning(arguments: Any, sent: str) -> None:
    message = {"role": "assistant", "content": [{"type": "text", "text": "calling"}], "tool_calls": [
        {"id": "c1", "function": {"name": "f", "arguments": arguments}}, {"function": {}}],
        "thinking_blocks": [{"type": "thinking", "thinking": "claude's", "signature": "s"},
                            {"type": "message", "id": "msg_1"}]}  # no reasoning item: not replayed
    assert convert_input([message]) == [
        {"role": "assistant", "content": "calling"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": sent},
        {"type": "function_call", "call_id": "", "name": "", "arguments": "{}"},
    ]


def test_assistant_items_replayed_with_reasoning() -> None:
    blocks = [
        {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAA"},
        {"type": "reasoning", "encrypted_content": "no id: dropped"},
        {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "t"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "g", "arguments": "{}"},  # not answered
        {"type": "web_search_call", "id": "ws_1"},
        "junk",
    ]
    message = {"role": "assistant", "content": "ignored", "thinking_blocks": blocks, "tool_calls": [
        {"id": "c1", "function": {"name": "f", "arguments": "{}"}},
        {"id": "c3", "function": {"name": "h", "arguments": {"z": 1}}}]}  # answered, not in the items: added
    items = convert_input([message])
    assert items == [blocks[0], blocks[2], blocks[3],
                     {"type": "function_call", "call_id": "c3", "name": "h", "arguments": '{"z": 1}'}]
    assert items[0] is not blocks[0]


def test_tools_and_options() -> None:
    tools = [
        {"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b", "description": "B.", "strict": False,
                                          "parameters": {"type": "object", "properties": {"x": {}}}}},
        {"type": "function", "function": {}},
        {"type": "function"},
        {"type": "web_search"},
    ]
    assert convert_tools(tools) == [
        {"type": "function", "name": "a", "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "b", "description": "B.",
         "parameters": {"type": "object", "properties": {"x": {}}}, "strict": False},
        {"type": "function", "name": "", "parameters": {"type": "object", "properties": {}}},
        {"type": "function"},
        {"type": "web_search"},
    ]


@pytest.mark.parametrize(("options", "fields"), [
    ({}, {}),
    ({"max_tokens": 0}, {"max_output_tokens": 0}),
    ({"max_completion_tokens": 99}, {"max_output_tokens": 99}),
    ({"max_tokens": 5, "max_completion_tokens": 99}, {"max_output_tokens": 5}),
    ({"reasoning_effort": "high"}, {"reasoning": {"effort": "high", "summary": "auto"}}),
    ({"reasoning_effort": "", "reasoning": {"effort": "low"}}, {"reasoning": {"effort": "low"}}),
    ({"reasoning_effort": "minimal", "reasoning": {"effort": "low"}}, {"reasoning": {"effort": "minimal",
                                                                                      "summary": "auto"}}),
    ({"reasoning": "high"}, {}),  # not an object: dropped
    ({"tool_choice": "required"}, {"tool_choice": "required"}),
    ({"tool_choice": "none"}, {"tool_choice": "none"}),
    ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, {"tool_choice": {"type": "function", "name": "f"}}),
    ({"tool_choice": {"type": "function", "function": {}}}, {"tool_choice": {"type": "function", "name": ""}}),
    ({"tool_choice": {"type": "web_search"}}, {"tool_choice": {"type": "web_search"}}),
    ({"tool_choice": None}, {}),
    ({"temperature": 0, "top_p": 1, "store": False, "parallel_tool_calls": False, "metadata": {"k": "v"},
      "stop": ["x"], "seed": 1, "top_k": 3, "thinking_budget": 10, "n": 2},
     {"temperature": 0, "top_p": 1, "store": False, "parallel_tool_calls": False, "metadata": {"k": "v"}}),
])
def test_options(options: dict[str, Any], fields: dict[str, Any]) -> None:
    body = build_body(ChatRequest(model="m", messages=HI, options=options))
    assert body == {"model": "m", "input": [{"role": "user", "content": "hi"}], **fields, "stream": True}
    assert json.dumps(body)


def test_no_system_prompt_no_instructions() -> None:
    assert "instructions" not in build_body(ChatRequest(model="m", messages=HI, system=""))
    assert build_body(ChatRequest(model="m", messages=HI, system="be kind"))["instructions"] == "be kind"


def test_replayed_items_go_on_after_an_unanswered_call() -> None:
    blocks = [{"type": "reasoning", "id": "rs_1"},
              {"type": "function_call", "id": "fc_9", "call_id": "c9", "name": "g", "arguments": "{}"},  # unanswered
              {"type": "message", "id": "msg_2", "content": []},
              {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}]
    message = {"role": "assistant", "content": None, "thinking_blocks": blocks,
               "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
    assert convert_input([message]) == [blocks[0], blocks[2], blocks[3]]


def test_replayed_calls_without_ids() -> None:
    """A call stored without an id (a server that gave none) is matched to a replayed item
    without a call_id, and sent once."""
    reasoning = {"type": "reasoning", "id": "rs_1"}
    item = {"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}"}  # no call_id
    call = {"function": {"name": "f", "arguments": "{}"}}  # no id
    assert convert_input([{"role": "assistant", "thinking_blocks": [reasoning, item], "tool_calls": [call]}]) == [
        reasoning, item]
    assert convert_input([{"role": "assistant", "thinking_blocks": [reasoning], "tool_calls": [call]}]) == [
        reasoning, {"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"}]


async def test_a_long_event_that_is_not_an_object_is_cut_in_the_message(server: LoopbackServer) -> None:
    data = "[" + "1," * 150 + "1]"
    _, error = await collect_error(server, named_sse([created()]) + f"data: {data}\n\n".encode(), ServerError)
    assert error.message == "unexpected stream event: " + repr(data[:200])


async def test_calls_are_found_by_item_id_whatever_the_output_index(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(), added(3, "fc_1", "call_1", "f"),
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 7, "delta": '{"a"'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": ": 1}"},
        {"type": "response.output_item.done", "output_index": 8,
         "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": '{"a": 1}'}},
        completed()])
    assert events == [ToolCallDelta(0, "call_1", "f", ""), ToolCallDelta(0, None, None, '{"a"'),
                      ToolCallDelta(0, None, None, ": 1}"), Finish("tool_calls", "completed")]


async def test_a_whole_response_object_without_output(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"object": "response", "status": "completed", "model": "gpt-5",
                                                 "usage": {"input_tokens": 2, "output_tokens": 0}})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k")
        events = [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    assert events == [Usage(2, 0, 2), Finish("stop", "completed")] and events[-1].model == "gpt-5"


async def test_reasoning_summary_deltas_stream_as_they_come(server: LoopbackServer) -> None:
    events = await collect(server, [
        created(),
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "one "},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "two"},
        {"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "text": "one two"},
        delta("a"), completed()])
    assert events == [ReasoningDelta("one "), ReasoningDelta("two"), ContentDelta("a"), Finish("stop", "completed")]
