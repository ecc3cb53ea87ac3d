"""Every documented mapping of each wire protocol, one row per value, through the real loopback
server: finish / stop / done reasons to DESIGN.md's finish reasons, usage fields to Usage, and
HTTP statuses and in-band error types to exception classes.

The tables are written from the providers' documentation, not read from the modules' own
dictionaries (a wrong edit there would change the expected value too):
- OpenAI Chat Completions ``finish_reason``: stop, length, tool_calls, content_filter,
  function_call (deprecated); compatible servers also send eos (TGI), end_turn / stop_sequence /
  max_tokens / tool_use (Anthropic-style proxies), refusal and error (LiteLLM, OpenRouter);
- Anthropic Messages ``stop_reason``: end_turn, max_tokens, stop_sequence, tool_use, pause_turn,
  refusal, model_context_window_exceeded;
- Ollama ``done_reason``: stop, length, load, unload.
An unknown value is "stop", with the raw value kept for the user to see.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from llmchat.providers.events import ContentDelta, Finish, StreamEvent, ToolCallDelta, Usage
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, json_reply, sse

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def collect(server: LoopbackServer, kind: str) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        if kind == "openai":
            provider: Any = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        elif kind == "anthropic":
            provider = AnthropicProvider(client=client, base_url=root(server), api_key="k")
        else:
            provider = OllamaProvider(client=client, base_url=root(server))
        return [event async for event in provider.stream(REQUEST)]


# --- OpenAI Chat Completions ------------------------------------------------------------------

OPENAI_FINISH = [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"), ("content_filter", "content_filter"),
    ("function_call", "tool_calls"), ("eos", "stop"), ("end_turn", "stop"), ("stop_sequence", "stop"),
    ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("error", "error"),
    ("something_new", "stop"),
]


@pytest.mark.parametrize(("raw", "reason"), OPENAI_FINISH)
async def test_openai_finish_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("", role=True), chunk("a"), chunk(finish=raw))])
    assert await collect(server, "openai") == [ContentDelta("a"), Finish(reason, raw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}, Usage(7, 3, 10)),
        ({"prompt_tokens": 7, "completion_tokens": 3}, Usage(7, 3, 10)),  # no total: the sum
        ({"prompt_tokens": 7}, Usage(7, 0, 7)),
        ({"completion_tokens": 3}, Usage(0, 3, 3)),
        ({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 12}, Usage(7, 3, 12)),  # the server's total
        ({"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109,
          "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 5}},
         Usage(100, 9, 109, cached_tokens=64, reasoning_tokens=5)),  # cached is part of prompt_tokens
        ({"prompt_tokens": 100, "completion_tokens": 9, "prompt_cache_hit_tokens": 80},
         Usage(100, 9, 109, cached_tokens=80)),  # DeepSeek
        ({"prompt_tokens": 100, "completion_tokens": 9, "cache_read_input_tokens": 70},
         Usage(100, 9, 109, cached_tokens=70)),  # LiteLLM
        ({"prompt_tokens": 100, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 0},
          "prompt_cache_hit_tokens": 80}, Usage(100, 9, 109, cached_tokens=0)),  # the standard field wins
        ({"prompt_tokens": 5, "completion_tokens": 2, "prompt_tokens_details": None,
          "completion_tokens_details": None}, Usage(5, 2, 7)),
        ({"total_tokens": 9}, None),  # no counts: no Usage event
    ],
)
async def test_openai_usage_fields(server: LoopbackServer, usage: dict[str, Any], expected: Usage | None) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("a"), chunk(finish="stop"), chunk(empty_choices=True, usage=usage))])
    events = await collect(server, "openai")
    assert events == [ContentDelta("a"), *([expected] if expected else []), Finish("stop", "stop")]


async def test_openai_usage_is_cumulative_the_last_wins(server: LoopbackServer) -> None:
    first = {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}
    last = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    server.handler = lambda _r: Reply(parts=[sse(chunk("a", usage=first), chunk("b", usage=last), chunk(finish="stop"))])
    assert await collect(server, "openai") == [ContentDelta("a"), ContentDelta("b"), Usage(4, 2, 6), Finish("stop", "stop")]


# --- Anthropic Messages -----------------------------------------------------------------------

def event(obj: dict[str, Any]) -> bytes:
    return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode()


def anthropic_stream(stop_reason: str | None, *, usage_start: dict[str, int] | None = None,
                     usage_delta: dict[str, int] | None = None) -> bytes:
    start = {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-test",
        "stop_reason": None, "stop_sequence": None, "usage": usage_start or {"input_tokens": 10, "output_tokens": 1}}}
    return b"".join(event(o) for o in [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
         "usage": usage_delta or {"output_tokens": 2}},
        {"type": "message_stop"},
    ])


ANTHROPIC_STOP = [
    ("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"), ("tool_use", "tool_calls"),
    ("pause_turn", "stop"), ("refusal", "content_filter"), ("model_context_window_exceeded", "length"),
    ("something_new", "stop"),
]


@pytest.mark.parametrize(("raw", "reason"), ANTHROPIC_STOP)
async def test_anthropic_stop_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    server.handler = lambda _r: Reply(parts=[anthropic_stream(raw)])
    events = await collect(server, "anthropic")
    assert events == [ContentDelta("a"), Usage(10, 2, 12), Finish(reason, raw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "delta", "expected"),
    [
        ({"input_tokens": 10, "output_tokens": 1}, {"output_tokens": 2}, Usage(10, 2, 12)),
        # cache reads and writes are input too (input_tokens counts only what follows the breakpoint)
        ({"input_tokens": 3, "cache_read_input_tokens": 80, "cache_creation_input_tokens": 0, "output_tokens": 1},
         {"output_tokens": 4}, Usage(83, 4, 87, cached_tokens=80)),
        ({"input_tokens": 3, "cache_creation_input_tokens": 50, "output_tokens": 1},
         {"output_tokens": 4}, Usage(53, 4, 57, cache_write_tokens=50)),
        # message_delta's counts are cumulative and win over message_start's
        ({"input_tokens": 0, "output_tokens": 1}, {"input_tokens": 12, "output_tokens": 5}, Usage(12, 5, 17)),
    ],
)
async def test_anthropic_usage_fields(server: LoopbackServer, start: dict[str, int], delta: dict[str, int],
                                      expected: Usage) -> None:
    server.handler = lambda _r: Reply(parts=[anthropic_stream("end_turn", usage_start=start, usage_delta=delta)])
    assert (await collect(server, "anthropic"))[-2] == expected


# --- Ollama ----------------------------------------------------------------------------------

NDJSON = {"content-type": "application/x-ndjson"}


def ollama_line(obj: dict[str, Any]) -> bytes:
    return (json.dumps({"model": "qwen3:8b", "created_at": "2025-05-27T22:54:58Z", **obj}) + "\n").encode()


def ollama_done(reason: str | None, **counts: int) -> bytes:
    obj: dict[str, Any] = {"message": {"role": "assistant", "content": ""}, "done": True, **counts}
    if reason is not None:
        obj["done_reason"] = reason
    return ollama_line(obj)


OLLAMA_DONE = [("stop", "stop"), ("length", "length"), ("load", "stop"), ("unload", "stop"),
               ("something_new", "stop")]


@pytest.mark.parametrize(("raw", "reason"), OLLAMA_DONE)
async def test_ollama_done_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    body = ollama_line({"message": {"role": "assistant", "content": "a"}, "done": False}) + ollama_done(raw)
    server.handler = lambda _r: Reply(parts=[body], headers=dict(NDJSON))
    assert await collect(server, "ollama") == [ContentDelta("a"), Finish(reason, raw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "reason"), [("stop", "tool_calls"), (None, "tool_calls"), ("length", "length")])
async def test_ollama_tool_calls_make_a_stop_a_tool_calls_finish(server: LoopbackServer, raw: str | None,
                                                                 reason: str) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    body = ollama_line({"message": {"role": "assistant", "content": "", "tool_calls": [call]}, "done": False})
    server.handler = lambda _r: Reply(parts=[body + ollama_done(raw)], headers=dict(NDJSON))
    events = await collect(server, "ollama")
    assert isinstance(events[0], ToolCallDelta) and events[0].name == "get_weather"
    assert events[-1] == Finish(reason, raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"prompt_eval_count": 26, "eval_count": 282}, Usage(26, 282, 308)),
        ({"prompt_eval_count": 26}, Usage(26, 0, 26)),  # a cached prompt: no eval_count yet
        ({"eval_count": 5}, Usage(0, 5, 5)),
        ({}, None),
    ],
)
async def test_ollama_usage_fields(server: LoopbackServer, counts: dict[str, int], expected: Usage | None) -> None:
    body = ollama_line({"message": {"role": "assistant", "content": "a"}, "done": False}) + ollama_done("stop", **counts)
    server.handler = lambda _r: Reply(parts=[body], headers=dict(NDJSON))
    events = await collect(server, "ollama")
    assert events == [ContentDelta("a"), *([expected] if expected else []), Finish("stop", "stop")]


# --- HTTP statuses and in-band errors to exception classes -----------------------------------

STATUS_ERRORS = [
    (400, {"error": {"message": "bad field", "type": "invalid_request_error"}}, BadRequestError),
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens",
                     "code": "context_length_exceeded"}}, ContextLengthError),
    (401, {"error": {"message": "Incorrect API key"}}, AuthenticationError),
    (403, {"error": {"message": "forbidden"}}, AuthenticationError),
    (404, {"error": {"message": "no such model"}}, NotFoundError),
    (413, {"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum"}}, ContextLengthError),
    (413, {"error": {"message": "request too large"}}, BadRequestError),
    (422, {"error": {"message": "unprocessable"}}, BadRequestError),
    (429, {"error": {"message": "slow down"}}, RateLimitError),
    (500, {"error": {"message": "oops"}}, ServerError),
    (502, {"error": {"message": "bad gateway"}}, ServerError),
    (503, {"error": {"message": "overloaded"}}, ServerError),
    (529, {"error": {"type": "overloaded_error", "message": "Overloaded"}}, ServerError),
]


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
@pytest.mark.parametrize(("status", "body", "error_class"), STATUS_ERRORS)
async def test_statuses_map_to_exception_classes(server: LoopbackServer, kind: str, status: int,
                                                 body: dict[str, Any], error_class: type[ProviderError]) -> None:
    server.handler = lambda _r: json_reply(status, body)
    with pytest.raises(ProviderError) as info:
        await collect(server, kind)
    assert type(info.value) is error_class and info.value.status == status
    assert info.value.provider  # named, for the one-line message


ANTHROPIC_IN_BAND = [  # a ServerError whose status the error type implies (AnthropicProvider docstring)
    ("overloaded_error", ServerError, 529),
    ("rate_limit_error", ServerError, 429),
    ("api_error", ServerError, None),
    ("something_new", ServerError, None),
]


@pytest.mark.parametrize(("error_type", "error_class", "status"), ANTHROPIC_IN_BAND)
async def test_anthropic_in_band_error_types(server: LoopbackServer, error_type: str,
                                             error_class: type[ProviderError], status: int | None) -> None:
    error = {"type": "error", "error": {"type": error_type, "message": "try later"}}
    body = anthropic_stream("end_turn").split(b"event: content_block_stop")[0] + event(error)
    server.handler = lambda _r: Reply(parts=[body])
    with pytest.raises(ProviderError) as info:
        await collect(server, "anthropic")
    assert type(info.value) is error_class and info.value.status == status and "try later" in info.value.message
