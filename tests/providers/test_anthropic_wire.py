"""AnthropicProvider against a real HTTP server on 127.0.0.1 (tests/loopback.py).

The streams are shaped like recorded Messages API streams (Anthropic, "Streaming Messages"):
``event: <type>`` + ``data: <json>`` + blank line, message_start / ping / content blocks /
message_delta / message_stop.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmchat.providers import create_provider
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ContextLengthError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from tests.loopback import DROP, LoopbackServer, Reply, Request, json_reply, split_every

TEXT_TOKENS = ["h", "é", "llo", " 世", "界", " 🎉", "!"]
TEXT = "héllo 世界 🎉!"


# --- recorded-shaped stream pieces -------------------------------------------------------


def event(obj: dict[str, Any], eol: str = "\n") -> bytes:
    """One SSE event as the Messages API sends it: named after its data's `type`."""
    return f"event: {obj['type']}{eol}data: {json.dumps(obj, ensure_ascii=False)}{eol}{eol}".encode()


def message_start(input_tokens: int = 25, output_tokens: int = 1, **usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-20250514",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage},
        },
    }


PING = {"type": "ping"}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def text_start(index: int) -> dict[str, Any]:
    return block_start(index, {"type": "text", "text": ""})


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def text_delta(index: int, text: str) -> dict[str, Any]:
    return delta(index, type="text_delta", text=text)


def tool_start(index: int, id_: str, name: str) -> dict[str, Any]:
    return block_start(index, {"type": "tool_use", "id": id_, "name": name, "input": {}})


def json_delta(index: int, partial_json: str) -> dict[str, Any]:
    return delta(index, type="input_json_delta", partial_json=partial_json)


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str | None, output_tokens: int, **usage: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens, **usage},
    }


MESSAGE_STOP = {"type": "message_stop"}


def stream(*objs: dict[str, Any], eol: str = "\n") -> bytes:
    return b"".join(event(o, eol) for o in objs)


def text_stream(tokens: list[str], *, stop_reason: str = "end_turn", eol: str = "\n") -> bytes:
    return stream(
        message_start(),
        text_start(0),
        PING,
        *(text_delta(0, t) for t in tokens),
        block_stop(0),
        message_delta(stop_reason, len(tokens)),
        MESSAGE_STOP,
        eol=eol,
    )


def usage(input_tokens: int = 25, output_tokens: int = 1, cached: int | None = None) -> Usage:
    return Usage(input_tokens, output_tokens, input_tokens + output_tokens, cached_tokens=cached)


# --- helpers -----------------------------------------------------------------------------


def request(**kwargs: Any) -> ChatRequest:
    kwargs.setdefault("messages", [{"role": "user", "content": "hi"}])
    return ChatRequest(model="claude-sonnet-4-20250514", system="sys", **kwargs)


def reply_with(*parts: Any, chunked: bool = True) -> Callable[[Request], Reply]:
    return lambda _request: Reply(parts=list(parts), chunked=chunked)


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def collect(
    server: LoopbackServer,
    req: ChatRequest | None = None,
    *,
    api_key: str | None = "sk-ant-test",
    base_url: str | None = None,
    **kwargs: Any,
) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        provider = AnthropicProvider(
            client=client, base_url=base_url or root(server), api_key=api_key, **kwargs
        )
        return [e async for e in provider.stream(req or request())]


async def collect_until_error(
    server: LoopbackServer, error: type[ProviderError]
) -> tuple[list[StreamEvent], ProviderError]:
    """Events received before the stream raised `error`, and the error."""
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = AnthropicProvider(client=client, base_url=root(server), api_key="sk-ant-test")
        with pytest.raises(error) as info:
            async for e in provider.stream(request()):
                events.append(e)
    return events, info.value


def content(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


def body_of(server: LoopbackServer) -> dict[str, Any]:
    assert len(server.requests) == 1
    body: dict[str, Any] = server.requests[0].json()
    return body


# --- request -----------------------------------------------------------------------------


async def test_request_path_and_headers(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    events = await collect(server)
    assert events[-1] == Finish("stop", "end_turn")
    req = server.requests[0]
    assert req.method == "POST"
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == "sk-ant-test"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["accept"] == "text/event-stream"
    assert "authorization" not in req.headers
    assert req.json() == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 4096,
        "stream": True,
        "system": "sys",
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(server: LoopbackServer, suffix: str) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    assert content(await collect(server, base_url=root(server) + suffix)) == "ok"
    assert server.requests[0].path == "/v1/messages"


async def test_proxy_base_url_with_a_path(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    await collect(server, base_url=root(server) + "/anthropic/v1")
    assert server.requests[0].path == "/anthropic/v1/messages"


async def test_version_extra_headers_and_no_key(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    await collect(
        server,
        api_key=None,
        version="2024-01-01",
        headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    headers = server.requests[0].headers
    assert "x-api-key" not in headers
    assert headers["anthropic-version"] == "2024-01-01"
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


async def test_body_converts_a_tool_conversation(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris"},
        {"role": "user", "content": "and the time?"},
        {"role": "assistant", "content": ""},  # an empty (cancelled) reply is left out
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "toolu_01A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "toolu_01B", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "18°C, cloudy"},
        {"role": "tool", "tool_call_id": "toolu_01B", "content": "14:05 CET"},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "You're welcome."},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        },
        {"type": "function", "function": {"name": "get_time"}},
    ]
    await collect(server, request(messages=messages, tools=tools))
    body = body_of(server)
    assert body["system"] == "sys"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather in Paris"},
                {"type": "text", "text": "and the time?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18°C, cloudy"},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "14:05 CET"},
                {"type": "text", "text": "thanks"},
            ],
        },
        {"role": "assistant", "content": "You're welcome."},
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]


async def test_body_options_mapping(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    options = {
        "max_tokens": 1024,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop": "END",
        "seed": 7,
        "reasoning_effort": "high",
        "stream_options": {"include_usage": True},
        "metadata": {"user_id": "u-1"},
        "tool_choice": "required",
    }
    await collect(server, request(options=options))
    body = body_of(server)
    assert body == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 1024,
        "stream": True,
        "system": "sys",
        "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": {"type": "any"},
        "stop_sequences": ["END"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
    }


async def test_body_thinking_budget_and_stop_list(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    options = {"thinking_budget": 2048, "stop": ["\n\nHuman:", "END"], "max_tokens": 8000}
    await collect(server, request(options=options))
    body = body_of(server)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["stop_sequences"] == ["\n\nHuman:", "END"]
    assert body["max_tokens"] == 8000
    assert "thinking_budget" not in body and "stop" not in body


async def test_thinking_budget_above_the_default_max_tokens_raises_it(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    await collect(server, request(options={"thinking_budget": 10000}), default_max_tokens=1000)
    body = body_of(server)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert body["max_tokens"] == 11000


async def test_system_messages_in_the_list_join_the_system_prompt(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    await collect(server, request(messages=messages))
    body = body_of(server)
    assert body["system"] == "sys\n\nBe brief."
    assert body["messages"] == [{"role": "user", "content": "hi"}]


# --- content -----------------------------------------------------------------------------


async def test_whole_text_stream(server: LoopbackServer) -> None:
    body = stream(
        message_start(25, 1, cache_read_input_tokens=16, cache_creation_input_tokens=0),
        text_start(0),
        PING,
        text_delta(0, "Hello"),
        text_delta(0, ", world"),
        text_delta(0, "!"),
        block_stop(0),
        message_delta("end_turn", 15),
        MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    assert await collect(server) == [
        ContentDelta("Hello"),
        ContentDelta(", world"),
        ContentDelta("!"),
        usage(25 + 16, 15, cached=16),  # cached input is input
        Finish("stop", "end_turn"),
    ]


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_stream_split_every_n_bytes(server: LoopbackServer, size: int) -> None:
    server.handler = reply_with(*split_every(text_stream(TEXT_TOKENS), size))
    events = await collect(server)
    assert events == [
        *(ContentDelta(t) for t in TEXT_TOKENS),
        usage(25, len(TEXT_TOKENS)),
        Finish("stop", "end_turn"),
    ]
    assert content(events) == TEXT


async def test_crlf_line_ends(server: LoopbackServer) -> None:
    server.handler = reply_with(*split_every(text_stream(TEXT_TOKENS, eol="\r\n"), 5))
    events = await collect(server)
    assert content(events) == TEXT
    assert events[-1] == Finish("stop", "end_turn")


async def test_thinking_block_then_text(server: LoopbackServer) -> None:
    body = stream(
        message_start(40, 3),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="The user wants "),
        delta(0, type="thinking_delta", thinking="a greeting."),
        delta(0, type="signature_delta", signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pk"),
        block_stop(0),
        text_start(1),
        text_delta(1, "Hi "),
        text_delta(1, "there"),
        block_stop(1),
        message_delta("end_turn", 52),
        MESSAGE_STOP,
    )
    server.handler = reply_with(*split_every(body, 13))
    assert await collect(server) == [
        ReasoningDelta("The user wants "),
        ReasoningDelta("a greeting."),
        ThinkingBlock({
            "type": "thinking",
            "thinking": "The user wants a greeting.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pk",
        }),
        ContentDelta("Hi "),
        ContentDelta("there"),
        usage(40, 52),
        Finish("stop", "end_turn"),
    ]


async def test_redacted_thinking_is_kept_citations_and_unknown_events_are_ignored(
    server: LoopbackServer,
) -> None:
    body = stream(
        message_start(),
        block_start(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}),
        block_stop(0),
        text_start(1),
        delta(1, type="citations_delta", citation={"type": "char_location", "cited_text": "x"}),
        text_delta(1, "cited"),
        block_stop(1),
        {"type": "some_future_event", "payload": 1},
        message_delta("end_turn", 3),
        MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    assert await collect(server) == [
        ThinkingBlock({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}),
        ContentDelta("cited"),
        usage(25, 3),
        Finish("stop", "end_turn"),
    ]


async def test_two_tool_use_blocks_with_tiny_json_fragments(server: LoopbackServer) -> None:
    weather = '{"city": "Paris", "unit": "°C"}'
    time_args = '{"tz": "Europe/Paris"}'
    body = stream(
        message_start(410, 2),
        text_start(0),
        text_delta(0, "Checking both."),
        block_stop(0),
        tool_start(1, "toolu_01A09q90qw90lq917835lq9", "get_weather"),
        json_delta(1, ""),
        *(json_delta(1, weather[i : i + 3]) for i in range(0, len(weather), 3)),
        block_stop(1),
        tool_start(2, "toolu_01B", "get_time"),
        *(json_delta(2, time_args[i : i + 2]) for i in range(0, len(time_args), 2)),
        block_stop(2),
        message_delta("tool_use", 89),
        MESSAGE_STOP,
    )
    server.handler = reply_with(*split_every(body, 7))
    events = await collect(server)
    assert events[:2] == [
        ContentDelta("Checking both."),
        ToolCallDelta(1, "toolu_01A09q90qw90lq917835lq9", "get_weather", ""),
    ]
    first = [e for e in events if isinstance(e, ToolCallDelta) and e.index == 1]
    second = [e for e in events if isinstance(e, ToolCallDelta) and e.index == 2]
    assert all(e.id is None and e.name is None for e in first[1:] + second[1:])
    assert [e.arguments_fragment for e in first[1:]] == [
        weather[i : i + 3] for i in range(0, len(weather), 3)
    ]
    assert second[0] == ToolCallDelta(2, "toolu_01B", "get_time", "")
    assert "".join(e.arguments_fragment for e in first) == weather
    assert json.loads("".join(e.arguments_fragment for e in second)) == {"tz": "Europe/Paris"}
    assert events[-2:] == [usage(410, 89), Finish("tool_calls", "tool_use")]


async def test_tool_use_without_parameters_gets_empty_object(server: LoopbackServer) -> None:
    body = stream(
        message_start(),
        tool_start(0, "toolu_1", "now"),
        json_delta(0, ""),
        block_stop(0),
        message_delta("tool_use", 12),
        MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    assert await collect(server) == [
        ToolCallDelta(0, "toolu_1", "now", ""),
        ToolCallDelta(0, None, None, "{}"),
        usage(25, 12),
        Finish("tool_calls", "tool_use"),
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("something_new", "stop"),
    ],
)
async def test_stop_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    server.handler = reply_with(text_stream(["a"], stop_reason=raw))
    assert (await collect(server))[-1] == Finish(reason, raw)  # type: ignore[arg-type]


async def test_message_stop_without_stop_reason(server: LoopbackServer) -> None:
    server.handler = reply_with(stream(message_start(), text_start(0), text_delta(0, "a"), MESSAGE_STOP))
    assert await collect(server) == [ContentDelta("a"), usage(25, 1), Finish("stop", None)]


async def test_cumulative_usage_in_message_delta_wins(server: LoopbackServer) -> None:
    body = stream(
        message_start(0, 1),
        text_start(0),
        text_delta(0, "a"),
        block_stop(0),
        message_delta("end_turn", 5, input_tokens=120, cache_read_input_tokens=100),
        MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    assert (await collect(server))[-2:] == [usage(220, 5, cached=100), Finish("stop", "end_turn")]


async def test_cached_input_counts_as_input_as_llama_server_reports_it(server: LoopbackServer) -> None:
    """llama-server over the Messages API: an 86-token prompt, 85 of them from its cache."""
    body = stream(
        message_start(1, 0, cache_read_input_tokens=85, cache_creation_input_tokens=0),
        text_start(0), text_delta(0, "a"), block_stop(0),
        message_delta("end_turn", 3), MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    events = await collect(server)
    assert events[-2] == Usage(86, 3, 89, cached_tokens=85)
    assert events[-1].model == "claude-sonnet-4-20250514"  # the answering model, from message_start


async def test_cache_creation_tokens_are_input_too(server: LoopbackServer) -> None:
    body = stream(
        message_start(10, 1, cache_creation_input_tokens=2000, cache_read_input_tokens=0),
        text_start(0), text_delta(0, "a"), block_stop(0), message_delta("end_turn", 4), MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    assert (await collect(server))[-2] == Usage(2010, 4, 2014, cached_tokens=0, cache_write_tokens=2000)


async def test_message_stop_as_the_last_unterminated_event(server: LoopbackServer) -> None:
    body = stream(message_start(), text_start(0), text_delta(0, "a"), message_delta("end_turn", 2))
    server.handler = reply_with(body, b'event: message_stop\ndata: {"type": "message_stop"}\n')
    assert await collect(server) == [ContentDelta("a"), usage(25, 2), Finish("stop", "end_turn")]


async def test_data_after_message_stop_is_ignored(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["a"]) + stream(text_delta(0, "late"), MESSAGE_STOP))
    assert await collect(server) == [ContentDelta("a"), usage(25, 1), Finish("stop", "end_turn")]


async def test_non_streaming_json_message(server: LoopbackServer) -> None:
    server.handler = lambda _request: json_reply(
        200,
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Whole answer 世界"},
                {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"x": 1}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 3},
        },
    )
    assert await collect(server) == [
        ReasoningDelta("hmm"),
        ThinkingBlock({"type": "thinking", "thinking": "hmm", "signature": "sig"}),
        ContentDelta("Whole answer 世界"),
        ToolCallDelta(2, "toolu_9", "f", '{"x": 1}'),
        usage(5, 3),
        Finish("tool_calls", "tool_use"),
    ]


# --- interrupted streams and in-band errors ----------------------------------------------

PARTIAL = stream(message_start(), text_start(0), PING, text_delta(0, "partial "), text_delta(0, "answer"))


async def test_overloaded_error_event_mid_stream(server: LoopbackServer) -> None:
    server.handler = reply_with(
        PARTIAL,
        stream({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        stream(text_delta(0, "never"), block_stop(0), message_delta("end_turn", 3), MESSAGE_STOP),
    )
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert error.message == "Overloaded"
    assert error.status == 529
    assert error.provider == "anthropic"


@pytest.mark.parametrize(
    ("type_", "status"), [("rate_limit_error", 429), ("api_error", None)]
)
async def test_other_error_events(server: LoopbackServer, type_: str, status: int | None) -> None:
    server.handler = reply_with(
        PARTIAL, stream({"type": "error", "error": {"type": type_, "message": "Something broke"}})
    )
    events, error = await collect_until_error(server, ServerError)
    assert content(events) == "partial answer"
    assert (error.message, error.status) == ("Something broke", status)


async def test_eof_after_message_delta_without_message_stop(server: LoopbackServer) -> None:
    server.handler = reply_with(PARTIAL, stream(block_stop(0), message_delta("end_turn", 3)))
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert "closed" in error.message
    assert error.status is None


async def test_eof_of_connection_close_body(server: LoopbackServer) -> None:
    server.handler = reply_with(PARTIAL, chunked=False)
    events, _ = await collect_until_error(server, StreamInterrupted)
    assert content(events) == "partial answer"


async def test_drop_mid_event(server: LoopbackServer) -> None:
    server.handler = reply_with(PARTIAL, b'event: content_block_delta\ndata: {"type": "content_bl', DROP)
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert "lost" in error.message


async def test_malformed_event_data(server: LoopbackServer) -> None:
    server.handler = reply_with(PARTIAL, b"event: content_block_delta\ndata: {not json\n\n")
    events, error = await collect_until_error(server, ServerError)
    assert content(events) == "partial answer"
    assert "malformed" in error.message and "{not json" in error.message


# --- HTTP errors -------------------------------------------------------------------------


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }


@pytest.mark.parametrize(
    ("status", "type_", "message", "kind"),
    [
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (
            403,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
            AuthenticationError,
        ),
        (404, "not_found_error", "model: claude-nope", NotFoundError),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            RateLimitError,
        ),
        (500, "api_error", "Internal server error", ServerError),
        (529, "overloaded_error", "Overloaded", ServerError),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.",
         BadRequestError),
        (400, "invalid_request_error", "prompt is too long: 210345 tokens > 200000 maximum",
         ContextLengthError),
        (400, "invalid_request_error", "max_tokens: Field required", BadRequestError),
    ],
)
async def test_http_errors(
    server: LoopbackServer, status: int, type_: str, message: str, kind: type[ProviderError]
) -> None:
    server.handler = lambda _request: json_reply(status, anthropic_error(type_, message))
    events, error = await collect_until_error(server, kind)
    assert events == []
    assert type(error) is kind
    assert (error.status, error.message, error.provider) == (status, message, "anthropic")


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=5) as client:
        provider = AnthropicProvider(client=client, base_url=f"http://127.0.0.1:{port}", api_key="k")
        with pytest.raises(ConnectError) as info:
            async for _ in provider.stream(request()):
                pass
    assert info.value.status is None
    assert f"127.0.0.1:{port}/v1/messages" in info.value.message


# --- cancellation and wiring ---------------------------------------------------------------


async def test_cancel_closes_the_connection(server: LoopbackServer) -> None:
    server.handler = reply_with(
        PARTIAL, 30.0, stream(text_delta(0, " late"), message_delta("end_turn", 3), MESSAGE_STOP)
    )
    received = asyncio.Event()
    events: list[StreamEvent] = []

    async def consume(provider: AnthropicProvider) -> None:
        async for e in provider.stream(request()):
            events.append(e)
            if e == ContentDelta("answer"):
                received.set()

    async with httpx.AsyncClient(timeout=10) as client:
        provider = AnthropicProvider(client=client, base_url=root(server), api_key="k")
        task = asyncio.create_task(consume(provider))
        await asyncio.wait_for(received.wait(), 5)
        assert not server.disconnected.is_set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.disconnected.wait, 15)  # well before the 30 s pause ends
    assert events == [ContentDelta("partial "), ContentDelta("answer")]


async def test_create_provider(server: LoopbackServer) -> None:
    server.handler = reply_with(text_stream(["ok"]))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = create_provider(
            "anthropic", client=client, name="claude", base_url=root(server) + "/v1", api_key="k"
        )
        assert isinstance(provider, AnthropicProvider)
        assert provider.name == "claude"
        events = [e async for e in provider.stream(request())]
    assert content(events) == "ok"
    assert server.requests[0].path == "/v1/messages"
    assert server.requests[0].headers["x-api-key"] == "k"
