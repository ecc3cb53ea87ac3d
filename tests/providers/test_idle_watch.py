"""The idle timeout moves with every token without a timer per token (http._IdleWatch)."""

from __future__ import annotations

import time

import httpx

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import IdleTimeout
from llmchat.providers.events import ContentDelta, Finish
from llmchat.providers.http import StreamPolicy
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, sse

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


async def run(server: LoopbackServer, policy: StreamPolicy) -> tuple[list[object], Exception | None, float]:
    events: list[object] = []
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, policy=policy)
        try:
            async for event in provider.stream(REQUEST):
                events.append(event)
        except IdleTimeout as error:
            return events, error, time.monotonic() - started
    return events, None, time.monotonic() - started


async def test_steady_tokens_never_time_out_however_long_the_reply(server: LoopbackServer) -> None:
    parts: list[object] = []
    for i in range(12):  # 1.2 s of tokens, 0.1 s apart: four idle timeouts long
        parts += [sse(chunk(f"t{i} "), done=False), 0.1]
    parts.append(sse(chunk(finish="stop")))
    server.handler = lambda _r: Reply(parts=parts)
    events, error, _ = await run(server, StreamPolicy(retries=0, idle_timeout=0.3))
    assert error is None
    assert len([e for e in events if isinstance(e, ContentDelta)]) == 12
    assert isinstance(events[-1], Finish)


async def test_silence_after_a_long_run_of_tokens_times_out_on_time(server: LoopbackServer) -> None:
    parts: list[object] = []
    for i in range(8):
        parts += [sse(chunk(f"t{i} "), done=False), 0.1]
    parts += [30.0]  # then silence
    server.handler = lambda _r: Reply(parts=parts)
    events, error, elapsed = await run(server, StreamPolicy(retries=0, idle_timeout=0.3))
    assert isinstance(error, IdleTimeout)
    assert len(events) == 8
    assert 0.7 + 0.3 - 0.05 < elapsed < 0.7 + 0.3 + 1.0  # the last token (at 0.7 s), then 0.3 s
    assert server.disconnected.wait(5)
