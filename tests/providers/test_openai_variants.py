"""OpenAI-compatible servers differ in the details; each variant goes through the one provider.

Streams are shaped like the servers' own (Azure, OpenRouter, Groq, DeepSeek/vLLM, llama.cpp,
Gemini's compat API) and sent by the loopback server split every few bytes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import ServerError
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, StreamEvent, Usage
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, split_every, sse

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


async def run(server: LoopbackServer, body: bytes, request: ChatRequest = REQUEST,
              base_url: str | None = None) -> tuple[list[StreamEvent], Accumulator]:
    server.handler = lambda _r: Reply(parts=split_every(body, 5))
    accumulator = Accumulator()
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=base_url or server.base_url, api_key="k")
        events = []
        accumulator.start()
        async for event in provider.stream(request):
            accumulator.add(event)
            events.append(event)
    return events, accumulator


async def test_azure_first_chunk_with_prompt_filter_results(server: LoopbackServer) -> None:
    first = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
             "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}]}
    body = sse(first, chunk("", role=True), chunk("Hi"), chunk(" there"), chunk(finish="stop"))
    events, acc = await run(server, body)
    assert acc.content == "Hi there"
    assert events[-1] == Finish("stop", "stop")


async def test_openrouter_keepalives_and_mid_stream_error(server: LoopbackServer) -> None:
    error_chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "error": {"code": 502, "message": "Provider returned error"},
                   "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    body = b": OPENROUTER PROCESSING\n\n" + sse(chunk("Partial"), done=False) + \
        b": OPENROUTER PROCESSING\n\n" + sse(error_chunk, done=False)
    server.handler = lambda _r: Reply(parts=split_every(body, 4))
    got: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url)
        with pytest.raises(ServerError) as info:
            async for event in provider.stream(REQUEST):
                got.append(event)
    assert got == [ContentDelta("Partial")]
    assert info.value.message == "Provider returned error" and info.value.status == 502


async def test_groq_usage_in_x_groq(server: LoopbackServer) -> None:
    last = chunk(finish="stop")
    last["x_groq"] = {"id": "req_1", "usage": {"prompt_tokens": 18, "completion_tokens": 2, "total_tokens": 20}}
    events, acc = await run(server, sse(chunk("Hi"), chunk("!"), last))
    assert events[-2:] == [Usage(18, 2, 20), Finish("stop", "stop")]


async def test_deepseek_reasoning_content_then_content(server: LoopbackServer) -> None:
    body = sse(chunk(None, role=True, reasoning_content="Let me think"), chunk(None, reasoning_content=" hard."),
               chunk("Answer: 4"), chunk(finish="stop", usage=None),
               chunk(empty_choices=True, usage={
                   "prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40,
                   "prompt_tokens_details": {"cached_tokens": 8},
                   "completion_tokens_details": {"reasoning_tokens": 25}}))
    events, acc = await run(server, body)
    message = acc.message()
    assert (message.reasoning, message.content) == ("Let me think hard.", "Answer: 4")
    assert events[:2] == [ReasoningDelta("Let me think"), ReasoningDelta(" hard.")]
    assert message.usage == Usage(10, 30, 40, cached_tokens=8, reasoning_tokens=25)


async def test_openrouter_reasoning_field(server: LoopbackServer) -> None:
    events, acc = await run(server, sse(chunk(None, reasoning="Hmm."), chunk("Yes"), chunk(finish="stop")))
    assert acc.message().reasoning == "Hmm." and acc.content == "Yes"


async def test_cumulative_usage_on_every_chunk_takes_the_last(server: LoopbackServer) -> None:
    objs = [chunk(t, usage={"prompt_tokens": 5, "completion_tokens": i + 1, "total_tokens": 6 + i})
            for i, t in enumerate(["a", "b", "c"])]
    objs.append(chunk(finish="length", usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}))
    events, acc = await run(server, sse(*objs))
    assert [e for e in events if isinstance(e, Usage)] == [Usage(5, 3, 8)]
    assert events[-1] == Finish("length", "length")


async def test_llama_cpp_timings_give_usage_when_no_usage(server: LoopbackServer) -> None:
    last = chunk(finish="stop")
    last["timings"] = {"prompt_n": 12, "predicted_n": 3, "predicted_per_second": 50.0}
    events, _ = await run(server, sse(chunk("x"), chunk("y"), chunk("z"), last))
    assert events[-2] == Usage(12, 3, 15)


async def test_tool_calls_without_index_get_one_per_id(server: LoopbackServer) -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}},
             {"id": "c2", "type": "function", "function": {"name": "b", "arguments": {"y": 2}}}]
    events, acc = await run(server, sse(chunk(None, tool_calls=calls), chunk(finish="tool_calls")))
    assert [(c.id, c.name, json.loads(c.arguments)) for c in acc.tool_calls()] == [
        ("c1", "a", {"x": 1}), ("c2", "b", {"y": 2})]
    assert events[-1] == Finish("tool_calls", "tool_calls")


async def test_text_completions_endpoint(server: LoopbackServer) -> None:
    def text_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        return {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "base",
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}

    body = sse(text_chunk(" there"), text_chunk(" was a"), text_chunk(" fox", "length"),
               {"id": "cmpl-1", "object": "text_completion", "choices": [],
                "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}})
    request = ChatRequest(model="base", messages=[], prompt="Once upon a time", options={"max_tokens": 3})
    events, acc = await run(server, body, request)
    sent = server.requests[0]
    assert sent.path == "/v1/completions"
    assert sent.json() == {"model": "base", "prompt": "Once upon a time", "stream": True,
                           "stream_options": {"include_usage": True}, "max_tokens": 3}
    assert acc.content == " there was a fox"
    assert events[-2:] == [Usage(4, 3, 7), Finish("length", "length")]


@pytest.mark.parametrize(
    ("official", "expected"),
    [(False, {"max_tokens": 50, "top_k": 40}), (True, {"max_completion_tokens": 50})],
)
async def test_generation_options_mapping(server: LoopbackServer, official: bool, expected: dict[str, Any]) -> None:
    options = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 50, "stop": ["END"], "seed": 7,
               "reasoning_effort": "low", "top_k": 40, "thinking_budget": 1000}
    provider = OpenAIProvider(client=httpx.AsyncClient(),
                              base_url="https://api.openai.com/v1" if official else server.base_url)
    body = provider.build_body(ChatRequest(model="m", messages=[], options=options))
    common = {"temperature": 0.3, "top_p": 0.9, "stop": ["END"], "seed": 7, "reasoning_effort": "low"}
    assert {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")} == {
        **common, **expected}
    await provider.client.aclose()
