"""ResponsesProvider against a real HTTP server on 127.0.0.1 (tests/loopback.py), with
streams shaped as the OpenAI Responses API sends them (tests/streams.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmchat.providers import create_provider
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    AuthenticationError,
    BadRequestError,
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
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.responses import ResponsesProvider
from llmchat.providers.responses_request import convert_input
from tests.loopback import DROP, LoopbackServer, Reply, Request, json_reply, split_every
from tests.streams import (
    RESPONSES_MODEL,
    named_sse,
    response_object,
    responses_events,
    responses_stream,
    responses_usage,
)

TOKENS = ["h", "é", "llo", " 世", "界", " 🎉", "!"]
TEXT = "héllo 世界 🎉!"


def request(**kw: Any) -> ChatRequest:
    base: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "system": "sys"}
    return ChatRequest(**{**base, **kw})


def reply_with(*parts: Any) -> Callable[[Request], Reply]:
    return lambda _request: Reply(parts=list(parts))


def provider(client: httpx.AsyncClient, server: LoopbackServer, **kw: Any) -> ResponsesProvider:
    return ResponsesProvider(client=client, base_url=server.base_url, api_key="sk-test", **kw)


async def collect(server: LoopbackServer, req: ChatRequest | None = None) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        return [e async for e in provider(client, server).stream(req or request())]


async def collect_until(server: LoopbackServer, error: type[ProviderError]) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(error) as info:
            async for event in provider(client, server).stream(request()):
                events.append(event)
    return events, info.value


def text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


# --- request -----------------------------------------------------------------------------


async def test_request_goes_to_responses_with_instructions_input_and_options(server: LoopbackServer) -> None:
    server.handler = reply_with(responses_stream(["ok"]))
    tools = [{"type": "function", "function": {"name": "get_time", "description": "Now.",
                                               "parameters": {"type": "object", "properties": {}}}}]
    await collect(server, request(tools=tools, options={
        "max_tokens": 50, "temperature": 0.2, "reasoning_effort": "low", "stop": ["x"], "seed": 1,
        "tool_choice": {"type": "function", "function": {"name": "get_time"}}}))
    req = server.requests[0]
    assert req.path == "/v1/responses"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.headers["accept"] == "text/event-stream"
    body = req.json()
    assert body == {
        "model": "m", "instructions": "sys", "input": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "name": "get_time", "description": "Now.",
                   "parameters": {"type": "object", "properties": {}}}],
        "temperature": 0.2, "max_output_tokens": 50,
        "reasoning": {"effort": "low", "summary": "auto"},
        "tool_choice": {"type": "function", "name": "get_time"}, "stream": True,
    }


def test_history_from_another_provider_becomes_input_items() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat", "is_error": True},
        {"role": "assistant", "content": "A cat.", "thinking_blocks": [{"type": "thinking", "signature": "x"}]},
        {"role": "user", "content": "thanks"},
    ]
    assert convert_input(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "auto"}]},
        {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "call_1", "name": "look", "arguments": '{"a": 1}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "thanks"},
    ]


async def test_prompt_completion_is_refused_clearly(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(BadRequestError, match="no text completions"):
            [e async for e in provider(client, server).stream(ChatRequest(model="m", messages=[], prompt="x"))]
    assert server.requests == []


# --- text, usage, model --------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
async def test_text_split_everywhere_usage_and_answering_model(server: LoopbackServer, eol: str) -> None:
    data = named_sse(responses_events(TOKENS, usage=responses_usage(1200, 7, cached=1024, reasoning=3)), eol)
    server.handler = reply_with(b": keep-alive\n\n", *split_every(data, 3))
    events = await collect(server)
    assert [e.text for e in events if isinstance(e, ContentDelta)] == TOKENS
    assert events[-2:] == [Usage(1200, 7, 1207, cached_tokens=1024, reasoning_tokens=3), Finish("stop", "completed")]
    assert events[-1].model == RESPONSES_MODEL
    assert not any(isinstance(e, ThinkingBlock) for e in events)


async def test_refusal_is_reported(server: LoopbackServer) -> None:
    events = responses_events([])
    events.insert(2, {"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 0,
                      "content_index": 0, "delta": "I can't help with that."})
    server.handler = reply_with(named_sse(events))
    got = await collect(server)
    assert [e for e in got if isinstance(e, RefusalDelta)] == [RefusalDelta("I can't help with that.")]


async def test_text_sent_only_whole_in_output_text_done_is_not_lost(server: LoopbackServer) -> None:
    events = [e for e in responses_events(["whole"]) if e["type"] != "response.output_text.delta"]
    server.handler = reply_with(named_sse(events))
    assert text(await collect(server)) == "whole"


# --- reasoning and tools -----------------------------------------------------------------


async def test_reasoning_summaries_and_streamed_tool_arguments(server: LoopbackServer) -> None:
    server.handler = reply_with(*split_every(responses_stream(
        [], reasoning=["**Plan** look it up.", "Then answer."],
        calls=[("call_a", "get_weather", ['{"ci', 'ty": "Par', 'is"}']), ("call_b", "get_time", [])],
        usage=responses_usage(50, 40, reasoning=32)), 7))
    events = await collect(server)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "**Plan** look it up.Then answer."
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(0, "call_a", "get_weather", "")
    assert "".join(c.arguments_fragment for c in calls if c.index == 0) == '{"city": "Paris"}'
    assert calls[-1] == ToolCallDelta(1, "call_b", "get_time", "")
    assert events[-1] == Finish("tool_calls", "completed")
    blocks = [e.block for e in events if isinstance(e, ThinkingBlock)]
    assert [b["type"] for b in blocks] == ["reasoning", "function_call", "function_call"]
    assert blocks[0]["encrypted_content"] == "gAAAAABo" and blocks[1]["id"] == "fc_call_a"


def test_reasoning_items_are_sent_back_in_the_tool_loop_in_order() -> None:
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "enc"}
    fc_a = {"id": "fc_a", "type": "function_call", "call_id": "a", "name": "f", "arguments": "{}", "status": "completed"}
    fc_b = {"id": "fc_b", "type": "function_call", "call_id": "b", "name": "g", "arguments": "{}", "status": "completed"}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "thinking_blocks": [reasoning, fc_a, fc_b],
         "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "42"},
    ]
    assert convert_input(messages) == [
        {"role": "user", "content": "go"}, reasoning, fc_a,  # b was never answered: left out
        {"type": "function_call_output", "call_id": "a", "output": "42"},
    ]


@pytest.mark.parametrize(("reason", "expected"), [
    ("max_output_tokens", "length"), ("content_filter", "content_filter"), ("something_new", "length")])
async def test_incomplete_reasons(server: LoopbackServer, reason: str, expected: str) -> None:
    server.handler = reply_with(responses_stream(["par"], terminal="incomplete", incomplete_reason=reason))
    events = await collect(server)
    assert text(events) == "par"
    assert events[-1] == Finish(expected, reason)  # type: ignore[arg-type]


# --- errors and truncation ---------------------------------------------------------------


async def test_response_failed_raises_after_the_partial_text(server: LoopbackServer) -> None:
    server.handler = reply_with(responses_stream(["part"], terminal="failed"))
    events, error = await collect_until(server, ServerError)
    assert text(events) == "part"
    assert "failed to generate" in error.message


@pytest.mark.parametrize(("code", "message", "kind"), [
    ("rate_limit_exceeded", "Rate limit reached for gpt-4o", RateLimitError),
    ("context_length_exceeded", "Your input exceeds the context window of this model.", ContextLengthError),
    ("server_error", "Something went wrong", ServerError),
    (None, "plain", ServerError),
])
async def test_error_event(server: LoopbackServer, code: str | None, message: str, kind: type[ProviderError]) -> None:
    events = responses_events(["a", "b"], terminal="none")
    events.append({"type": "error", "code": code, "message": message, "param": None, "sequence_number": 99})
    server.handler = reply_with(named_sse(events))
    got, error = await collect_until(server, kind)
    assert text(got) == "ab" and error.message == message and type(error) is kind


async def test_stream_without_terminal_event_is_interrupted(server: LoopbackServer) -> None:
    server.handler = reply_with(responses_stream(["a", "b"], terminal="none"))
    events, _ = await collect_until(server, StreamInterrupted)
    assert text(events) == "ab"


async def test_dropped_connection_is_interrupted(server: LoopbackServer) -> None:
    data = responses_stream(TOKENS)
    server.handler = reply_with(data[: len(data) // 2], DROP)
    events, error = await collect_until(server, StreamInterrupted)
    assert text(events) and "lost" in error.message


@pytest.mark.parametrize(("status", "body", "kind"), [
    (400, {"error": {"message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
                     "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}},
     ContextLengthError),
    (401, {"error": {"message": "Incorrect API key provided: sk-test.", "type": "invalid_request_error",
                     "param": None, "code": "invalid_api_key"}}, AuthenticationError),
])
async def test_http_errors_in_openai_shape(server: LoopbackServer, status: int, body: Any, kind: type[ProviderError]) -> None:
    server.handler = lambda _r: json_reply(status, body)
    _, error = await collect_until(server, kind)
    assert error.status == status and error.message == body["error"]["message"]


async def test_429_is_retried_after_retry_after(server: LoopbackServer) -> None:
    replies = iter([Reply(status=429, parts=[b'{"error": {"message": "slow down", "code": "rate_limit_exceeded"}}'],
                          headers={"content-type": "application/json", "retry-after": "0"}, chunked=False),
                    Reply(parts=[responses_stream(["ok"])])])
    server.handler = lambda _r: next(replies)
    async with httpx.AsyncClient(timeout=10) as client:
        p = provider(client, server, policy=StreamPolicy(retries=1))
        events = [e async for e in p.stream(request())]
    assert text(events) == "ok" and len(server.requests) == 2


async def test_a_whole_json_response_is_read(server: LoopbackServer) -> None:
    output = [{"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
              {"id": "msg_1", "type": "message", "role": "assistant",
               "content": [{"type": "output_text", "text": "Hi!", "annotations": []}]},
              {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"x":1}'}]
    server.handler = lambda _r: json_reply(200, response_object("completed", output, usage=responses_usage(5, 3)))
    events = await collect(server)
    assert text(events) == "Hi!"
    assert ReasoningDelta("hmm") in events
    assert ToolCallDelta(0, "c1", "f", '{"x":1}') in events
    assert events[-2:] == [Usage(5, 3, 8, cached_tokens=0, reasoning_tokens=0), Finish("tool_calls", "completed")]


async def test_models_and_factory(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"object": "list", "data": [{"id": "gpt-5"}, {"id": "gpt-4o"}]})
    async with httpx.AsyncClient(timeout=10) as client:
        p = create_provider("openai-responses", client=client, name="openai-responses",
                            base_url=server.base_url, api_key="k")
        assert isinstance(p, ResponsesProvider)
        assert await p.list_models() == ["gpt-4o", "gpt-5"]
    assert server.requests[0].path == "/v1/models"


def test_bad_json_events_are_server_errors() -> None:
    from llmchat.providers.responses import ResponsesParser
    from llmchat.providers.sse import SSEEvent

    with pytest.raises(ServerError):
        ResponsesParser("p").feed_sse(SSEEvent("{not json", "response.output_text.delta"))


async def test_litellm_bridge_stream_with_mismatched_item_ids_is_not_doubled(server: LoopbackServer) -> None:
    """LiteLLM's Responses bridge (to a Chat Completions upstream): no `event:` lines, deltas
    under the upstream's chunk id, `done` events under other ids, then `data: [DONE]`."""
    def data(obj: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    parts = [data({"type": "response.created", "response": response_object("in_progress", model="gpt-4o")}),
             data({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "msg_e77e", "type": "message", "status": "in_progress", "role": "assistant", "content": []}})]
    parts += [data({"type": "response.output_text.delta", "item_id": "chatcmpl-17961", "output_index": 0,
                    "content_index": 0, "delta": d}) for d in ("[ech", "o] hi")]
    parts += [data({"type": "response.output_text.done", "item_id": "msg_7da8", "output_index": 0, "content_index": 0,
                    "text": "[echo] hi"}),
              data({"type": "response.completed", "response": response_object(
                  "completed", [{"type": "message", "id": "chatcmpl-17961", "role": "assistant",
                                 "content": [{"type": "output_text", "text": "[echo] hi"}]}],
                  model="gpt-4o", usage={"input_tokens": 2, "output_tokens": 10, "total_tokens": 12})}),
              b"data: [DONE]\n\n"]
    server.handler = reply_with(*parts)
    events = await collect(server)
    assert text(events) == "[echo] hi"
    assert events[-2:] == [Usage(2, 10, 12), Finish("stop", "completed")] and events[-1].model == "gpt-4o"


def test_pdf_part_becomes_input_file() -> None:
    content = [{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]
    assert convert_input([{"role": "user", "content": content}]) == [
        {"role": "user", "content": [{"type": "input_file", "filename": "a.pdf",
                                      "file_data": "data:application/pdf;base64,JVBE"}]}]


async def test_reasoning_sent_only_whole_in_done_events_is_not_lost(server: LoopbackServer) -> None:
    events = [e for e in responses_events(["ok"], reasoning=["one.", "two."])
              if e["type"] != "response.reasoning_summary_text.delta"]
    server.handler = reply_with(named_sse(events))
    got = await collect(server)
    assert "".join(e.text for e in got if isinstance(e, ReasoningDelta)) == "one.two."
    assert text(got) == "ok"


async def test_a_done_marker_without_a_terminal_event_is_an_interruption(server: LoopbackServer) -> None:
    server.handler = reply_with(responses_stream(["a"], terminal="none") + b"data: [DONE]\n\n")
    events, _ = await collect_until(server, StreamInterrupted)
    assert text(events) == "a"
