"""GeminiProvider against a real HTTP server on 127.0.0.1 (tests/loopback.py), with streams
shaped as ``streamGenerateContent?alt=sse`` sends them (tests/streams.py)."""

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
from llmchat.providers.gemini import FINISH_REASONS, GeminiProvider, normalize_finish_reason
from llmchat.providers.gemini_request import CONTENT_BLOCK, convert_contents
from llmchat.providers.policy import StreamPolicy
from tests.loopback import DROP, LoopbackServer, Reply, Request, json_reply, split_every
from tests.streams import GEMINI_MODEL, data_sse, gemini_chunk, gemini_models, gemini_stream, gemini_usage

TOKENS = ["h", "é", "llo", " 世", "界", " 🎉", "!"]


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def request(**kw: Any) -> ChatRequest:
    base: dict[str, Any] = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}],
                            "system": "sys"}
    return ChatRequest(**{**base, **kw})


def reply_with(*parts: Any) -> Callable[[Request], Reply]:
    return lambda _request: Reply(parts=list(parts))


async def collect(server: LoopbackServer, req: ChatRequest | None = None, **kw: Any) -> list[StreamEvent]:
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="g-key-123456", **kw)
        return [e async for e in provider.stream(req or request())]


async def collect_until(server: LoopbackServer, error: type[ProviderError]) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="g-key-123456")
        with pytest.raises(error) as info:
            async for event in provider.stream(request()):
                events.append(event)
    return events, info.value


def text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


# --- request -----------------------------------------------------------------------------


async def test_request_path_key_header_and_body(server: LoopbackServer) -> None:
    server.handler = reply_with(gemini_stream(["ok"]))
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather.",
        "parameters": {"$schema": "x", "type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False}}},
             {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]
    await collect(server, request(tools=tools, options={
        "temperature": 0.3, "top_p": 0.9, "top_k": 40, "max_tokens": 100, "stop": "END", "seed": 7,
        "thinking_budget": 512, "tool_choice": "required"}))
    req = server.requests[0]
    assert req.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert req.headers["x-goog-api-key"] == "g-key-123456"
    assert "authorization" not in req.headers
    assert req.json() == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "tools": [{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now"}]}],
        "generationConfig": {"temperature": 0.3, "topP": 0.9, "topK": 40, "maxOutputTokens": 100, "seed": 7,
                             "stopSequences": ["END"],
                             "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": True}},
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }


def test_history_from_another_provider_becomes_contents() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"a": 1}'}},
            {"id": "call_2", "type": "function", "function": {"name": "zoom", "arguments": "not json"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "call_2", "content": "denied", "is_error": True},
        {"role": "assistant", "content": "A cat.", "thinking_blocks": [{"type": "thinking", "signature": "x"}]},
        {"role": "user", "content": "thanks"},
        {"role": "user", "content": "bye"},
    ]
    contents, system = convert_contents(messages)
    assert system == "be brief"
    assert contents == [
        {"role": "user", "parts": [{"text": "what is this?"}, {"inlineData": {"mimeType": "image/png", "data": "AAA"}}]},
        {"role": "model", "parts": [{"text": "Checking."}, {"functionCall": {"name": "look", "args": {"a": 1}}},
                                    {"functionCall": {"name": "zoom", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "look", "response": {"result": "a cat"}}},
                                   {"functionResponse": {"name": "zoom", "response": {"error": "denied"}}}]},
        {"role": "model", "parts": [{"text": "A cat."}]},
        {"role": "user", "parts": [{"text": "thanks"}, {"text": "bye"}]},
    ]


async def test_prompt_completion_is_refused(server: LoopbackServer) -> None:
    with pytest.raises(BadRequestError, match="no text completions"):
        await collect(server, ChatRequest(model="m", messages=[], prompt="Once"))
    assert server.requests == []


# --- text, usage, finish -------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
async def test_text_split_everywhere_with_usage_and_model(server: LoopbackServer, eol: str) -> None:
    usage = gemini_usage(1200, 7, thoughts=20, cached=1024)
    data = gemini_stream(TOKENS, usage=usage, thoughts=["Let me ", "think."], eol=eol)
    server.handler = reply_with(b": ping\r\n\r\n", *split_every(data, 5))
    events = await collect(server)
    assert [e.text for e in events if isinstance(e, ContentDelta)] == TOKENS
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Let me think."
    assert events[-2:] == [Usage(1200, 27, 1227, cached_tokens=1024, reasoning_tokens=20), Finish("stop", "STOP")]
    assert events[-1].model == GEMINI_MODEL


@pytest.mark.parametrize("raw", sorted(FINISH_REASONS))
def test_every_documented_finish_reason_is_mapped(raw: str) -> None:
    expected = {"STOP": "stop", "FINISH_REASON_UNSPECIFIED": "stop", "MAX_TOKENS": "length"}.get(raw)
    if raw in ("SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
               "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"):
        expected = "content_filter"
    assert normalize_finish_reason(raw) == (expected or "error")
    assert normalize_finish_reason(raw, called=True) == ("tool_calls" if expected == "stop" else expected or "error")


@pytest.mark.parametrize(("raw", "reason"), [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                              ("RECITATION", "content_filter"), ("SPII", "content_filter")])
async def test_finish_reasons_over_the_wire(server: LoopbackServer, raw: str, reason: str) -> None:
    server.handler = reply_with(gemini_stream(["par", "tial"], finish=raw))
    events = await collect(server)
    assert text(events) == "partial" and events[-1] == Finish(reason, raw)  # type: ignore[arg-type]


async def test_error_finish_reason_raises_after_the_partial_text(server: LoopbackServer) -> None:
    last = gemini_chunk({"text": ""}, finish="MALFORMED_FUNCTION_CALL", usage=gemini_usage())
    last["candidates"][0]["finishMessage"] = "Malformed function call: print(x"
    server.handler = reply_with(data_sse([gemini_chunk({"text": "Sure: "}), last]))
    events, error = await collect_until(server, ServerError)
    assert text(events) == "Sure: "
    assert "MALFORMED_FUNCTION_CALL" in error.message and "print(x" in error.message


async def test_blocked_prompt_is_content_filter(server: LoopbackServer) -> None:
    body = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": gemini_usage(9, 0),
            "modelVersion": GEMINI_MODEL}
    server.handler = reply_with(data_sse([body]))
    events = await collect(server)
    assert events == [Usage(9, 0, 9), Finish("content_filter", "PROHIBITED_CONTENT")]


# --- tools and thought signatures --------------------------------------------------------


async def test_function_calls_with_thought_signature_are_kept_for_the_tool_loop(server: LoopbackServer) -> None:
    chunks = [
        gemini_chunk({"text": "**Planning** the call", "thought": True}),
        gemini_chunk({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                     {"functionCall": {"name": "get_time", "args": {}, "id": "fc-7"}}),
        gemini_chunk({"text": ""}, finish="STOP", usage=gemini_usage(30, 10, thoughts=50)),
    ]
    server.handler = reply_with(data_sse(chunks))
    events = await collect(server)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.name, json.loads(c.arguments_fragment)) for c in calls] == [
        (0, "get_weather", {"city": "Paris"}), (1, "get_time", {})]
    assert calls[0].id and calls[0].id.startswith("call_") and calls[1].id == "fc-7"
    assert events[-1] == Finish("tool_calls", "STOP")
    (block,) = [e.block for e in events if isinstance(e, ThinkingBlock)]
    assert block["type"] == CONTENT_BLOCK and block["call_ids"] == [calls[0].id, "fc-7"]
    assert block["parts"][1] == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                 "thoughtSignature": "c2ln"}

    # the next request of the loop sends the turn back as it came, signature included
    assistant = {"role": "assistant", "content": None, "thinking_blocks": [block], "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_fragment}}
        for c in calls[:1]]}  # only the first call was answered
    contents, _ = convert_contents([{"role": "user", "content": "go"}, assistant,
                                    {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}])
    assert contents[1] == {"role": "model", "parts": [
        {"text": "**Planning** the call", "thought": True},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]}
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]}


# --- errors and truncation ---------------------------------------------------------------


async def test_stream_without_finish_reason_is_interrupted(server: LoopbackServer) -> None:
    server.handler = reply_with(data_sse([gemini_chunk({"text": "a"}), gemini_chunk({"text": "b"})]))
    events, _ = await collect_until(server, StreamInterrupted)
    assert text(events) == "ab"


async def test_dropped_connection_is_interrupted(server: LoopbackServer) -> None:
    data = gemini_stream(TOKENS)
    server.handler = reply_with(data[: len(data) // 2], DROP)
    events, error = await collect_until(server, StreamInterrupted)
    assert text(events) and "lost" in error.message


async def test_in_band_error_chunk(server: LoopbackServer) -> None:
    error_chunk = {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                             "status": "UNAVAILABLE"}}
    server.handler = reply_with(data_sse([gemini_chunk({"text": "a"}), error_chunk]))
    events, error = await collect_until(server, ServerError)
    assert text(events) == "a" and error.message.startswith("The model is overloaded")


def google_error(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": list(details)}}


@pytest.mark.parametrize(("status", "body", "kind"), [
    (400, google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                       {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com"}), AuthenticationError),
    (400, google_error(400, "INVALID_ARGUMENT",
                       "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."),
     ContextLengthError),
    (404, google_error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not "
                       "supported for generateContent."), NotFoundError),
    (403, google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."), AuthenticationError),
    (500, google_error(500, "INTERNAL", "An internal error has occurred."), ServerError),
])
async def test_http_errors_in_googles_shape(server: LoopbackServer, status: int, body: Any,
                                            kind: type[ProviderError]) -> None:
    server.handler = lambda _r: json_reply(status, body)
    _, error = await collect_until(server, kind)
    assert type(error) is kind and error.status == status and error.message == body["error"]["message"]
    assert "g-key-123456" not in error.describe()


async def test_429_waits_for_retry_info(server: LoopbackServer) -> None:
    quota = google_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
                         {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"})
    replies = iter([json_reply(429, quota), Reply(parts=[gemini_stream(["ok"])])])
    server.handler = lambda _r: next(replies)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="k", policy=StreamPolicy(retries=1))
        events = [e async for e in provider.stream(request())]
    assert text(events) == "ok" and len(server.requests) == 2
    retrying = events[0]
    assert type(retrying).__name__ == "Retrying" and retrying.delay == pytest.approx(0.05)  # type: ignore[union-attr]


async def test_429_retry_info_too_long_is_reported(server: LoopbackServer) -> None:
    quota = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: requests per day.",
                         {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37000s"})
    server.handler = lambda _r: json_reply(429, quota)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="k", policy=StreamPolicy(retries=2))
        with pytest.raises(RateLimitError) as info:
            [e async for e in provider.stream(request())]
    assert info.value.retry_after == 37000 and "37000 s" in (info.value.hint or "")
    assert len(server.requests) == 1


async def test_a_json_array_body_is_read(server: LoopbackServer) -> None:
    """A server that ignored ``alt=sse`` answers with the array of chunks."""
    body = [gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}, finish="STOP", usage=gemini_usage(3, 2))]
    server.handler = lambda _r: json_reply(200, body)
    events = await collect(server)
    assert text(events) == "Hello" and events[-1] == Finish("stop", "STOP")


# --- models ------------------------------------------------------------------------------


async def test_models_list_pages_and_filters(server: LoopbackServer) -> None:
    pages = iter([{**gemini_models(), "nextPageToken": "p2"},
                  {"models": [{"name": "models/gemini-2.5-pro", "inputTokenLimit": 1048576,
                               "supportedGenerationMethods": ["generateContent"]}]}])
    server.handler = lambda _r: json_reply(200, next(pages))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = create_provider("gemini", client=client, name="gemini", base_url=root(server) + "/v1beta",
                                   api_key="k")
        assert await provider.list_models() == ["gemini-2.5-flash", "gemini-2.5-pro"]
        assert provider.context_windows["gemini-2.5-flash"] == 1048576  # type: ignore[attr-defined]
    assert server.requests[0].path == "/v1beta/models?pageSize=1000"
    assert server.requests[1].path == "/v1beta/models?pageSize=1000&pageToken=p2"
    assert server.requests[0].headers["x-goog-api-key"] == "k"


async def test_usage_in_a_chunk_after_the_finish_reason_is_kept(server: LoopbackServer) -> None:
    chunks = [gemini_chunk({"text": "Hi"}), gemini_chunk({"text": "!"}, finish="STOP"),
              {"usageMetadata": gemini_usage(4, 2), "modelVersion": GEMINI_MODEL}]
    server.handler = reply_with(data_sse(chunks))
    events = await collect(server)
    assert events[-2:] == [Usage(4, 2, 6), Finish("stop", "STOP")]


async def test_connection_lost_after_the_finish_reason_is_not_an_interruption(server: LoopbackServer) -> None:
    server.handler = reply_with(data_sse([gemini_chunk({"text": "Hi"}, finish="STOP", usage=gemini_usage(4, 1))]), DROP)
    events = await collect(server)
    assert text(events) == "Hi" and events[-1] == Finish("stop", "STOP")


def test_pdf_and_image_url_parts() -> None:
    content = [{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
               {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    contents, _ = convert_contents([{"role": "user", "content": content}])
    assert contents[0]["parts"] == [{"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
                                    {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}}]


@pytest.mark.parametrize(("model", "config"), [
    ("gemini-2.5-flash", {"thinkingBudget": 1024, "includeThoughts": True}),
    ("gemini-3-pro-preview", {"thinkingLevel": "low", "includeThoughts": True}),
])
def test_reasoning_effort_is_a_budget_for_gemini_2_and_a_level_after(model: str, config: dict[str, Any]) -> None:
    from llmchat.providers.gemini_request import build_body

    body = build_body(ChatRequest(model=model, messages=[{"role": "user", "content": "x"}],
                                  options={"reasoning_effort": "low"}))
    assert body["generationConfig"]["thinkingConfig"] == config
