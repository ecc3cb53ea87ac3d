"""OpenAI-compatible Chat Completions side rules over the loopback server (llmchat/providers/openai.py):
the status an in-band error carries (an HTTP error status, 400-599, else none), in-band context
overflow, usage fields' precedence and zero totals, chunks without a choice index, tool call
arguments sent as objects, the answering model, and the model list's image models
(OpenRouter's ``architecture``: ``input_modalities``, or ``modality`` as ``input->output``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import AuthenticationError, ContextLengthError, ServerError, StreamInterrupted
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, StreamEvent, ToolCallDelta, Usage
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, json_reply, sse

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


async def collect(server: LoopbackServer, *parts: bytes) -> list[StreamEvent]:
    server.handler = lambda _r: Reply(parts=list(parts))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        return [event async for event in provider.stream(REQUEST)]


async def error_of(server: LoopbackServer, *parts: bytes) -> ServerError:
    with pytest.raises(ServerError) as info:
        await collect(server, *parts)
    return info.value


# -- in-band errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status"), [
    (399, None), (400, 400), (429, 429), (502, 502), (599, 599), (600, None), (0, None), (-500, None),
    ("503", 503), ("rate_limit_exceeded", None), (None, None), (504.0, 504),
])
@pytest.mark.parametrize("framing", ["data", "event"])
async def test_an_in_band_errors_code_is_its_status_only_when_an_http_error_status(
        server: LoopbackServer, code: Any, status: int | None, framing: str) -> None:
    error = json.dumps({"error": {"message": "upstream trouble", "code": code}})
    frame = f"event: error\ndata: {error}\n\n" if framing == "event" else f"data: {error}\n\n"
    raised = await error_of(server, sse(chunk("a"), done=False), frame.encode())
    assert type(raised) is ServerError and raised.status == status
    assert raised.message == "upstream trouble" and raised.provider == "openai"


@pytest.mark.parametrize("error", [
    {"message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens"},
    {"message": "request failed", "code": "context_length_exceeded"},
])
async def test_an_in_band_context_overflow_is_a_context_length_error(server: LoopbackServer,
                                                                     error: dict[str, Any]) -> None:
    with pytest.raises(ContextLengthError):
        await collect(server, sse(chunk("a"), done=False), f"data: {json.dumps({'error': error})}\n\n".encode())


async def test_an_error_key_that_is_empty_is_not_an_error(server: LoopbackServer) -> None:
    obj = chunk("fine")
    obj["error"] = None
    events = await collect(server, sse(obj, chunk(finish="stop")))
    assert events == [ContentDelta("fine"), Finish("stop", "stop")]


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "42", "null"])
async def test_a_chunk_that_is_not_an_object_is_a_server_error(server: LoopbackServer, data: str) -> None:
    raised = await error_of(server, sse(chunk("a"), done=False), f"data: {data}\n\n".encode())
    assert f"unexpected stream chunk: {data!r}" in raised.message


async def test_a_malformed_chunk_is_quoted_up_to_200_characters(server: LoopbackServer) -> None:
    data = "{" + "".join(chr(ord("a") + n % 26) for n in range(300))
    raised = await error_of(server, f"data: {data}\n\n".encode())
    assert f"malformed stream chunk: {data[:200]!r}" in raised.message and raised.provider == "openai"


@pytest.mark.parametrize("ending", [b"", b"data: [DONE]"])  # nothing, or a [DONE] line never ended (SSE drops it)
async def test_a_stream_cut_before_its_end_names_the_provider(server: LoopbackServer, ending: bytes) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("partial"), done=False) + ending])
    got: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, name="groq")
        with pytest.raises(StreamInterrupted) as info:
            async for event in provider.stream(REQUEST):
                got.append(event)
    assert got == [ContentDelta("partial")] and info.value.provider == "groq"


# -- usage -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("usage", "expected"), [
    ({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 0}, Usage(7, 3, 10)),  # a zero total: the sum
    ({"prompt_tokens": 100, "completion_tokens": 9, "prompt_cache_hit_tokens": 80, "cache_read_input_tokens": 70},
     Usage(100, 9, 109, cached_tokens=80)),  # DeepSeek's name first
    ({"prompt_tokens": 100, "completion_tokens": 9, "prompt_tokens_details": {"audio_tokens": 0},
      "cache_read_input_tokens": 70}, Usage(100, 9, 109, cached_tokens=70)),
    ({"prompt_tokens": 100, "completion_tokens": 9, "prompt_tokens_details": ["not", "an", "object"],
      "completion_tokens_details": 5}, Usage(100, 9, 109)),
    ({"prompt_tokens": None, "completion_tokens": 4}, Usage(0, 4, 4)),
    ({"prompt_tokens": "12", "completion_tokens": "3"}, Usage(12, 3, 15)),  # counts as text (some proxies)
    ({"prompt_tokens": 0, "completion_tokens": 0}, Usage(0, 0, 0)),
    ({"prompt_tokens": 5, "completion_tokens": 6, "completion_tokens_details": {"reasoning_tokens": 0}},
     Usage(5, 6, 11, reasoning_tokens=0)),
])
async def test_usage_field_rules(server: LoopbackServer, usage: dict[str, Any], expected: Usage) -> None:
    events = await collect(server, sse(chunk("a"), chunk(finish="stop"), chunk(empty_choices=True, usage=usage)))
    assert events == [ContentDelta("a"), expected, Finish("stop", "stop")]
    assert events[1].cached_tokens == expected.cached_tokens  # type: ignore[union-attr]
    assert events[1].reasoning_tokens == expected.reasoning_tokens  # type: ignore[union-attr]


async def test_a_usage_without_counts_keeps_the_one_before(server: LoopbackServer) -> None:
    first = {"prompt_tokens": 4, "completion_tokens": 2}
    events = await collect(server, sse(chunk("a", usage=first), chunk(finish="stop", usage={"total_tokens": 9})))
    assert events == [ContentDelta("a"), Usage(4, 2, 6), Finish("stop", "stop")]


@pytest.mark.parametrize(("timings", "usage", "expected"), [
    ({"prompt_n": 11, "predicted_n": 5}, None, Usage(11, 5, 16)),
    ({"predicted_n": 5}, None, Usage(0, 5, 5)),
    ({"prompt_n": 11}, None, None),  # no predicted_n: nothing to report
    ({"prompt_n": 11, "predicted_n": 5}, {"prompt_tokens": 20, "completion_tokens": 2}, Usage(20, 2, 22)),
])
async def test_llama_cpp_timings_only_without_usage(server: LoopbackServer, timings: dict[str, int],
                                                    usage: dict[str, int] | None, expected: Usage | None) -> None:
    last = chunk(finish="stop", usage=usage)
    last["timings"] = timings
    events = await collect(server, sse(chunk("a"), last))
    assert events == [ContentDelta("a"), *([expected] if expected else []), Finish("stop", "stop")]


async def test_groq_usage_wins_over_a_usage_before_it(server: LoopbackServer) -> None:
    last = chunk(finish="stop", usage={"prompt_tokens": 1, "completion_tokens": 1})
    last["x_groq"] = {"id": "req_1", "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}}
    events = await collect(server, sse(chunk("a"), last))
    assert events[-2] == Usage(30, 8, 38)


# -- choices, deltas, tool calls, model ----------------------------------------------------------------


async def test_a_choice_without_an_index_is_the_first(server: LoopbackServer) -> None:
    one = chunk("shown")
    del one["choices"][0]["index"]
    events = await collect(server, sse(one, chunk(finish="stop")))
    assert events == [ContentDelta("shown"), Finish("stop", "stop")]


async def test_reasoning_content_wins_over_reasoning_and_non_text_is_ignored(server: LoopbackServer) -> None:
    both = chunk(None, reasoning_content="deep", reasoning="or")
    other = chunk(None, reasoning={"summary": "not text"})
    events = await collect(server, sse(both, other, chunk(None, reasoning="plain"), chunk("x"), chunk(finish="stop")))
    assert events == [ReasoningDelta("deep"), ReasoningDelta("plain"), ContentDelta("x"), Finish("stop", "stop")]


@pytest.mark.parametrize(("arguments", "fragment"), [
    ({"city": "Zürich"}, '{"city": "Zürich"}'),  # an object (some servers): as JSON, not escaped
    ('{"city": "Oslo"}', '{"city": "Oslo"}'),
    (None, ""),
    ("", ""),
])
async def test_tool_call_arguments_as_text_or_object(server: LoopbackServer, arguments: Any, fragment: str) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": arguments}}
    events = await collect(server, sse(chunk(None, tool_calls=[call]), chunk(finish="tool_calls")))
    assert events == [ToolCallDelta(0, "call_1", "weather", fragment), Finish("tool_calls", "tool_calls")]


async def test_tool_calls_without_index_or_id_continue_the_last_call(server: LoopbackServer) -> None:
    def call(**fields: Any) -> dict[str, Any]:
        return chunk(None, tool_calls=[{"type": "function", **fields}])

    events = await collect(server, sse(
        call(function={"arguments": "{}"}),  # no index, no id, no call before: call 0
        call(id="a", function={"name": "f", "arguments": "{"}),
        call(function={"arguments": "}"}),  # no id: the last call
        call(id="b", function={"name": "g", "arguments": "{}"}),
        call(id="a", function={"arguments": ""}),  # a known id: its own index again
        call(index=5, id="c", function={"name": "h"}),
        chunk(finish="tool_calls")))
    assert [(e.index, e.id, e.name, e.arguments_fragment) for e in events if isinstance(e, ToolCallDelta)] == [
        (0, None, None, "{}"), (0, "a", "f", "{"), (0, None, None, "}"), (1, "b", "g", "{}"), (0, "a", None, ""),
        (5, "c", "h", "")]


@pytest.mark.parametrize(("models", "expected"), [
    (["gpt-x", "gpt-x-2"], "gpt-x-2"), (["gpt-x", ""], "gpt-x"), (["gpt-x", 7], "gpt-x"), ([None, None], None)])
async def test_the_answering_model_is_the_last_named(server: LoopbackServer, models: list[Any],
                                                     expected: str | None) -> None:
    first, last = chunk("a"), chunk(finish="stop")
    first["model"], last["model"] = models
    finish = (await collect(server, sse(first, last)))[-1]
    assert isinstance(finish, Finish) and finish.model == expected


async def test_a_whole_completion_object_is_read(server: LoopbackServer) -> None:
    whole = {"id": "c", "object": "chat.completion", "model": "gpt-whole", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "all at once"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    server.handler = lambda _r: json_reply(200, whole)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        events = [event async for event in provider.stream(REQUEST)]
    assert events == [ContentDelta("all at once"), Usage(3, 4, 7), Finish("length", "length")]
    assert events[-1].model == "gpt-whole"  # type: ignore[union-attr]


# -- the request ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "official"), [
    ("https://api.openai.com/v1", True), ("https://API.OPENAI.COM/v1/", True),
    ("https://api.openai.com.example.net/v1", False), ("https://openrouter.ai/api/v1", False),
    ("http://127.0.0.1:8080/v1", False),
])
def test_only_the_official_api_gets_max_completion_tokens(base_url: str, official: bool) -> None:
    provider = OpenAIProvider(client=httpx.AsyncClient(), base_url=base_url, api_key="sk")
    body = provider.build_body(ChatRequest(model="m", messages=[], options={"max_tokens": 9, "top_k": 3}))
    assert ("max_completion_tokens" in body) is official and ("max_tokens" in body) is not official
    assert ("top_k" in body) is not official


async def test_the_request_keeps_tools_and_drops_anthropic_keys(server: LoopbackServer) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "thinking_blocks": [{"type": "thinking"}],
                 "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "t", "content": "r", "is_error": True, "images": []}]
    server.handler = lambda _r: Reply(parts=[sse(chunk("ok"), chunk(finish="stop"))])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        [e async for e in provider.stream(ChatRequest(model="m", messages=messages, tools=tools, system=""))]
    body = server.requests[-1].json()
    assert body["tools"] == tools and body["messages"][0] == {"role": "user", "content": "hi"}  # no empty system
    assert not any({"thinking_blocks", "is_error", "images"} & set(m) for m in body["messages"])
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "t", "content": "r"}
    assert "authorization" not in server.requests[-1].headers
    assert "tools" not in OpenAIProvider(client=client, base_url="http://x/v1").build_body(REQUEST)


# -- the model list -------------------------------------------------------------------------------------

MODELS = {"data": [
    {"id": "vision-a", "architecture": {"input_modalities": ["text", "image"], "modality": "text->text"}},
    {"id": "vision-b", "architecture": {"modality": "text+image->text"}},
    {"id": "paints", "architecture": {"modality": "text->image"}},  # makes images, does not read them
    {"id": "texty", "architecture": {"input_modalities": ["text"], "modality": "text->text"}},
    {"id": "odd", "architecture": {"input_modalities": "image", "modality": None}},
    {"id": "bare"},
    {"architecture": {"input_modalities": ["image"]}},  # no id
    {"id": "", "architecture": {"input_modalities": ["image"]}},
    {"id": "image-b", "architecture": {"modality": "image+text->text"}},
    "not an object",
    {"id": "vision-unasked", "architecture": {"input_modalities": ["image"]}},
]}


async def test_image_models_read_the_architecture(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, MODELS)
    asked = ["vision-a", "vision-b", "paints", "texty", "odd", "bare", "image-b", "missing"]
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        found = await provider.image_models(asked)
    assert found == {"vision-a", "vision-b", "image-b"}
    assert server.requests[-1].path == "/v1/models"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("body", [{"data": None}, [], {"object": "list"}, {"data": "nope"}])
async def test_lists_that_say_nothing_give_nothing(server: LoopbackServer, body: Any) -> None:
    server.handler = lambda _r: json_reply(200, body)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        assert await provider.image_models(["a"]) == set()
        assert await provider.list_models() == []


async def test_list_models_sorted_and_skips_entries_without_an_id(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"data": [{"id": "b"}, {"id": ""}, {"name": "x"}, "s", {"id": 12},
                                                          {"id": "a"}]})
    async with httpx.AsyncClient(timeout=10) as client:
        assert await OpenAIProvider(client=client, base_url=server.base_url).list_models() == ["12", "a", "b"]


@pytest.mark.parametrize("method", ["list_models", "image_models"])
async def test_a_failed_model_list_names_the_profile(server: LoopbackServer, method: str) -> None:
    server.handler = lambda _r: json_reply(401, {"error": {"message": "Incorrect API key provided"}})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-bad", name="groq")
        with pytest.raises(AuthenticationError) as info:
            await (provider.list_models() if method == "list_models" else provider.image_models(["m"]))
    assert info.value.provider == "groq" and "Incorrect API key" in info.value.message
