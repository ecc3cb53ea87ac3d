"""Request option combinations, per provider, as the server receives them (loopback server): the
thinking budget against max_tokens, the neutral names each wire protocol renames or drops,
text completions, and ``n`` > 1 (only the first choice is the reply).

Expected bodies follow each provider's request documentation (OpenAI "Create chat completion"
and "Create completion", Anthropic "Messages" and "Extended thinking", Ollama "Generate a chat
completion") and the build_body docstrings.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import ChatRequest
from llmchat.providers.events import ContentDelta, Finish, StreamEvent
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, completion, sse

MESSAGES = [{"role": "user", "content": "hi"}]
ANTHROPIC_REPLY = (
    b'event: message_start\ndata: {"type": "message_start", "message": {"id": "m", "type": "message", '
    b'"role": "assistant", "content": [], "model": "c", "usage": {"input_tokens": 1, "output_tokens": 1}}}\n\n'
    b'event: message_delta\ndata: {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, '
    b'"usage": {"output_tokens": 1}}\n\nevent: message_stop\ndata: {"type": "message_stop"}\n\n'
)
OLLAMA_REPLY = b'{"model": "m", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop"}\n'


async def sent_body(server: LoopbackServer, kind: str, request: ChatRequest, **provider: Any) -> dict[str, Any]:
    """Stream `request` through a `kind` provider; return the JSON body the server received."""
    if kind == "anthropic":
        server.handler = lambda _r: Reply(parts=[ANTHROPIC_REPLY])
    elif kind == "ollama":
        server.handler = lambda _r: Reply(parts=[OLLAMA_REPLY], headers={"content-type": "application/x-ndjson"})
    else:
        server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    async with httpx.AsyncClient(timeout=10) as client:
        root = f"http://127.0.0.1:{server.port}"
        if kind == "anthropic":
            p: Any = AnthropicProvider(client=client, base_url=root, api_key="k", **provider)
        elif kind == "ollama":
            p = OllamaProvider(client=client, base_url=root)
        else:
            p = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        async for _ in p.stream(request):
            pass
    return server.requests[-1].json()


def ask(**options: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=MESSAGES, options=options)


# --- Anthropic: the thinking budget against max_tokens -----------------------------------------


@pytest.mark.parametrize(
    ("options", "max_tokens", "thinking"),
    [
        ({}, 4096, None),
        ({"thinking_budget": 1024}, 4096, 1024),  # under the default: the default stays
        ({"thinking_budget": 4095}, 4096, 4095),  # one under: still above the budget
        ({"thinking_budget": 4096}, 4096 + 4096, 4096),  # equal: raised (max_tokens must exceed it)
        ({"thinking_budget": 10_000}, 10_000 + 4096, 10_000),
        ({"thinking_budget": 10_000, "max_tokens": 2000}, 2000, 10_000),  # given: sent as given
        ({"thinking_budget": 10_000, "max_completion_tokens": 3000}, 3000, 10_000),
        ({"max_tokens": 0}, 0, None),
        ({"thinking_budget": 0}, 4096, None),  # no budget: no thinking
        ({"thinking_budget": "2048"}, 4096, 2048),  # a number given as text (a config value)
    ],
)
async def test_anthropic_thinking_budget_and_max_tokens(server: LoopbackServer, options: dict[str, Any],
                                                        max_tokens: int, thinking: int | None) -> None:
    body = await sent_body(server, "anthropic", ask(**options))
    assert body["max_tokens"] == max_tokens
    if thinking is None:
        assert "thinking" not in body
    else:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": thinking}
    assert "thinking_budget" not in body and "max_completion_tokens" not in body


async def test_anthropic_default_max_tokens_is_the_providers(server: LoopbackServer) -> None:
    body = await sent_body(server, "anthropic", ask(thinking_budget=1000), default_max_tokens=1000)
    assert body["max_tokens"] == 2000 and body["thinking"]["budget_tokens"] == 1000


async def test_anthropic_maps_stop_and_drops_what_the_messages_api_rejects(server: LoopbackServer) -> None:
    dropped = {"seed": 1, "reasoning_effort": "high", "frequency_penalty": 0.1, "presence_penalty": 0.1,
               "logit_bias": {}, "logprobs": True, "top_logprobs": 2, "n": 2, "response_format": {},
               "parallel_tool_calls": False, "user": "u", "think": True}
    body = await sent_body(server, "anthropic", ask(stop="END", temperature=0.5, top_p=0.9, top_k=40,
                                                    metadata={"user_id": "x"}, **dropped))
    assert body["stop_sequences"] == ["END"] and "stop" not in body
    assert (body["temperature"], body["top_p"], body["top_k"], body["metadata"]) == (0.5, 0.9, 40, {"user_id": "x"})
    assert not set(dropped) & set(body)
    body = await sent_body(server, "anthropic", ask(stop=["A", "B"]))
    assert body["stop_sequences"] == ["A", "B"]


async def test_anthropic_thinking_disabled_wins_over_nothing(server: LoopbackServer) -> None:
    body = await sent_body(server, "anthropic", ask(thinking={"type": "disabled"}))
    assert body["thinking"] == {"type": "disabled"} and body["stream"] is True


# --- OpenAI-compatible --------------------------------------------------------------------------


async def test_openai_passes_neutral_options_and_drops_the_thinking_budget(server: LoopbackServer) -> None:
    body = await sent_body(server, "openai", ask(max_tokens=100, temperature=0.2, top_p=0.8, top_k=20, seed=7,
                                                 stop=["x"], reasoning_effort="low", thinking_budget=5000, n=2))
    assert {k: body[k] for k in ("max_tokens", "temperature", "top_p", "top_k", "seed", "stop",
                                 "reasoning_effort", "n")} == {
        "max_tokens": 100, "temperature": 0.2, "top_p": 0.8, "top_k": 20, "seed": 7, "stop": ["x"],
        "reasoning_effort": "low", "n": 2}
    assert "thinking_budget" not in body and "max_completion_tokens" not in body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == MESSAGES


def test_openai_official_api_gets_max_completion_tokens_and_no_top_k() -> None:
    provider = OpenAIProvider(client=httpx.AsyncClient(), base_url="https://api.openai.com/v1", api_key="sk")
    body = provider.build_body(ask(max_tokens=100, top_k=20, temperature=0))
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body and "top_k" not in body
    assert body["temperature"] == 0
    # a text completion keeps the old name: /completions has no max_completion_tokens
    text = provider.build_body(ChatRequest(model="m", messages=[], prompt="Once", options={"max_tokens": 5}))
    assert text["max_tokens"] == 5 and "max_completion_tokens" not in text


async def test_openai_text_completion_goes_to_completions_with_its_options(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse({"id": "c", "object": "text_completion", "choices": [
        {"index": 0, "text": " upon a time", "finish_reason": "length"}]})])
    request = ChatRequest(model="base", messages=MESSAGES, system="ignored", prompt="Once",
                          options={"max_tokens": 5, "temperature": 0.7, "stop": "\n"})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        events = [e async for e in provider.stream(request)]
    assert server.requests[-1].path == "/v1/completions"
    body = server.requests[-1].json()
    assert body["prompt"] == "Once" and "messages" not in body
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (5, 0.7, "\n")
    assert events == [ContentDelta(" upon a time"), Finish("length", "length")]


async def test_openai_n_above_one_streams_only_the_first_choice(server: LoopbackServer) -> None:
    def two(index: int, content: str | None = None, finish: str | None = None) -> dict[str, Any]:
        obj = chunk(content, finish=finish)
        obj["choices"][0]["index"] = index
        return obj

    server.handler = lambda _r: Reply(parts=[sse(
        two(0, "first "), two(1, "other "), two(1, finish="length"), two(0, "choice"), two(0, finish="stop"))])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        events: list[StreamEvent] = [e async for e in provider.stream(ask(n=2))]
    assert server.requests[-1].json()["n"] == 2
    assert events == [ContentDelta("first "), ContentDelta("choice"), Finish("stop", "stop")]


# --- Ollama -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "think"),
    [
        ({"think": True}, True),
        ({"think": "high"}, "high"),
        ({"think": 0}, False),
        ({"reasoning_effort": "medium"}, "medium"),
        ({"reasoning_effort": "none"}, False),
        ({"think": False, "reasoning_effort": "high"}, False),  # think itself wins
        ({"reasoning_effort": "low", "thinking_budget": 500}, "low"),  # then the effort
        ({"thinking_budget": 500}, True),
        ({"thinking_budget": 0}, False),
        ({}, None),
    ],
)
async def test_ollama_think_from_each_thinking_option(server: LoopbackServer, options: dict[str, Any],
                                                      think: bool | str | None) -> None:
    body = await sent_body(server, "ollama", ask(**options))
    assert body.get("think", None) == think and ("think" in body) == (think is not None)
    assert not {"reasoning_effort", "thinking_budget"} & set(body.get("options", {}))


async def test_ollama_runtime_options_go_into_options(server: LoopbackServer) -> None:
    body = await sent_body(server, "ollama", ask(max_tokens=64, temperature=0.1, top_p=0.5, top_k=10, seed=3,
                                                 stop="END", num_ctx=8192, format="json", keep_alive="5m",
                                                 n=2, stream_options={}, logprobs=True, parallel_tool_calls=True))
    assert body["options"] == {"num_predict": 64, "temperature": 0.1, "top_p": 0.5, "top_k": 10, "seed": 3,
                               "stop": ["END"], "num_ctx": 8192}
    assert (body["format"], body["keep_alive"], body["stream"]) == ("json", "5m", True)
    assert not {"n", "stream_options", "logprobs", "parallel_tool_calls", "max_tokens"} & set(body)
    body = await sent_body(server, "ollama", ask(max_completion_tokens=32, stop=["a", "b"]))
    assert body["options"] == {"num_predict": 32, "stop": ["a", "b"]}
    assert "options" not in await sent_body(server, "ollama", ask())
