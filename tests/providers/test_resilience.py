"""Retries, timeouts and size caps (StreamPolicy), against the real loopback server."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from llmchat.providers.errors import (
    ConnectError,
    DeadlineExceeded,
    FirstTokenTimeout,
    IdleTimeout,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
    StreamTooLarge,
)
from llmchat.providers.events import ContentDelta, Retrying, StreamEvent
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy, retry_after
from tests.loopback import DROP, LoopbackServer, Reply, chunk, completion, json_reply, sse
from tests.providers.streams import REQUEST, drain, script

FAST = StreamPolicy(retries=2, backoff=0.01)


async def collect(server_url: str, policy: StreamPolicy) -> tuple[list[StreamEvent], ProviderError | None]:
    async with httpx.AsyncClient() as client:
        return await drain(OpenAIProvider(client=client, base_url=server_url, policy=policy))


def rate_limited(**headers: str) -> Reply:
    reply = json_reply(429, {"error": {"message": "slow down", "type": "rate_limit"}})
    reply.headers.update(headers)
    return reply


async def test_429_is_retried_after_retry_after_ms(server: LoopbackServer) -> None:
    server.handler = script(rate_limited(**{"retry-after-ms": "50"}), Reply(parts=[completion(["ok"])]))
    events, error = await collect(server.base_url, FAST)
    assert error is None
    assert isinstance(events[0], Retrying) and events[0].attempt == 1 and events[0].delay == pytest.approx(0.05)
    assert "429" in events[0].error and "slow down" in events[0].error
    assert events[1] == ContentDelta("ok")
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504, 529])
async def test_retryable_statuses_then_success(server: LoopbackServer, status: int) -> None:
    failing = json_reply(status, {"error": {"message": f"boom {status}"}})
    server.handler = script(failing, failing, Reply(parts=[completion(["fine"])]))
    events, error = await collect(server.base_url, FAST)
    assert error is None
    assert [type(e) for e in events[:2]] == [Retrying, Retrying]
    assert [e.attempt for e in events[:2]] == [1, 2]  # type: ignore[union-attr]
    assert ContentDelta("fine") in events


async def test_retries_run_out(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(503, {"error": {"message": "down"}})
    events, error = await collect(server.base_url, FAST)
    assert isinstance(error, ServerError) and error.status == 503 and error.message == "down"
    assert [type(e) for e in events] == [Retrying, Retrying]
    assert len(server.requests) == 3


async def test_401_and_400_are_not_retried(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(401, {"error": {"message": "bad key"}})
    events, error = await collect(server.base_url, FAST)
    assert events == [] and error is not None and error.status == 401 and len(server.requests) == 1


async def test_retry_after_above_the_cap_is_reported_not_slept_on(server: LoopbackServer) -> None:
    server.handler = lambda _r: rate_limited(**{"retry-after": "3600"})
    # Sleeping on it would take an hour: the test's timeout fails it long before.
    events, error = await asyncio.wait_for(collect(server.base_url, FAST), 30)
    assert isinstance(error, RateLimitError) and error.retry_after == 3600
    assert "3600 s" in (error.hint or "") and events == []


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events, error = await collect(f"http://127.0.0.1:{port}/v1", FAST)
    assert isinstance(error, ConnectError)
    assert [type(e) for e in events] == [Retrying, Retrying]


async def test_no_retry_after_the_first_token(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("partial"), done=False), DROP])
    events, error = await collect(server.base_url, FAST)
    assert events == [ContentDelta("partial")]
    assert isinstance(error, StreamInterrupted) and len(server.requests) == 1


async def test_backoff_sleep_is_interrupted_by_cancel(server: LoopbackServer) -> None:
    server.handler = lambda _r: rate_limited(**{"retry-after": "30"})
    got: list[StreamEvent] = []

    async def consume() -> None:
        async with httpx.AsyncClient() as client:
            provider = OpenAIProvider(client=client, base_url=server.base_url, policy=FAST)
            async for event in provider.stream(REQUEST):
                got.append(event)

    task = asyncio.create_task(consume())
    while not got:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 15)  # not the 30 s back-off (that would be TimeoutError)
    assert isinstance(got[0], Retrying) and got[0].delay == 30


KEEPALIVES = [b": ping\n\n", 0.05] * 60  # three seconds of keep-alives and nothing else


async def test_first_token_timeout_is_not_reset_by_keepalives(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[*KEEPALIVES, sse(chunk("late"))])
    events, error = await collect(server.base_url, StreamPolicy(retries=0, first_token_timeout=0.4))
    assert isinstance(error, FirstTokenTimeout) and "0.4 s" in error.message
    assert events == []  # "late" (after three seconds of keep-alives) never came through
    assert server.disconnected.wait(5)


async def test_idle_timeout_after_tokens(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("one"), done=False), *KEEPALIVES])
    events, error = await collect(server.base_url, StreamPolicy(retries=0, idle_timeout=0.4))
    assert events == [ContentDelta("one")]
    assert isinstance(error, IdleTimeout) and "0.4 s" in error.message


async def test_a_slow_consumer_does_not_count_as_idle(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["a", "b", "c"])])
    events: list[StreamEvent] = []
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url,
                                  policy=StreamPolicy(retries=0, idle_timeout=0.2))
        async for event in provider.stream(REQUEST):
            events.append(event)
            await asyncio.sleep(0.3)  # a terminal that reads slowly: the pause under test
    assert [e.text for e in events if isinstance(e, ContentDelta)] == ["a", "b", "c"]


async def test_total_deadline(server: LoopbackServer) -> None:
    parts: list[object] = []
    parts: list[object] = [sse(*[chunk(f"early{i} ") for i in range(5)], done=False)]
    for i in range(100):  # five seconds of tokens, five deadlines long
        parts += [0.05, sse(chunk(f"t{i} "), done=False)]
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await collect(server.base_url, StreamPolicy(retries=0, total_timeout=1.0))
    assert isinstance(error, DeadlineExceeded) and "1 s deadline" in error.message
    assert events[:5] == [ContentDelta(f"early{i} ") for i in range(5)]  # the partial reply came through
    assert ContentDelta("t99 ") not in events  # and the stream was cut before its end
    assert server.disconnected.wait(5)


async def test_event_size_cap(server: LoopbackServer) -> None:
    huge = b"data: " + b"x" * 50_000  # one event that never ends
    server.handler = lambda _r: Reply(parts=[sse(chunk("ok"), done=False), huge[:20_000], huge[20_000:]])
    events, error = await collect(server.base_url, StreamPolicy(retries=0, max_event_bytes=10_000))
    assert events == [ContentDelta("ok")]
    assert isinstance(error, StreamTooLarge) and "event" in error.message


async def test_reply_size_cap(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("y" * 1000), done=False)] * 50)
    events, error = await collect(server.base_url, StreamPolicy(retries=0, max_reply_bytes=20_000))
    assert isinstance(error, StreamTooLarge) and "reply" in error.message
    assert 5 < len(events) < 25


async def test_ndjson_line_size_cap(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[b'{"message": {"content": "' + b"z" * 30_000],
                                      headers={"content-type": "application/x-ndjson"})
    async with httpx.AsyncClient() as client:
        provider = OllamaProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                                  policy=StreamPolicy(retries=0, max_event_bytes=10_000))
        with pytest.raises(StreamTooLarge):
            async for _ in provider.stream(REQUEST):
                pass


def test_retry_after_parsing() -> None:
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


