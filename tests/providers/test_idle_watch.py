"""The idle timeout moves with every token without a timer per token (http._IdleWatch)."""

from __future__ import annotations

import httpx

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import IdleTimeout
from llmchat.providers.events import ContentDelta, Finish
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.loopback import LoopbackServer, Reply, chunk, sse

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


async def run(server: LoopbackServer, policy: StreamPolicy) -> tuple[list[object], Exception | None]:
    events: list[object] = []
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, policy=policy)
        try:
            async for event in provider.stream(REQUEST):
                events.append(event)
        except IdleTimeout as error:
            return events, error
    return events, None


async def test_steady_tokens_never_time_out_however_long_the_reply(server: LoopbackServer) -> None:
    parts: list[object] = []
    for i in range(40):  # 2 s of tokens, 0.05 s apart: two idle timeouts long
        parts += [sse(chunk(f"t{i} "), done=False), 0.05]
    parts.append(sse(chunk(finish="stop")))
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await run(server, StreamPolicy(retries=0, idle_timeout=1.0))
    assert error is None
    assert len([e for e in events if isinstance(e, ContentDelta)]) == 40
    assert isinstance(events[-1], Finish)


async def test_silence_after_a_long_run_of_tokens_times_out(server: LoopbackServer) -> None:
    """The idle clock starts again at each token (not at the first), and fires in a silence
    long before the silence ends."""
    parts: list[object] = []
    for i in range(30):  # 1.5 s of tokens: longer than the idle timeout
        parts += [sse(chunk(f"t{i} "), done=False), 0.05]
    parts += [20.0, sse(chunk("after the silence"))]
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await run(server, StreamPolicy(retries=0, idle_timeout=1.0))
    assert isinstance(error, IdleTimeout) and "1 s" in error.message
    assert len(events) == 30 and ContentDelta("after the silence") not in events
    assert server.disconnected.wait(5)
