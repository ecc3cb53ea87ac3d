"""OllamaProvider against a real HTTP server on 127.0.0.1 (tests/loopback.py).

The bodies are shaped like recorded ``/api/chat`` streams (Ollama API reference, "Generate a
chat completion"): one JSON object per line, the last one ``done: true`` with its counts.
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
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    BadRequestError,
    ConnectError,
    NotFoundError,
    ProviderError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.ollama import OllamaProvider
from tests.loopback import DROP, LoopbackServer, Reply, Request, json_reply, split_every

TEXT_TOKENS = ["h", "é", "llo", " 世", "界", " 🎉", "!"]
TEXT = "héllo 世界 🎉!"
NDJSON = {"content-type": "application/x-ndjson"}


# --- recorded-shaped lines -----------------------------------------------------------------


def line(
    content: str = "",
    *,
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    eol: str = "\n",
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    obj = {
        "model": "qwen3:8b",
        "created_at": "2025-05-27T22:54:57.641643Z",
        "message": message,
        "done": False,
    }
    return (json.dumps(obj, ensure_ascii=False) + eol).encode()


def done(
    reason: str | None = "stop", prompt: int | None = 26, completion: int | None = 282, eol: str = "\n"
) -> bytes:
    obj: dict[str, Any] = {
        "model": "qwen3:8b",
        "created_at": "2025-05-27T22:54:58.100509Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_duration": 342546000,
        "eval_duration": 4535599000,
    }
    if reason is not None:
        obj["done_reason"] = reason
    if prompt is not None:
        obj["prompt_eval_count"] = prompt
    if completion is not None:
        obj["eval_count"] = completion
    return (json.dumps(obj) + eol).encode()


def call(name: str, arguments: Any, id_: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"function": {"name": name, "arguments": arguments}}
    if id_ is not None:
        out["id"] = id_
    return out


def usage(prompt: int = 26, completion: int = 282) -> Usage:
    return Usage(prompt, completion, prompt + completion)


# --- helpers -----------------------------------------------------------------------------


def request(**kwargs: Any) -> ChatRequest:
    kwargs.setdefault("messages", [{"role": "user", "content": "hi"}])
    kwargs.setdefault("system", "sys")
    return ChatRequest(model="qwen3:8b", **kwargs)


def reply_with(*parts: Any, chunked: bool = True) -> Callable[[Request], Reply]:
    return lambda _request: Reply(parts=list(parts), headers=dict(NDJSON), chunked=chunked)


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def collect(
    server: LoopbackServer,
    req: ChatRequest | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=base_url or root(server), api_key=api_key)
        return [e async for e in provider.stream(req or request())]


async def collect_until_error(
    server: LoopbackServer, error: type[ProviderError]
) -> tuple[list[StreamEvent], ProviderError]:
    """Events received before the stream raised `error`, and the error."""
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server))
        with pytest.raises(error) as info:
            async for e in provider.stream(request()):
                events.append(e)
    return events, info.value


def content(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


def text_body(tokens: list[str], eol: str = "\n") -> bytes:
    return b"".join(line(t, eol=eol) for t in tokens) + done(completion=len(tokens), eol=eol)


# --- request -----------------------------------------------------------------------------


async def test_request_path_headers_and_body(server: LoopbackServer) -> None:
    server.handler = reply_with(text_body(["ok"]))
    events = await collect(server)
    assert events[-1] == Finish("stop", "stop")
    req = server.requests[0]
    assert req.method == "POST"
    assert req.path == "/api/chat"
    assert req.headers["content-type"] == "application/json"
    assert "authorization" not in req.headers
    assert req.json() == {
        "model": "qwen3:8b",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
        "stream": True,
    }


async def test_api_key_is_sent_as_bearer(server: LoopbackServer) -> None:
    server.handler = reply_with(text_body(["ok"]))
    await collect(server, api_key="ollama-cloud-key")
    assert server.requests[0].headers["authorization"] == "Bearer ollama-cloud-key"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/api/"])
async def test_base_url_forms(server: LoopbackServer, suffix: str) -> None:
    server.handler = reply_with(text_body(["ok"]))
    await collect(server, base_url=root(server) + suffix)
    assert server.requests[0].path == "/api/chat"


async def test_options_mapping(server: LoopbackServer) -> None:
    server.handler = reply_with(text_body(["ok"]))
    options = {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 42,
        "max_tokens": 256,
        "stop": "</s>",
        "num_ctx": 8192,
        "keep_alive": "10m",
        "reasoning_effort": "high",
        "stream_options": {"include_usage": True},
    }
    await collect(server, request(system=None, options=options))
    assert server.requests[0].json() == {
        "model": "qwen3:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "think": "high",
        "keep_alive": "10m",
        "options": {
            "temperature": 0.7,
            "top_p": 0.9,
            "top_k": 40,
            "seed": 42,
            "num_predict": 256,
            "stop": ["</s>"],
            "num_ctx": 8192,
        },
    }


@pytest.mark.parametrize(
    ("options", "think"),
    [({"think": True}, True), ({"think": False}, False), ({"reasoning_effort": "none"}, False),
     ({"think": False, "reasoning_effort": "high"}, False), ({"thinking_budget": 4096}, True),
     ({"thinking_budget": 0}, False), ({"thinking_budget": 9, "reasoning_effort": "low"}, "low")],
)
async def test_think_option(server: LoopbackServer, options: dict[str, Any], think: Any) -> None:
    server.handler = reply_with(text_body(["ok"]))
    await collect(server, request(options=options))
    body = server.requests[0].json()
    assert body["think"] == think
    assert "options" not in body


async def test_tool_conversation_and_tools(server: LoopbackServer) -> None:
    server.handler = reply_with(text_body(["ok"]))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "18°C"},
        {"role": "tool", "tool_call_id": "call_unknown", "content": "?"},
    ]
    await collect(server, request(messages=messages, tools=tools, options={"stop": ["a", "b"]}))
    body = server.requests[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_0"}
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "18°C", "tool_name": "get_weather"},
        {"role": "tool", "tool_call_id": "call_unknown", "content": "?"},
    ]
    assert body["tools"] == tools
    assert body["options"] == {"stop": ["a", "b"]}


# --- content -----------------------------------------------------------------------------


async def test_whole_stream(server: LoopbackServer) -> None:
    server.handler = reply_with(line("Hello"), line(", world"), line("!"), done("stop", 26, 3))
    assert await collect(server) == [
        ContentDelta("Hello"),
        ContentDelta(", world"),
        ContentDelta("!"),
        usage(26, 3),
        Finish("stop", "stop"),
    ]


@pytest.mark.parametrize("size", [1, 3, 7])
async def test_stream_split_every_n_bytes(server: LoopbackServer, size: int) -> None:
    server.handler = reply_with(*split_every(text_body(TEXT_TOKENS), size))
    events = await collect(server)
    assert events == [
        *(ContentDelta(t) for t in TEXT_TOKENS),
        usage(26, len(TEXT_TOKENS)),
        Finish("stop", "stop"),
    ]
    assert content(events) == TEXT


async def test_crlf_line_ends(server: LoopbackServer) -> None:
    server.handler = reply_with(*split_every(text_body(TEXT_TOKENS, eol="\r\n"), 5))
    events = await collect(server)
    assert content(events) == TEXT
    assert events[-2:] == [usage(26, len(TEXT_TOKENS)), Finish("stop", "stop")]


async def test_thinking_then_content(server: LoopbackServer) -> None:
    server.handler = reply_with(
        line(thinking="Okay, the user "),
        line(thinking="says hi."),
        line("Hi", thinking=""),
        line(" there!"),
        done("stop", 11, 40),
    )
    assert await collect(server) == [
        ReasoningDelta("Okay, the user "),
        ReasoningDelta("says hi."),
        ContentDelta("Hi"),
        ContentDelta(" there!"),
        usage(11, 40),
        Finish("stop", "stop"),
    ]


async def test_tool_calls(server: LoopbackServer) -> None:
    server.handler = reply_with(
        *split_every(
            line(thinking="Need the weather.")
            + line(tool_calls=[call("get_weather", {"city": "Zürich", "unit": "c"})])
            + line(tool_calls=[call("get_time", {}, "call_abc"), call("echo", '{"s": "x"}')])
            + done("stop", 300, 25),
            9,
        )
    )
    events = await collect(server)
    assert events == [
        ReasoningDelta("Need the weather."),
        ToolCallDelta(0, "call_0", "get_weather", '{"city": "Zürich", "unit": "c"}'),
        ToolCallDelta(1, "call_abc", "get_time", "{}"),
        ToolCallDelta(2, "call_2", "echo", '{"s": "x"}'),
        usage(300, 25),
        Finish("tool_calls", "stop"),
    ]
    first = events[1]
    assert isinstance(first, ToolCallDelta)
    assert json.loads(first.arguments_fragment) == {"city": "Zürich", "unit": "c"}


@pytest.mark.parametrize(
    ("raw", "reason"), [("stop", "stop"), ("length", "length"), ("load", "stop"), ("unload", "stop")]
)
async def test_done_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    server.handler = reply_with(line("a"), done(raw, 5, 1))
    expected = [ContentDelta("a"), usage(5, 1), Finish(reason, raw)]  # type: ignore[arg-type]
    assert await collect(server) == expected


async def test_done_without_reason_or_counts(server: LoopbackServer) -> None:
    server.handler = reply_with(line("a"), done(None, None, None))
    assert await collect(server) == [ContentDelta("a"), Finish("stop", None)]


async def test_done_line_with_content_and_without_trailing_newline(server: LoopbackServer) -> None:
    last = json.dumps({"message": {"role": "assistant", "content": "end"}, "done": True,
                       "done_reason": "stop", "prompt_eval_count": 2, "eval_count": 2})
    server.handler = reply_with(line("a"), last.encode())
    assert await collect(server) == [
        ContentDelta("a"),
        ContentDelta("end"),
        usage(2, 2),
        Finish("stop", "stop"),
    ]


async def test_lines_after_done_are_ignored(server: LoopbackServer) -> None:
    server.handler = reply_with(line("a"), done("stop", 1, 1), line("late"), b"{not json\n")
    assert await collect(server) == [ContentDelta("a"), usage(1, 1), Finish("stop", "stop")]


# --- interrupted streams and in-band errors ----------------------------------------------


async def test_error_line_mid_stream(server: LoopbackServer) -> None:
    server.handler = reply_with(
        line("partial "),
        line("answer"),
        b'{"error":"an error was encountered while running the model: unexpected EOF"}\n',
        line("never"),
        done(),
    )
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert error.message == "an error was encountered while running the model: unexpected EOF"
    assert error.status is None
    assert error.provider == "ollama"


async def test_eof_before_done(server: LoopbackServer) -> None:
    server.handler = reply_with(line("partial "), line("answer"))
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("partial "), ContentDelta("answer")]
    assert "closed" in error.message


async def test_eof_before_done_connection_close_body(server: LoopbackServer) -> None:
    server.handler = reply_with(line("partial"), chunked=False)
    events, _ = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("partial")]


async def test_drop_mid_line(server: LoopbackServer) -> None:
    server.handler = reply_with(line("partial"), b'{"model":"qwen3:8b","mess', DROP)
    events, error = await collect_until_error(server, StreamInterrupted)
    assert events == [ContentDelta("partial")]
    assert "lost" in error.message


async def test_malformed_line(server: LoopbackServer) -> None:
    server.handler = reply_with(line("a"), b"{not json\n", done())
    events, error = await collect_until_error(server, ServerError)
    assert events == [ContentDelta("a")]
    assert "malformed" in error.message and "{not json" in error.message


# --- HTTP errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (404, 'model "llama9" not found, try pulling it first', NotFoundError),
        (400, "registry.ollama.ai/library/gemma:2b does not support tools", BadRequestError),
        (500, "llama runner process has terminated: signal: killed", ServerError),
    ],
)
async def test_http_errors(
    server: LoopbackServer, status: int, message: str, kind: type[ProviderError]
) -> None:
    server.handler = lambda _request: json_reply(status, {"error": message})
    events, error = await collect_until_error(server, kind)
    assert events == []
    assert type(error) is kind
    assert (error.status, error.message, error.provider) == (status, message, "ollama")


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=5) as client:
        provider = OllamaProvider(client=client, base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(ConnectError) as info:
            async for _ in provider.stream(request()):
                pass
    assert info.value.status is None
    assert f"127.0.0.1:{port}/api/chat" in info.value.message


# --- cancellation and wiring ---------------------------------------------------------------


async def test_cancel_closes_the_connection(server: LoopbackServer) -> None:
    server.handler = reply_with(line("first"), line(" second"), 30.0, line(" late"), done())
    received = asyncio.Event()
    events: list[StreamEvent] = []

    async def consume(provider: OllamaProvider) -> None:
        async for e in provider.stream(request()):
            events.append(e)
            if e == ContentDelta(" second"):
                received.set()

    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server))
        task = asyncio.create_task(consume(provider))
        await asyncio.wait_for(received.wait(), 5)
        assert not server.disconnected.is_set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.disconnected.wait, 15)  # well before the 30 s pause ends
    assert events == [ContentDelta("first"), ContentDelta(" second")]


async def test_create_provider(server: LoopbackServer) -> None:
    server.handler = reply_with(text_body(["ok"]))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = create_provider(
            "ollama", client=client, name="ollama", base_url=root(server), api_key=None
        )
        assert isinstance(provider, OllamaProvider)
        events = [e async for e in provider.stream(request())]
    assert content(events) == "ok"
    assert server.requests[0].path == "/api/chat"
