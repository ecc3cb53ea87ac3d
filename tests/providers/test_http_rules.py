"""The shared HTTP stack (llmchat/providers/http.py) rule by rule: what is sent, each httpx
failure to its ProviderError class, both sides of the retry cap and the deadline, the end of a
stream (the terminal signal stops the reading; a body cut with or without its end), the head
kept to name a web page, and the timers' deadline. Written against the mutants of http.py
(`python tools/mutation.py providers.http --sample 60`) and the hand-made ones the issue lists.

The failures httpx raises at a point no loopback server can choose (a connect timeout, a
protocol error of its own) come from an ``httpx.MockTransport``: a unit test of the mapping.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from llmchat.providers.errors import (
    BadRequestError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    FirstTokenTimeout,
    IdleTimeout,
    NotAStream,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
    RedirectError,
    ServerError,
    StreamInterrupted,
    StreamTooLarge,
)
from llmchat.providers.events import ContentDelta, Finish, Retrying, StreamEvent
from llmchat.providers.http import reason
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.loopback import DROP, LoopbackServer, Reply, chunk, completion, json_reply, sse, split_every
from tests.providers.streams import REQUEST, drain, script

KEY = "sk-test-0123456789abcdef"


async def run(server_url: str, policy: StreamPolicy, *, client: httpx.AsyncClient | None = None,
              api_key: str | None = None) -> tuple[list[StreamEvent], ProviderError | None]:
    """The events of one OpenAI-shaped stream, and the error that ended it (or None)."""
    async with client or httpx.AsyncClient(timeout=10) as http:
        return await drain(OpenAIProvider(client=http, base_url=server_url, policy=policy, api_key=api_key))


def texts(events: list[StreamEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, ContentDelta)]


# --- what is sent --------------------------------------------------------------------------------


async def test_the_request_carries_its_length_type_and_accepted_encodings(server: LoopbackServer) -> None:
    events, error = await run(server.base_url, StreamPolicy(retries=0), api_key=KEY)
    assert error is None and texts(events) == ["Hello", ",", " world", "!"]
    request = server.requests[0]
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["content-type"] == "application/json"
    assert int(request.headers["content-length"]) == len(request.body) > 0
    assert request.json()["model"] == "m"
    assert "gzip" in request.headers["accept-encoding"] and "zstd" not in request.headers["accept-encoding"]
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_the_debug_log_shows_the_request_but_never_the_key(server: LoopbackServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="llmchat.http"):
        _, error = await run(server.base_url, StreamPolicy(retries=0), api_key=KEY)
    assert error is None
    posts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST ")]
    assert len(posts) == 1 and f"{server.base_url}/chat/completions" in posts[0]
    assert '"model": "m"' in posts[0] and "[REDACTED]" in posts[0] and KEY not in posts[0]


# --- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(299, None), (300, RedirectError), (307, RedirectError), (399, RedirectError), (400, BadRequestError)],
)
async def test_the_status_ranges(server: LoopbackServer, status: int, kind: type[ProviderError] | None) -> None:
    """2xx is a stream, 3xx (300-399, RFC 9110) a redirect never followed, 4xx an error."""
    body = completion(["ok"])
    headers = {"content-type": "text/event-stream", "location": "/elsewhere"}
    server.handler = lambda _r: Reply(status=status, parts=[body], headers=headers)
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    if kind is None:
        assert error is None and texts(events) == ["ok"]
    else:
        assert type(error) is kind and error.status == status and events == []
    assert len(server.requests) == 1


async def test_an_error_body_that_echoes_the_key_is_redacted(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    _, error = await run(server.base_url, StreamPolicy(retries=0), api_key=KEY)
    assert error is not None and error.status == 401
    assert KEY not in error.describe() and "[REDACTED]" in error.message


@pytest.mark.parametrize(("header", "expected"), [({}, 46.0), ({"retry-after": "3"}, 3.0)])
async def test_retry_after_header_wins_over_the_bodys_retry_info(server: LoopbackServer, header: dict[str, str],
                                                                  expected: float) -> None:
    body = {"error": {"message": "quota", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "46s"}]}}
    reply = json_reply(429, body)
    reply.headers.update(header)
    server.handler = lambda _r: reply
    _, error = await run(server.base_url, StreamPolicy(retries=0))
    assert isinstance(error, RateLimitError) and error.retry_after == expected


# --- retries -------------------------------------------------------------------------------------


def limited(**headers: str) -> Reply:
    reply = json_reply(429, {"error": {"message": "slow down"}})
    reply.headers.update(headers)
    return reply


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_exactly_the_configured_number_of_retries(server: LoopbackServer, retries: int) -> None:
    server.handler = lambda _r: json_reply(503, {"error": {"message": "down"}})
    events, error = await run(server.base_url, StreamPolicy(retries=retries, backoff=0.001))
    assert isinstance(error, ServerError) and error.status == 503
    assert [e.attempt for e in events if isinstance(e, Retrying)] == list(range(1, retries + 1))
    assert len(server.requests) == retries + 1


async def test_each_retry_is_announced_with_its_delay_and_cause(server: LoopbackServer) -> None:
    server.handler = script(limited(**{"retry-after-ms": "20"}), limited(**{"retry-after-ms": "30"}),
                            Reply(parts=[completion(["ok"])]))
    events, error = await run(server.base_url, StreamPolicy(retries=2, backoff=0.001))
    assert error is None
    assert events[:2] == [Retrying(1, 0.02, "openai: HTTP 429: slow down (wait a moment and try again)"),
                          Retrying(2, 0.03, "openai: HTTP 429: slow down (wait a moment and try again)")]
    assert texts(events) == ["ok"]


async def test_the_debug_log_notes_each_retry(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    server.handler = script(limited(**{"retry-after-ms": "20"}), Reply(parts=[completion(["ok"])]))
    with caplog.at_level(logging.DEBUG, logger="llmchat.http"):
        _, error = await run(server.base_url, StreamPolicy(retries=2, backoff=0.001))
    assert error is None
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert retries == ["retry 1 in 0.02 s after openai: HTTP 429: slow down (wait a moment and try again)"]


@pytest.mark.parametrize(("asked_ms", "retried"), [("50", True), ("51", False)])
async def test_a_retry_after_of_exactly_the_cap_is_slept_on_one_more_is_reported(
    server: LoopbackServer, asked_ms: str, retried: bool
) -> None:
    server.handler = script(limited(**{"retry-after-ms": asked_ms}), Reply(parts=[completion(["ok"])]))
    events, error = await run(server.base_url, StreamPolicy(retries=2, retry_after_cap=0.05))
    if retried:
        assert error is None and isinstance(events[0], Retrying) and texts(events) == ["ok"]
    else:
        assert isinstance(error, RateLimitError) and events == [] and len(server.requests) == 1
        assert error.hint == "the server asked to wait 0 s, more than the 0 s llmchat waits; try again later"


async def test_a_backoff_that_would_pass_the_deadline_is_not_waited(server: LoopbackServer) -> None:
    server.handler = script(limited(**{"retry-after": "30"}), Reply(parts=[completion(["ok"])]))
    # Sleeping 30 s would pass the 20 s deadline: the error comes now (the test's timeout is 60 s).
    events, error = await asyncio.wait_for(run(server.base_url, StreamPolicy(retries=2, total_timeout=20)), 15)
    assert isinstance(error, RateLimitError) and error.retry_after == 30 and events == []
    assert len(server.requests) == 1


async def test_a_backoff_within_the_deadline_is_waited(server: LoopbackServer) -> None:
    server.handler = script(limited(**{"retry-after-ms": "10"}), Reply(parts=[completion(["ok"])]))
    events, error = await run(server.base_url, StreamPolicy(retries=2, total_timeout=60))
    assert error is None and isinstance(events[0], Retrying) and texts(events) == ["ok"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
async def test_statuses_outside_the_retry_list_are_not_retried(server: LoopbackServer, status: int) -> None:
    server.handler = lambda _r: json_reply(status, {"error": {"message": "no"}})
    events, error = await run(server.base_url, StreamPolicy(retries=2, backoff=0.001))
    assert error is not None and error.status == status and events == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [501, 505, 599])
async def test_every_5xx_is_retried(server: LoopbackServer, status: int) -> None:
    """DESIGN: retries for 408/409/429/5xx/529, so the rarer 5xx too, and the retry succeeds."""
    server.handler = script(json_reply(status, {"error": {"message": "later"}}),
                            Reply(parts=[completion(["ok"])]))
    events, error = await run(server.base_url, StreamPolicy(retries=2, backoff=0.001))
    assert error is None and isinstance(events[0], Retrying) and texts(events) == ["ok"]
    assert len(server.requests) == 2


async def test_a_model_without_vision_is_not_retried_even_on_a_5xx(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(500, {"error": {"message": "This model does not support image input"}})
    events, error = await run(server.base_url, StreamPolicy(retries=2, backoff=0.001))
    assert isinstance(error, BadRequestError) and events == [] and len(server.requests) == 1


# --- the end of a stream -------------------------------------------------------------------------


async def test_the_terminal_signal_ends_the_reading_though_the_server_stays(server: LoopbackServer) -> None:
    """After ``[DONE]`` nothing more is read: a server that keeps the connection open and sends
    keep-alives (30 s of them, a 2 s idle timeout) does not hold the reply."""
    server.handler = lambda _r: Reply(parts=[completion(["a", "b"]), *[b": ping\n\n", 0.05] * 600])
    events, error = await run(server.base_url, StreamPolicy(retries=0, idle_timeout=2.0))
    assert error is None and texts(events) == ["a", "b"] and isinstance(events[-1], Finish)
    assert server.disconnected.wait(10)


async def test_events_after_the_terminal_signal_in_the_same_read_are_ignored(server: LoopbackServer) -> None:
    body = sse(chunk("a"), chunk(finish="stop")) + sse(chunk("after"), done=False)
    server.handler = lambda _r: Reply(parts=[body])
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert error is None and texts(events) == ["a"] and events[-1] == Finish("stop", "stop", model="test-model")


async def test_a_last_line_without_its_line_end_is_read_at_the_end_of_the_body(server: LoopbackServer) -> None:
    def line(obj: dict[str, object]) -> bytes:
        return json.dumps({"model": "m", **obj}).encode()

    parts = [line({"message": {"role": "assistant", "content": "hi"}, "done": False}) + b"\n",
             line({"message": {"role": "assistant", "content": " there"}, "done": False}) + b"\n",
             line({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "length"})]
    server.handler = lambda _r: Reply(parts=parts, headers={"content-type": "application/x-ndjson"})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                                  policy=StreamPolicy(retries=0))
        events = [event async for event in provider.stream(REQUEST)]
    assert texts(events) == ["hi", " there"] and isinstance(events[-1], Finish) and events[-1].reason == "length"


@pytest.mark.parametrize(("ending", "said"), [(DROP, "the connection was lost before the reply was finished"),
                                              (None, "the connection closed before the reply was finished")])
async def test_a_body_cut_before_its_end_says_whether_it_was_lost_or_closed(server: LoopbackServer, ending: object,
                                                                              said: str) -> None:
    parts = [sse(chunk("part"), done=False)] + ([ending] if ending is not None else [])
    server.handler = lambda _r: Reply(parts=parts)
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert texts(events) == ["part"]
    assert isinstance(error, StreamInterrupted) and error.message == said


async def test_malformed_data_is_a_server_error_that_shows_its_start(server: LoopbackServer) -> None:
    bad = {"choices": [5], "pad": "p" * 400}
    server.handler = lambda _r: Reply(parts=[sse(chunk("a"), bad)])
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert texts(events) == ["a"]
    assert isinstance(error, ServerError) and error.message.startswith("malformed stream data (AttributeError: ")
    shown = error.message.split("): ", 1)[1]
    # the item's first 200 characters: "SSEEvent(data='" (15), the JSON up to the pad (25), 160 p's
    assert '{"choices": [5]' in shown and "p" * 160 in shown and "p" * 161 not in shown


# --- the head kept to name a web page --------------------------------------------------------------


def page(title_at: int) -> bytes:
    """A web page (sent as an event stream) whose ``<title>`` closes at byte `title_at`."""
    title = b"<title>Portal Login</title"
    start = b"<!DOCTYPE html><html><head>"
    pad = b"<!-- " + b"-" * (title_at - len(start) - len(title) - 9) + b" -->"
    return start + pad + title + b"></head><body>" + b"x" * 8000 + b"</body></html>"


@pytest.mark.parametrize(("title_at", "named"), [(4096, True), (4097, False)])
async def test_a_web_page_is_named_from_its_first_4_kib(server: LoopbackServer, title_at: int, named: bool) -> None:
    body = page(title_at)
    assert body.index(b"</title") + len(b"</title") == title_at
    server.handler = lambda _r: Reply(parts=split_every(body, 1000))  # the head spans several reads
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert isinstance(error, NotAStream) and events == []
    assert ("titled 'Portal Login'" in error.message) is named and "an HTML page" in error.message


async def test_a_web_page_after_an_event_is_an_interruption(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("a"), done=False), page(200)])
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert texts(events) == ["a"] and type(error) is StreamInterrupted


# --- the timers and the deadline -----------------------------------------------------------------


async def test_the_deadline_cuts_the_wait_for_the_first_token(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[30.0, completion(["late"])])
    events, error = await run(server.base_url, StreamPolicy(retries=0, first_token_timeout=120, total_timeout=0.5))
    assert isinstance(error, DeadlineExceeded) and error.message == "the reply took longer than the 0.5 s deadline"
    assert events == []


async def test_the_deadline_cuts_a_silence_shorter_than_the_idle_timeout(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("a"), done=False), 30.0, completion(["late"])])
    events, error = await run(server.base_url, StreamPolicy(retries=0, idle_timeout=120, total_timeout=2.0))
    assert isinstance(error, DeadlineExceeded) and texts(events) == ["a"]
    assert server.disconnected.wait(10)


@pytest.mark.parametrize(("first_after", "kind", "message"), [
    (None, IdleTimeout, "the stream sent nothing for 0.4 s"),  # the first token is in time (30 s)
    (30.0, FirstTokenTimeout, "no first token after 0.4 s"),
])
async def test_each_timer_names_its_phase(server: LoopbackServer, first_after: float | None,
                                          kind: type[ProviderTimeout], message: str) -> None:
    parts: list[object] = [30.0] if first_after else [sse(chunk("a"), done=False), 30.0]
    server.handler = lambda _r: Reply(parts=parts)
    first, idle = (30.0, 0.4) if first_after is None else (0.4, 30.0)
    _, error = await run(server.base_url, StreamPolicy(retries=0, first_token_timeout=first, idle_timeout=idle))
    assert type(error) is kind and error.message == message


async def test_a_whole_json_reply_read_slowly_is_not_timed_out(server: LoopbackServer) -> None:
    """A server that ignored ``stream: true`` answers with one JSON body; the first-token timer
    stops when it has been read, so a consumer slower than the timer still gets all of it."""
    whole = {"id": "c", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    server.handler = lambda _r: json_reply(200, whole)
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url,
                                  policy=StreamPolicy(retries=0, first_token_timeout=2.0))
        async for event in provider.stream(REQUEST):
            events.append(event)
            if len(events) == 1:
                await asyncio.sleep(3.0)  # a consumer slower than the first-token timer: the pause under test
    assert texts(events) == ["whole"] and isinstance(events[-1], Finish)


# --- httpx's failures to ProviderError classes (a MockTransport raises them) ------------------------


class _Broken(httpx.AsyncByteStream):
    """A body that sends `first` and then fails with `error`."""

    def __init__(self, first: bytes, error: Exception) -> None:
        self.first, self.error = first, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise self.error


def mock_client(raise_: Exception | None = None, body: httpx.AsyncByteStream | None = None) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if raise_ is not None:
            raise raise_
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


URL = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("exc", "kind", "start"),
    [
        (httpx.ConnectTimeout("slow"), ConnectTimeout, f"no connection to {URL}/chat/completions within 7 s"),
        (httpx.ConnectError("refused"), ConnectError, f"cannot reach {URL}/chat/completions: refused"),
        (httpx.UnsupportedProtocol("no scheme"), ConnectError, f"cannot reach {URL}/chat/completions: no scheme"),
        (httpx.ReadTimeout("slow read"), ProviderTimeout, f"no answer from {URL}/chat/completions in time"),
        (httpx.WriteTimeout("slow write"), ProviderTimeout, f"no answer from {URL}/chat/completions in time"),
        (httpx.PoolTimeout("pool"), ProviderTimeout, f"no answer from {URL}/chat/completions in time"),
        (httpx.LocalProtocolError("bad header"), ProviderError, "LocalProtocolError: bad header"),
        (httpx.DecodingError(""), ProviderError, "DecodingError: DecodingError"),
    ],
)
async def test_each_httpx_failure_maps_to_its_class(exc: Exception, kind: type[ProviderError], start: str) -> None:
    events, error = await run(URL, StreamPolicy(retries=0, connect_timeout=7), client=mock_client(exc))
    assert events == [] and type(error) is kind and error.message.startswith(start)
    assert error.provider == "openai" and error.__cause__ is exc


@pytest.mark.parametrize("exc", [httpx.ReadError("reset"), httpx.RemoteProtocolError("peer closed")])
async def test_a_connection_lost_mid_body_keeps_what_came(exc: Exception) -> None:
    client = mock_client(body=_Broken(sse(chunk("kept"), done=False), exc))
    events, error = await run(URL, StreamPolicy(retries=0), client=client)
    assert texts(events) == ["kept"]
    assert type(error) is StreamInterrupted and error.message == "the connection was lost before the reply was finished"


async def test_a_connection_lost_after_the_finish_is_a_whole_reply() -> None:
    client = mock_client(body=_Broken(sse(chunk("all"), chunk(finish="stop"), done=False), httpx.ReadError("reset")))
    events, error = await run(URL, StreamPolicy(retries=0), client=client)
    assert error is None and texts(events) == ["all"] and isinstance(events[-1], Finish)


async def test_a_connect_failure_is_retried_a_read_timeout_is_not() -> None:
    calls: list[int] = []

    def counting(exc: Exception) -> httpx.AsyncClient:
        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(1)
            raise exc

        return httpx.AsyncClient(transport=httpx.MockTransport(handler))

    events, error = await run(URL, StreamPolicy(retries=2, backoff=0.001), client=counting(httpx.ConnectError("no")))
    assert isinstance(error, ConnectError) and len(calls) == 3 and len(events) == 2
    calls.clear()
    events, error = await run(URL, StreamPolicy(retries=2, backoff=0.001), client=counting(httpx.ReadTimeout("no")))
    assert type(error) is ProviderTimeout and len(calls) == 1 and events == []


def test_reason_is_the_message_or_else_the_type_name() -> None:
    assert reason(ValueError("bad value")) == "bad value"
    assert reason(ValueError()) == "ValueError"


async def test_the_event_and_reply_caps_name_their_size_in_mib(server: LoopbackServer) -> None:
    line = b"data: " + b"w" * 93 + b"\n"
    server.handler = lambda _r: Reply(parts=[line] * (3 * 2**20 // 100 + 10))
    _, error = await run(server.base_url, StreamPolicy(retries=0, max_event_bytes=2 * 2**20))
    assert isinstance(error, StreamTooLarge) and error.message == "one stream event passed 2 MiB"
    assert error.provider == "openai"
    server.handler = lambda _r: Reply(parts=[sse(chunk("y" * 1000), done=False)] * 3200)
    _, error = await run(server.base_url, StreamPolicy(retries=0, max_reply_bytes=3 * 2**20))
    assert isinstance(error, StreamTooLarge) and error.message == "the reply passed 3 MiB"
    assert error.provider == "openai"


# --- the idle timer is disarmed however the stream ends ------------------------------------------


def armed_idle_timers() -> list[asyncio.TimerHandle]:
    """The idle watch's timers still pending on the running loop (asyncio keeps its timers in
    ``loop._scheduled``; a cancelled one stays there, marked cancelled)."""
    loop = asyncio.get_running_loop()
    return [handle for handle in loop._scheduled  # type: ignore[attr-defined]
            if not handle.cancelled() and type(getattr(handle._callback, "__self__", None)).__name__ == "_IdleWatch"]


@pytest.mark.parametrize("how", ["finished", "left early", "failed"])
async def test_no_idle_timer_outlives_its_stream(server: LoopbackServer, how: str) -> None:
    tail: list[object] = [sse(chunk(finish="stop"))] if how != "failed" else [sse({"choices": [5]}, done=False), 30.0]
    server.handler = lambda _r: Reply(parts=[sse(chunk("a"), chunk("b"), done=False), *tail])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0, idle_timeout=60))
        stream = provider.stream(REQUEST)
        seen: list[StreamEvent] = []
        try:
            async for event in stream:
                seen.append(event)
                assert armed_idle_timers() == [] or len(armed_idle_timers()) == 1  # one timer at most
                if how == "left early" and len(seen) == 2:  # the timer was armed after the first
                    break
        except ServerError:
            assert how == "failed"
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert seen[0] == ContentDelta("a")
        # Left early, the provider's stream closes the shared one when asyncio finalizes it: soon.
        for _ in range(1000):
            if not armed_idle_timers():
                break
            await asyncio.sleep(0.01)
        assert armed_idle_timers() == []


async def test_the_connect_timeout_does_not_bound_the_wait_for_the_body(server: LoopbackServer) -> None:
    """Only the first-token timer waits for the body: a server that thinks longer than the
    connect timeout (3 s against 1 s) before its first byte is not cut off."""
    server.handler = lambda _r: Reply(parts=[3.0, completion(["thought"])])
    events, error = await run(server.base_url, StreamPolicy(retries=0, connect_timeout=1.0, first_token_timeout=120))
    assert error is None and texts(events) == ["thought"]


async def test_a_content_type_the_provider_gives_is_kept(server: LoopbackServer) -> None:
    from llmchat.providers.http import post_stream
    from llmchat.providers.openai import ChunkParser
    from llmchat.providers.sse import SSEDecoder

    async with httpx.AsyncClient(timeout=10) as client:
        for given, sent in (({"content-type": "application/json; charset=utf-8"}, "application/json; charset=utf-8"),
                            ({"Content-Type": "application/x-custom"}, "application/x-custom"),
                            ({"X-Other": "1"}, "application/json")):
            events = [event async for event in post_stream(
                client, f"{server.base_url}/chat/completions", body={"a": 1}, headers=given, provider="p",
                decoder_factory=SSEDecoder, parser_factory=lambda: ChunkParser("p"), parse=ChunkParser.feed_sse,
                policy=StreamPolicy(retries=0))]
            assert texts(events) == ["Hello", ",", " world", "!"]
            assert server.requests[-1].headers["content-type"] == sent
            assert server.requests[-1].body == b'{"a": 1}' or json.loads(server.requests[-1].body) == {"a": 1}


@pytest.mark.parametrize("shape", ["whole JSON", "last line at the end of the body"])
async def test_malformed_data_outside_the_stream_loop_is_named_too(server: LoopbackServer, shape: str) -> None:
    """A reply read whole (a server that ignored ``stream: true``) or an item the decoder gives
    only at the end of the body goes through the same "malformed" error as streamed events."""
    if shape == "whole JSON":
        server.handler = lambda _r: json_reply(200, {"choices": [5]})
        events, error = await run(server.base_url, StreamPolicy(retries=0))
    else:
        line = json.dumps({"model": "m", "message": 5, "done": False}).encode()  # no line end: read at close
        server.handler = lambda _r: Reply(parts=[line], headers={"content-type": "application/x-ndjson"})
        events = []
        async with httpx.AsyncClient(timeout=10) as client:
            provider = OllamaProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                                      policy=StreamPolicy(retries=0))
            with pytest.raises(ProviderError) as info:
                async for event in provider.stream(REQUEST):
                    events.append(event)
        error = info.value
    assert events == [] and type(error) is ServerError
    assert error.message.startswith("malformed stream data (AttributeError: ")


async def test_a_web_page_whose_connection_is_lost_is_still_named(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[page(200), DROP])
    events, error = await run(server.base_url, StreamPolicy(retries=0))
    assert events == [] and isinstance(error, NotAStream) and "titled 'Portal Login'" in error.message
