"""Each stream timer is disarmed when its phase ends, and only its own phase counts.

A timer that is armed correctly but never disarmed passes every test that ends before it fires:
these replies last several times each timeout, so a timer left running fails them. The first
token comes at once, so a loaded machine would need to stall a whole second to fail them
wrongly. Each protocol (SSE and NDJSON) is checked: the timers live in one place but each wire
module must route its stream through them.
"""

from __future__ import annotations

import json

import pytest

from llmchat.providers.errors import FirstTokenTimeout
from llmchat.providers.events import ContentDelta, Finish, StreamEvent
from llmchat.providers.policy import StreamPolicy
from tests.loopback import LoopbackServer, Reply, chunk, sse
from tests.providers.streams import collect

TOKENS = 50
GAP = 0.04
"""50 tokens 0.04 s apart: a two-second reply, twice each timeout."""


def sse_reply(first_after: float = 0.0) -> Reply:
    parts: list[object] = [first_after] if first_after else []
    for i in range(TOKENS):
        parts += [sse(chunk(f"t{i} "), done=False), GAP]
    parts.append(sse(chunk(finish="stop")))
    return Reply(parts=parts)


def ndjson_reply() -> Reply:
    def line(obj: dict[str, object]) -> bytes:
        return (json.dumps({"model": "m", **obj}) + "\n").encode()

    parts: list[object] = []
    for i in range(TOKENS):
        parts += [line({"message": {"role": "assistant", "content": f"t{i} "}, "done": False}), GAP]
    parts.append(line({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}))
    return Reply(parts=parts, headers={"content-type": "application/x-ndjson"})


def whole(events: list[StreamEvent]) -> bool:
    texts = [e.text for e in events if isinstance(e, ContentDelta)]
    return texts == [f"t{i} " for i in range(TOKENS)] and events[-1] == Finish("stop", "stop")


@pytest.mark.parametrize("ollama", [False, True], ids=["sse", "ndjson"])
async def test_a_reply_longer_than_the_first_token_timeout_finishes(server: LoopbackServer, ollama: bool) -> None:
    server.handler = lambda _r: ndjson_reply() if ollama else sse_reply()
    events, error = await collect(server, StreamPolicy(retries=0, first_token_timeout=1.0, idle_timeout=120),
                                  ollama=ollama)
    assert error is None and whole(events)


@pytest.mark.parametrize("ollama", [False, True], ids=["sse", "ndjson"])
async def test_a_reply_longer_than_the_idle_timeout_finishes_while_tokens_flow(server: LoopbackServer,
                                                                               ollama: bool) -> None:
    server.handler = lambda _r: ndjson_reply() if ollama else sse_reply()
    events, error = await collect(server, StreamPolicy(retries=0, idle_timeout=1.0), ollama=ollama)
    assert error is None and whole(events)


async def test_the_idle_timeout_does_not_apply_before_the_first_token(server: LoopbackServer) -> None:
    """The wait for the first token is the first-token timeout's alone: a model that thinks for
    longer than the idle timeout before its first token is not cut off."""
    server.handler = lambda _r: sse_reply(first_after=1.5)
    events, error = await collect(server, StreamPolicy(retries=0, first_token_timeout=120, idle_timeout=0.5))
    assert error is None and whole(events)


async def test_a_reply_that_ends_within_the_total_deadline_is_not_cut(server: LoopbackServer) -> None:
    server.handler = lambda _r: sse_reply()
    events, error = await collect(server, StreamPolicy(retries=0, total_timeout=120))
    assert error is None and whole(events)


async def test_the_first_token_timeout_still_fires_when_nothing_comes(server: LoopbackServer) -> None:
    server.handler = lambda _r: sse_reply(first_after=20.0)
    events, error = await collect(server, StreamPolicy(retries=0, first_token_timeout=0.5, idle_timeout=120))
    assert isinstance(error, FirstTokenTimeout) and events == []
