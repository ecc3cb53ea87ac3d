"""OpenAIProvider against a real HTTP server on 127.0.0.1 (tests/loopback.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

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
    RefusalDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import (
    DROP,
    LoopbackServer,
    Reply,
    Request,
    chunk,
    completion,
    json_reply,
    split_every,
    sse,
)

TEXT_TOKENS = ["h", "é", "llo", " 世", "界", " 🎉", "!"]
TEXT = "héllo 世界 🎉!"


def request() -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], system="sys")


def reply_with(*parts: Any, chunked: bool = True) -> Callable[[Request], Reply]:
    return lambda _request: Reply(parts=list(parts), chunked=chunked)


async def collect(
    server: LoopbackServer, *, api_key: str | None = "sk-test", base_url: str | None = None
) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(
            client=client, base_url=base_url or server.base_url, api_key=api_key
        )
        return [event async for event in provider.stream(request())]


async def collect_until_error(
    server: LoopbackServer, error: type[ProviderError]
) -> tuple[list[StreamEvent], ProviderError]:
    """Events received before the stream raised `error`, and the error."""
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        with pytest.raises(error) as info:
            async for event in provider.stream(request()):
                events.append(event)
    return events, info.value


def content(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


def usage(prompt: int, completion_: int, total: int, **extra: Any) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion_, "total_tokens": total, **extra}


# --- request ---------------------------------------------------------------------------


async def test_request_shape(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["ok"]))
    events = await collect(server)
    assert events[-1] == Finish("stop", "stop")

    assert len(server.requests) == 1
    req = server.requests[0]
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert body["model"] == "m"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
    ]
    assert "tools" not in body


async def test_base_url_trailing_slash(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["ok"]))
    await collect(server, base_url=server.base_url + "/")
    assert server.requests[0].path == "/v1/chat/completions"


async def test_no_authorization_header_without_api_key(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["ok"]))
    events = await collect(server, api_key=None)
    assert content(events) == "ok"
    assert "authorization" not in server.requests[0].headers


# --- content ---------------------------------------------------------------------------


async def test_whole_stream(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["Hello", ",", " world", "!"]))
    assert await collect(server) == [
        ContentDelta("Hello"),
        ContentDelta(","),
        ContentDelta(" world"),
        ContentDelta("!"),
        Usage(input_tokens=7, output_tokens=4, total_tokens=11),
        Finish("stop", "stop"),
    ]


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_stream_split_every_n_bytes(server: LoopbackServer, size: int) -> None:
    body = completion(TEXT_TOKENS)
    server.handler = reply_with(*split_every(body, size))
    events = await collect(server)
    assert events == [
        *(ContentDelta(t) for t in TEXT_TOKENS),
        Usage(input_tokens=7, output_tokens=len(TEXT_TOKENS), total_tokens=7 + len(TEXT_TOKENS)),
        Finish("stop", "stop"),
    ]
    assert content(events) == TEXT


async def test_crlf_line_ends(server: LoopbackServer) -> None:
    body = sse(chunk("", role=True), *(chunk(t) for t in TEXT_TOKENS), chunk(finish="stop"), eol="\r\n")
    server.handler = reply_with(*split_every(body, 5))
    events = await collect(server)
    assert events == [*(ContentDelta(t) for t in TEXT_TOKENS), Finish("stop", "stop")]


async def test_keep_alive_comments_interleaved(server: LoopbackServer) -> None:
    server.handler = reply_with(
        b": OPENROUTER PROCESSING\n\n",
        sse(chunk("", role=True), done=False),
        b": keep-alive\n\n",
        sse(chunk("a"), done=False),
        b":\n\n",
        sse(chunk("b"), done=False),
        b": ping\n",
        sse(chunk(finish="stop")),
        b": after done\n\n",
    )
    assert await collect(server) == [ContentDelta("a"), ContentDelta("b"), Finish("stop", "stop")]


async def test_sse_events_with_event_name_message(server: LoopbackServer) -> None:
    body = b"".join(
        b"event: message\nid: %d\ndata: %s\n\n" % (i, json.dumps(obj).encode())
        for i, obj in enumerate([chunk("x"), chunk("y", finish="stop")])
    ) + b"data: [DONE]\n\n"
    server.handler = reply_with(body)
    assert await collect(server) == [ContentDelta("x"), ContentDelta("y"), Finish("stop", "stop")]


# --- usage -----------------------------------------------------------------------------


async def test_usage_from_final_empty_choices_chunk(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(
            chunk("", role=True),
            chunk("Hi"),
            chunk(finish="stop"),
            chunk(
                empty_choices=True,
                usage=usage(
                    20,
                    9,
                    29,
                    prompt_tokens_details={"cached_tokens": 16},
                    completion_tokens_details={"reasoning_tokens": 5},
                ),
            ),
        )
    )
    assert await collect(server) == [
        ContentDelta("Hi"),
        Usage(input_tokens=20, output_tokens=9, total_tokens=29, cached_tokens=16, reasoning_tokens=5),
        Finish("stop", "stop"),
    ]


async def test_usage_on_a_chunk_with_choices(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(chunk("a"), chunk("b", finish="stop", usage=usage(3, 2, 5)))
    )
    assert await collect(server) == [
        ContentDelta("a"),
        ContentDelta("b"),
        Usage(input_tokens=3, output_tokens=2, total_tokens=5),
        Finish("stop", "stop"),
    ]


async def test_usage_before_finish_is_still_given_last(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(chunk("a", usage=usage(1, 1, 2)), chunk("b"), chunk(finish="stop"))
    )
    assert await collect(server) == [
        ContentDelta("a"),
        ContentDelta("b"),
        Usage(input_tokens=1, output_tokens=1, total_tokens=2),
        Finish("stop", "stop"),
    ]


async def test_usage_null_details(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(
            chunk("a", finish="stop"),
            chunk(
                empty_choices=True,
                usage=usage(4, 1, 5, prompt_tokens_details=None, completion_tokens_details=None),
            ),
        )
    )
    events = await collect(server)
    assert events[-2:] == [Usage(input_tokens=4, output_tokens=1, total_tokens=5), Finish("stop", "stop")]


async def test_no_usage_reported_gives_no_usage_event(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["a", "b"], usage=False))
    events = await collect(server)
    assert events == [ContentDelta("a"), ContentDelta("b"), Finish("stop", "stop")]
    assert not any(isinstance(e, Usage) for e in events)


# --- finish ----------------------------------------------------------------------------


async def test_finish_without_done_then_close(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["a"], done=False))
    assert await collect(server) == [
        ContentDelta("a"),
        Usage(input_tokens=7, output_tokens=1, total_tokens=8),
        Finish("stop", "stop"),
    ]


async def test_finish_without_done_connection_close_body(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["a"], done=False, usage=False), chunked=False)
    assert await collect(server) == [ContentDelta("a"), Finish("stop", "stop")]


async def test_done_without_finish_reason(server: LoopbackServer) -> None:
    server.handler = reply_with(sse(chunk("a")))
    assert await collect(server) == [ContentDelta("a"), Finish("stop", None)]


async def test_finish_reason_length(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["a", "b"], finish="length", usage=False))
    assert await collect(server) == [ContentDelta("a"), ContentDelta("b"), Finish("length", "length")]


async def test_content_filter_finish(server: LoopbackServer) -> None:
    server.handler = reply_with(completion(["a"], finish="content_filter", usage=False))
    assert (await collect(server))[-1] == Finish("content_filter", "content_filter")


async def test_data_after_done_is_ignored(server: LoopbackServer) -> None:
    server.handler = reply_with(sse(chunk("a", finish="stop")) + sse(chunk("late"), done=False))
    assert await collect(server) == [ContentDelta("a"), Finish("stop", "stop")]


async def test_tool_calls_by_index(server: LoopbackServer) -> None:
    def call(index: int, args: str, id_: str | None = None, name: str | None = None) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": args}
        if name is not None:
            function["name"] = name
        out: dict[str, Any] = {"index": index, "function": function}
        if id_ is not None:
            out["id"] = id_
            out["type"] = "function"
        return out

    fragments = [
        call(0, "", "call_a", "get_weather"),
        call(0, '{"ci'),
        call(0, 'ty": '),
        call(1, "", "call_b", "get_time"),
        call(0, '"Paris"}'),
        call(1, '{"tz"'),
        call(1, ': "CET"}'),
    ]
    body = sse(
        chunk(role=True, content=None),
        *(chunk(tool_calls=[f]) for f in fragments),
        chunk(finish="tool_calls"),
    )
    server.handler = reply_with(*split_every(body, 11))
    events = await collect(server)
    assert events == [
        ToolCallDelta(0, "call_a", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"ci'),
        ToolCallDelta(0, None, None, 'ty": '),
        ToolCallDelta(1, "call_b", "get_time", ""),
        ToolCallDelta(0, None, None, '"Paris"}'),
        ToolCallDelta(1, None, None, '{"tz"'),
        ToolCallDelta(1, None, None, ': "CET"}'),
        Finish("tool_calls", "tool_calls"),
    ]
    args: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            args[e.index] = args.get(e.index, "") + e.arguments_fragment
    assert json.loads(args[0]) == {"city": "Paris"}
    assert json.loads(args[1]) == {"tz": "CET"}


async def test_reasoning_fields(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(
            chunk(reasoning_content="Let me "),
            chunk(reasoning_content="think."),
            chunk(reasoning="Other "),
            chunk(reasoning="field."),
            chunk("Answer"),
            chunk(finish="stop"),
        )
    )
    assert await collect(server) == [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        ReasoningDelta("Other "),
        ReasoningDelta("field."),
        ContentDelta("Answer"),
        Finish("stop", "stop"),
    ]


async def test_refusal(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(chunk(refusal="I can't "), chunk(refusal="help with that."), chunk(finish="stop"))
    )
    assert await collect(server) == [
        RefusalDelta("I can't "),
        RefusalDelta("help with that."),
        Finish("stop", "stop"),
    ]


# --- interrupted streams and in-band errors ---------------------------------------------


async def test_drop_mid_chunked_body_raises_stream_interrupted(server: LoopbackServer) -> None:
    body = sse(chunk("", role=True), chunk("one"), chunk("two"), done=False)
    server.handler = reply_with(body, b'data: {"choices": [{"ind', DROP)
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("one"), ContentDelta("two")]
    assert error.status is None


async def test_clean_close_of_connection_close_body_raises_stream_interrupted(
    server: LoopbackServer,
) -> None:
    body = sse(chunk("", role=True), chunk("one"), chunk("two"), done=False)
    server.handler = reply_with(body, chunked=False)
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("one"), ContentDelta("two")]
    assert "closed" in error.message


async def test_clean_close_of_chunked_body_without_finish(server: LoopbackServer) -> None:
    server.handler = reply_with(sse(chunk("one"), done=False))
    events, _ = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("one")]


async def test_drop_before_any_byte_of_body(server: LoopbackServer) -> None:
    server.handler = reply_with(DROP)
    events, _ = await collect_until_error(server, StreamInterrupted)
    assert events == []


async def test_in_band_error_object(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(chunk("", role=True), chunk("partial "), chunk("answer"), done=False),
        b'data: {"error": {"message": "overloaded", "code": 502}}\n\n',
        sse(chunk("never"), chunk(finish="stop")),
    )
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert error.message == "overloaded"
    assert error.status == 502


async def test_error_event(server: LoopbackServer) -> None:
    server.handler = reply_with(
        sse(chunk("a"), done=False),
        b'event: error\ndata: {"error": {"message": "boom", "type": "server_error"}}\n\n',
    )
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("a")]
    assert error.message == "boom"


async def test_malformed_json_data(server: LoopbackServer) -> None:
    server.handler = reply_with(sse(chunk("a"), done=False), b"data: {not json\n\n")
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("a")]
    assert "malformed" in error.message
    assert "{not json" in error.message


# --- HTTP errors -----------------------------------------------------------------------


def openai_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            401,
            openai_error("Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"),
            AuthenticationError,
            "Incorrect API key provided: sk-test.",
        ),
        (
            403,
            openai_error("You are not allowed to sample from this model", "invalid_request_error", None),
            AuthenticationError,
            "You are not allowed to sample from this model",
        ),
        (
            404,
            openai_error("The model `m` does not exist", "invalid_request_error", "model_not_found"),
            NotFoundError,
            "The model `m` does not exist",
        ),
        (
            429,
            openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
            RateLimitError,
            "Rate limit reached for requests",
        ),
        (
            500,
            openai_error("The server had an error while processing your request.", "server_error", None),
            ServerError,
            "The server had an error while processing your request.",
        ),
        (
            400,
            openai_error(
                "This model's maximum context length is 8192 tokens.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            ContextLengthError,
            "This model's maximum context length is 8192 tokens.",
        ),
        (
            400,
            openai_error("Invalid value for 'temperature'.", "invalid_request_error", None),
            BadRequestError,
            "Invalid value for 'temperature'.",
        ),
    ],
)
async def test_http_errors(
    server: LoopbackServer, status: int, body: dict[str, Any], kind: type[ProviderError], message: str
) -> None:
    server.handler = lambda _request: json_reply(status, body)
    events, error = await collect_until_error(server, kind)
    assert events == []
    assert type(error) is kind
    assert error.status == status
    assert error.message == message
    assert error.provider == "openai"


async def test_context_length_error_is_a_bad_request(server: LoopbackServer) -> None:
    server.handler = lambda _request: json_reply(
        400, openai_error("too long", "invalid_request_error", "context_length_exceeded")
    )
    _, error = await collect_until_error(server, BadRequestError)
    assert isinstance(error, ContextLengthError)


async def test_plain_text_error_body(server: LoopbackServer) -> None:
    server.handler = lambda _request: Reply(
        status=502, parts=[b"Bad Gateway: upstream ", b"timed out\n"], headers={"content-type": "text/plain"}
    )
    events, error = await collect_until_error(server, ServerError)
    assert events == []
    assert error.status == 502
    assert error.message == "Bad Gateway: upstream timed out"


async def test_error_status_with_event_stream_content_type(server: LoopbackServer) -> None:
    server.handler = lambda _request: Reply(
        status=429, parts=[json.dumps({"error": {"message": "slow down"}}).encode()]
    )
    _, error = await collect_until_error(server, RateLimitError)
    assert error.message == "slow down"
    assert error.status == 429


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=5) as client:
        provider = OpenAIProvider(client=client, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test")
        with pytest.raises(ConnectError) as info:
            async for _ in provider.stream(request()):
                pass
    assert info.value.status is None
    assert f"127.0.0.1:{port}" in info.value.message


# --- non-streaming answer ----------------------------------------------------------------


async def test_non_streaming_json_completion(server: LoopbackServer) -> None:
    server.handler = lambda _request: json_reply(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Whole answer 世界"},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage(5, 3, 8),
        },
    )
    assert await collect(server) == [
        ContentDelta("Whole answer 世界"),
        Usage(input_tokens=5, output_tokens=3, total_tokens=8),
        Finish("stop", "stop"),
    ]


# --- cancellation ------------------------------------------------------------------------


def slow_stream(_request: Request) -> Reply:
    return Reply(
        parts=[
            sse(chunk("", role=True), done=False),
            sse(chunk("first"), done=False),
            sse(chunk(" second"), done=False),
            30.0,
            sse(chunk(" late"), chunk(finish="stop")),
        ]
    )


async def test_cancel_closes_the_connection(server: LoopbackServer) -> None:
    server.handler = slow_stream
    first = asyncio.Event()
    events: list[StreamEvent] = []

    async def consume(provider: OpenAIProvider) -> None:
        async for event in provider.stream(request()):
            events.append(event)
            if isinstance(event, ContentDelta):
                first.set()

    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        task = asyncio.create_task(consume(provider))
        await asyncio.wait_for(first.wait(), 5)
        assert not server.disconnected.is_set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.disconnected.wait, 15)  # well before the 30 s pause ends
    assert ContentDelta("first") in events
    assert ContentDelta(" late") not in events
    assert not any(isinstance(e, Finish) for e in events)


async def test_aclose_closes_the_connection(server: LoopbackServer) -> None:
    server.handler = slow_stream
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        async with contextlib.aclosing(provider.stream(request())) as stream:
            async for event in stream:
                assert event == ContentDelta("first")
                break
        assert await asyncio.to_thread(server.disconnected.wait, 15)  # well before the 30 s pause ends


async def test_event_error_frame_carries_status_from_its_code(server: LoopbackServer) -> None:
    server.handler = lambda request: Reply(
        parts=[sse(chunk("partial"), done=False),
               b'event: error\ndata: {"error": {"message": "upstream died", "code": "502"}}\n\n']
    )
    got: list[StreamEvent] = []
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        with pytest.raises(ServerError) as info:
            async for event in provider.stream(ChatRequest(model="m", messages=[])):
                got.append(event)
    assert got == [ContentDelta("partial")]
    assert info.value.message == "upstream died" and info.value.status == 502


async def test_event_error_in_the_last_unterminated_event_is_still_an_error(server: LoopbackServer) -> None:
    server.handler = lambda request: Reply(parts=[b"event: error\ndata: quota exceeded\n"])
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        with pytest.raises(ServerError) as info:
            async for _ in provider.stream(ChatRequest(model="m", messages=[])):
                pass
    assert info.value.message == "quota exceeded"
