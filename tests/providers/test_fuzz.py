"""Hostile bodies: whatever bytes a server sends, a provider either finishes (Finish last) or
raises a ProviderError — never another exception. Hypothesis generates the bodies; an
in-memory transport serves them (the loopback server covers the network itself)."""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmchat.providers import create_provider
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import Finish
from llmchat.providers.policy import StreamPolicy

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
CONTENT_TYPES = {"openai": "text/event-stream", "anthropic": "text/event-stream", "ollama": "application/x-ndjson"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["choices", "delta", "content", "index", "type", "message", "error", "usage",
                         "done", "tool_calls", "function", "arguments", "finish_reason", "content_block",
                         "text", "thinking", "stop_reason", "name", "id", "prompt_tokens", "eval_count"]),
        inner, max_size=4),
    max_leaves=12,
)


def sse_of(values: list[object], events: list[str]) -> bytes:
    out = []
    for value, name in zip(values, events):
        out.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(value)}\n\n")
    return "".join(out).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(sse_of, st.lists(json_values, max_size=6),
              st.lists(st.sampled_from(["", "message_start", "content_block_start", "content_block_delta",
                                        "message_delta", "message_stop", "error", "ping"]), min_size=6, max_size=6)),
    st.lists(json_values, max_size=6).map(lambda vs: b"".join(json.dumps(v).encode() + b"\n" for v in vs)),
)


async def run(kind: str, body: bytes, json_reply: bool) -> None:
    content_type = "application/json" if json_reply else CONTENT_TYPES[kind]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body,
                                                                   headers={"content-type": content_type}))
    async with httpx.AsyncClient(transport=transport) as client:
        provider = create_provider(kind, client=client, name=kind, base_url="http://127.0.0.1:9", api_key="k",
                                   policy=StreamPolicy(retries=0))
        events = []
        try:
            async for event in provider.stream(REQUEST):
                events.append(event)
        except ProviderError:
            return
        assert isinstance(events[-1], Finish)
        assert not any(isinstance(e, Finish) for e in events[:-1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["openai", "anthropic", "ollama"]), body=bodies, json_reply=st.booleans())
def test_any_body_finishes_or_raises_a_provider_error(kind: str, body: bytes, json_reply: bool) -> None:
    asyncio.run(run(kind, body, json_reply))
