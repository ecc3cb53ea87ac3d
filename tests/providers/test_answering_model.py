"""Every provider's Finish names the model the server says answered (as the SDKs report it),
streamed or as one JSON body; None when the server names none."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers import create_provider
from llmchat.providers.base import ChatRequest
from llmchat.providers.events import Finish, StreamEvent
from tests.loopback import LoopbackServer, Reply, chunk, json_reply, sse
from tests.streams import gemini_stream, responses_stream

REQUEST = ChatRequest(model="asked-for", messages=[{"role": "user", "content": "hi"}])


async def finish(server: LoopbackServer, kind: str) -> Finish:
    base = {"openai": server.base_url, "openai-responses": server.base_url}.get(kind, f"http://127.0.0.1:{server.port}")
    async with httpx.AsyncClient(timeout=10) as client:
        provider = create_provider(kind, client=client, name=kind, base_url=base, api_key="k")
        events: list[StreamEvent] = [e async for e in provider.stream(REQUEST)]
    last = events[-1]
    assert isinstance(last, Finish)
    return last


def anthropic_stream(model: str) -> bytes:
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                              "model": model, "usage": {"input_tokens": 3, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def ollama_stream(model: str) -> bytes:
    lines = [{"model": model, "message": {"role": "assistant", "content": "hi"}, "done": False},
             {"model": model, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
              "prompt_eval_count": 3, "eval_count": 1}]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


STREAMS: dict[str, Any] = {
    "openai": lambda m: sse({**chunk("hi"), "model": m}, {**chunk(finish="stop"), "model": m}),
    "anthropic": anthropic_stream,
    "ollama": ollama_stream,
    "openai-responses": lambda m: responses_stream(["hi"], model=m),
    "gemini": lambda m: gemini_stream(["hi"], model=m),
}


@pytest.mark.parametrize("kind", list(STREAMS))
async def test_streamed_reply_names_the_answering_model(server: LoopbackServer, kind: str) -> None:
    server.handler = lambda _r: Reply(parts=[STREAMS[kind]("served-model-v2")])
    assert (await finish(server, kind)).model == "served-model-v2"


async def test_a_stream_that_names_no_model_gives_none(server: LoopbackServer) -> None:
    nameless = [{k: v for k, v in c.items() if k != "model"} for c in (chunk("hi"), chunk(finish="stop"))]
    server.handler = lambda _r: Reply(parts=[sse(*nameless)])
    assert (await finish(server, "openai")).model is None


@pytest.mark.parametrize(("kind", "body"), [
    ("openai", {"id": "c", "object": "chat.completion", "model": "served-model-v2", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}),
    ("anthropic", {"id": "m", "type": "message", "role": "assistant", "model": "served-model-v2",
                   "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                   "usage": {"input_tokens": 3, "output_tokens": 1}}),
])
async def test_a_whole_json_reply_names_the_answering_model(server: LoopbackServer, kind: str, body: Any) -> None:
    server.handler = lambda _r: json_reply(200, body)
    assert (await finish(server, kind)).model == "served-model-v2"
