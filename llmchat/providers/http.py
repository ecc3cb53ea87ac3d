"""The HTTP side every provider shares: POST, check the status, decode the body, map errors.

A provider supplies a *decoder* (bytes -> items: SSE events or NDJSON lines) and a *parser*
(items -> stream events, knowing when the provider's terminal signal arrived). This module
turns httpx's exceptions into the ProviderError hierarchy the same way for all of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from typing import Any, Generic, Protocol, TypeVar

import httpx

from llmchat.providers.decoding import ACCEPT_ENCODING, aiter_decoded, read_limited
from llmchat.providers.errors import (
    ConnectTimeout,
    DeadlineExceeded,
    FirstTokenTimeout,
    IdleTimeout,
    ProviderError,
    ProviderTimeout,
    ServerError,
    StreamInterrupted,
    StreamTooLarge,
    connect_error,
    error_for_status,
    is_html,
    not_a_stream,
    redirect_error,
)
from llmchat.providers.events import Retrying, StreamEvent
from llmchat.providers.json_body import json_content
from llmchat.providers.policy import StreamPolicy, backoff_delay, retry_after, retryable
from llmchat.providers.redaction import SecretHeaders, without_keys

BODY_HEAD = 4096
"""Bytes of a stream's start kept to say what it was when it held no event (a web page?)."""

Item = TypeVar("Item")


class Decoder(Protocol, Generic[Item]):
    """Incremental body decoder: `feed` raw bytes, `close` at end of body."""

    @property
    def buffered(self) -> int:
        """Characters held for an item not yet complete (bounded by the size cap)."""
        ...

    def feed(self, chunk: bytes) -> list[Item]: ...
    def close(self) -> list[Item]: ...


class Parser(Protocol):
    """Knows whether the provider's terminal signal arrived, and how the stream closes."""

    @property
    def done(self) -> bool:
        """True once the terminal signal arrived (nothing more needs reading)."""
        ...

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """Closing events (Usage, Finish); raises StreamInterrupted without the signal."""
        ...


def interrupted(provider: str, *, complete: bool) -> StreamInterrupted:
    """The error :meth:`Parser.end` raises when the terminal signal never came: `complete` is
    True when the body ended (the server closed the stream), False when the connection was
    lost."""
    return StreamInterrupted(
        "the connection closed before the reply was finished"
        if complete
        else "the connection was lost before the reply was finished",
        provider=provider,
    )


LOG = logging.getLogger("llmchat.http")

P = TypeVar("P", bound=Parser)


async def post_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    provider: str,
    decoder_factory: Callable[[], Decoder[Item]],
    parser_factory: Callable[[], P],
    parse: Callable[[P, Item], list[StreamEvent]],
    whole_json: Callable[[P, str], list[StreamEvent]] | None = None,
    policy: StreamPolicy | None = None,
) -> AsyncIterator[StreamEvent]:
    """POST `body` to `url`; yield the parsed stream events, then ``parser.end``.

    Failures before the first event are retried (``policy.retries`` times, for
    RETRY_STATUSES and connection failures), announced by a :class:`Retrying` event before
    each wait. After a token was yielded nothing is retried. Leaving the iteration early
    (cancellation, ``aclose``) exits ``client.stream`` and so closes the connection, which
    tells the server to stop generating; cancellation also interrupts a backoff sleep.

    Args:
        decoder_factory, parser_factory: make a fresh decoder and parser per attempt.
        parse: ``parse(parser, item)`` turns one decoded item into events.
        whole_json: ``whole_json(parser, text)`` parses a server's single JSON reply when it
            ignored ``stream: true``.
        policy: retries, timeouts and size caps (defaults: :class:`StreamPolicy`).

    Raises:
        ProviderError: the subclass for an HTTP error status, with the server's message
            (and ``retry_after`` when the server sent one).
        ConnectError, ConnectTimeout: the server could not be reached.
        FirstTokenTimeout, IdleTimeout, DeadlineExceeded: the stream was too slow.
        StreamTooLarge: an event or the reply passed its size cap.
        StreamInterrupted: (from the parser) the body ended before the terminal signal.
    """
    policy = policy or StreamPolicy()
    loop = asyncio.get_running_loop()
    deadline = None if policy.total_timeout is None else loop.time() + policy.total_timeout
    attempt = 0
    while True:
        parser = parser_factory()
        started = False  # an event reached the consumer: never retry after that
        try:
            async with aclosing(
                _attempt(
                    client, url, body, headers, provider, decoder_factory(), parse, parser,
                    whole_json, policy, deadline,
                )
            ) as events:
                async for event in events:
                    started = True
                    yield event
            return
        except ProviderError as error:
            if started or attempt >= policy.retries or not retryable(error):
                raise
            attempt += 1
            delay = backoff_delay(policy, attempt, error)
            if delay > policy.retry_after_cap:
                error.hint = (
                    f"the server asked to wait {delay:.0f} s, more than the "
                    f"{policy.retry_after_cap:.0f} s llmchat waits; try again later"
                )
                raise
            if deadline is not None and loop.time() + delay > deadline:
                raise
            LOG.debug("retry %d in %.2f s after %s", attempt, delay, error.describe())
            yield Retrying(attempt, delay, error.describe())
            await asyncio.sleep(delay)


_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)
"""What a parser raises on JSON of a shape it does not expect (the server's fault)."""


class _IdleWatch:
    """The idle timeout (and the deadline) of a stream that has started, without moving a
    timer for every event.

    The stream notes when the consumer took an event (:attr:`busy`) and when it came back
    (:meth:`resume`); one timer checks, when it is due, whether the stream was silent for
    `idle` seconds since then (or the deadline passed), and only then fires `timeout`, the
    request's :func:`asyncio.timeout_at`, which cancels the request. Otherwise it moves itself
    to the new due time. Rescheduling the asyncio timeout twice per event, as this replaces,
    cost about as much CPU as parsing the event.
    """

    __slots__ = ("busy", "deadline", "handle", "idle", "last", "loop", "timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: asyncio.Timeout, idle: float, deadline: float | None
    ) -> None:
        self.loop, self.timeout, self.idle, self.deadline = loop, timeout, idle, deadline
        self.busy = False
        """True while the consumer has an event: its time is not counted."""
        self.last = 0.0
        self.handle: asyncio.TimerHandle | None = None

    def due(self) -> float:
        limit = self.last + self.idle
        return limit if self.deadline is None else min(limit, self.deadline)

    def resume(self) -> None:
        """The consumer came back: the silence is counted from now."""
        self.busy = False
        self.last = self.loop.time()
        if self.handle is None:
            self.handle = self.loop.call_at(self.due(), self._check)

    def _check(self) -> None:
        self.handle = None
        if self.busy:
            return  # resume() arms again
        due = self.due()
        if self.loop.time() >= due:
            self.timeout.reschedule(due)  # already past: the request is cancelled now
        else:
            self.handle = self.loop.call_at(due, self._check)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


async def _attempt(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    provider: str,
    decoder: Decoder[Item],
    parse: Callable[[P, Item], list[StreamEvent]],
    parser: P,
    whole_json: Callable[[P, str], list[StreamEvent]] | None,
    policy: StreamPolicy,
    deadline: float | None,
) -> AsyncIterator[StreamEvent]:
    """One request: the watchdog, the size caps and the httpx error mapping."""
    loop = asyncio.get_running_loop()
    phase = "first token"

    def arm(seconds: float) -> float:
        limit = loop.time() + seconds
        return limit if deadline is None else min(limit, deadline)

    received = 0
    yielded = False  # an event came from the body (else the end says what the body was)
    head = bytearray()  # the body's first BODY_HEAD bytes
    content_type = ""

    def malformed(exc: Exception, item: Any) -> ServerError:
        return ServerError(
            f"malformed stream data ({type(exc).__name__}: {exc}): {str(item)[:200]!r}",
            provider=provider,
        )

    def parsed(item: Any, handler: Callable[[P, Any], list[StreamEvent]]) -> list[StreamEvent]:
        # A server may send JSON of any shape; a parser that meets one it does not expect
        # fails with one of these, which is the server's fault, not a bug of ours to crash on.
        try:
            return handler(parser, item)
        except _MALFORMED as exc:
            raise malformed(exc, item) from None

    if LOG.isEnabledFor(logging.DEBUG):
        LOG.debug("POST %s headers=%r body=%s", url, headers, json.dumps(body, ensure_ascii=False)[:4000])
    timeout = httpx.Timeout(None, connect=policy.connect_timeout, write=30.0, pool=policy.connect_timeout)
    try:
        async with asyncio.timeout_at(arm(policy.first_token_timeout)) as watchdog:
            sent = SecretHeaders(headers)
            sent["Accept-Encoding"] = ACCEPT_ENCODING  # only what is decoded in bounded pieces
            length, content = json_content(body)  # not json=: see json_body.py
            if not any(name.lower() == "content-type" for name in sent):
                sent["Content-Type"] = "application/json"
            sent["Content-Length"] = str(length)
            async with client.stream("POST", url, content=content, headers=sent, timeout=timeout) as response:
                if response.status_code >= 400:
                    body_text = without_keys(await read_limited(response), headers)
                    error = error_for_status(response.status_code, body_text, provider)
                    header = retry_after(response.headers)
                    if header is not None:  # else the body's own delay (Gemini's RetryInfo)
                        error.retry_after = header
                    raise error
                if response.status_code >= 300:
                    raise redirect_error(response.status_code, response.headers.get("location"), url, provider)
                content_type = response.headers.get("content-type", "")
                if whole_json is not None and content_type.startswith("application/json"):
                    whole = await read_limited(response, policy.max_reply_bytes)
                    head += whole[:BODY_HEAD].encode("utf-8", "replace")
                    events = parsed(whole, whole_json)
                    yielded = bool(events)
                    watchdog.reschedule(None)
                    for event in events:
                        yield event
                else:
                    idle = _IdleWatch(loop, watchdog, policy.idle_timeout, deadline)
                    max_reply, max_event = policy.max_reply_bytes, policy.max_event_bytes
                    try:
                        async for raw in aiter_decoded(response):  # the cap holds on decoded size
                            if received < BODY_HEAD:
                                head += raw[: BODY_HEAD - received]
                            received += len(raw)
                            if received > max_reply:
                                raise StreamTooLarge(
                                    f"the reply passed {max_reply // 2**20} MiB", provider=provider
                                )
                            items = decoder.feed(raw)
                            if decoder.buffered > max_event:
                                raise StreamTooLarge(
                                    f"one stream event passed {max_event // 2**20} MiB", provider=provider
                                )
                            for item in items:
                                try:
                                    events = parse(parser, item)
                                except _MALFORMED as exc:
                                    raise malformed(exc, item) from None
                                if events:
                                    yielded = True
                                    if phase != "idle":
                                        watchdog.reschedule(None)  # the first token came
                                        phase = "idle"
                                    idle.busy = True  # the consumer's time is not ours
                                    for event in events:
                                        yield event
                                    idle.resume()
                                if parser.done:
                                    break
                            if parser.done:
                                break
                        else:
                            for item in decoder.close():
                                for event in parsed(item, parse):
                                    yielded = True
                                    yield event
                                if parser.done:
                                    break
                    finally:
                        idle.stop()
                watchdog.reschedule(None)
    except TimeoutError:
        if deadline is not None and loop.time() >= deadline - 0.01:
            raise DeadlineExceeded(
                f"the reply took longer than the {policy.total_timeout:g} s deadline", provider=provider
            ) from None
        if phase == "idle":
            raise IdleTimeout(
                f"the stream sent nothing for {policy.idle_timeout:g} s", provider=provider
            ) from None
        raise FirstTokenTimeout(
            f"no first token after {policy.first_token_timeout:g} s", provider=provider
        ) from None
    except ServerError as error:
        # A web page where NDJSON was expected fails as "malformed": say what it was instead.
        if not yielded and head and is_html(head[:1024].decode("utf-8", "replace")):
            raise not_a_stream(bytes(head), content_type, provider) or error from None
        raise
    except ProviderError:
        raise
    except httpx.ConnectTimeout as exc:
        raise ConnectTimeout(
            f"no connection to {url} within {policy.connect_timeout:g} s", provider=provider
        ) from exc
    except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
        raise connect_error(url, exc, provider) from exc
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"no answer from {url} in time", provider=provider) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError):
        for event in _end(parser, complete=False, yielded=yielded, head=head, content_type=content_type):
            yield event
        return
    except httpx.HTTPError as exc:
        raise ProviderError(f"{type(exc).__name__}: {reason(exc)}", provider=provider) from exc
    for event in _end(parser, complete=True, yielded=yielded, head=head, content_type=content_type):
        yield event


def _end(parser: Parser, *, complete: bool, yielded: bool, head: bytearray, content_type: str) -> list[StreamEvent]:
    """``parser.end``; when the body held no event at all and was a web page or JSON, a
    :class:`~llmchat.providers.errors.NotAStream` that says so instead of "the connection closed"."""
    try:
        return parser.end(complete=complete)
    except StreamInterrupted as interrupted:
        if yielded:
            raise
        error = not_a_stream(bytes(head), content_type, interrupted.provider)
        if error is None:
            raise
        raise error from None


def reason(exc: Exception) -> str:
    """An exception's message, or its type name when it has none."""
    return str(exc) or type(exc).__name__
