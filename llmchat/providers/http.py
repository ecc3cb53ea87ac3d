"""The HTTP side every provider shares: POST, check the status, decode the body, map errors.

A provider supplies a *decoder* (bytes -> items: SSE events or NDJSON lines) and a *parser*
(items -> stream events, knowing when the provider's terminal signal arrived). This module
turns httpx's exceptions into the ProviderError hierarchy the same way for all of them.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

import httpx

from llmchat.providers.decoding import ACCEPT_ENCODING, aiter_decoded, read_capped
from llmchat.providers.errors import (
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    FirstTokenTimeout,
    IdleTimeout,
    NotAStream,
    ProviderError,
    ProviderTimeout,
    ServerError,
    StreamInterrupted,
    StreamTooLarge,
    connect_error,
    error_for_status,
    html_title,
    is_html,
    not_a_stream,
    redirect_error,
)
from llmchat.providers.events import Retrying, StreamEvent
from llmchat.providers.json_body import json_content
from llmchat.providers.vision import VISION_HINT

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body kept for its message."""
BODY_HEAD = 4096
"""Bytes of a stream's start kept to say what it was when it held no event (a web page?)."""
MAX_JSON_BODY = 16 * 1024 * 1024
"""Largest JSON body read whole (model lists)."""

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


class LazySSLContext(ssl.SSLContext):
    """httpx's default TLS context (certifi's CA bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), built at the first TLS connection instead of with the client.

    Loading the CA bundle takes some 40 ms, a fifth of ``llmchat ask``'s start-up, and a
    plain-HTTP server (Ollama, llama.cpp, LM Studio, a loopback test) never needs it. The
    real context is made by ``httpx.create_ssl_context()``, exactly as httpx would have made
    it; this object only forwards the ALPN setting httpcore makes and the wrapping.
    """

    def __new__(cls) -> Self:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self) -> None:
        self._real: ssl.SSLContext | None = None
        self._alpn: list[str] | None = None
        self._lock = threading.Lock()  # anyio wraps in a worker thread (not a plain SSLContext)

    def real(self) -> ssl.SSLContext:
        """The context that does the work (made on first use)."""
        with self._lock:
            if self._real is None:
                context = httpx.create_ssl_context()
                if self._alpn is not None:
                    context.set_alpn_protocols(self._alpn)
                self._real = context
            return self._real

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        with self._lock:
            self._alpn = list(alpn_protocols)
            if self._real is not None:
                self._real.set_alpn_protocols(self._alpn)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # type: ignore[override]
        return self.real().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        return self.real().wrap_socket(*args, **kwargs)


LOG = logging.getLogger("llmchat.http")

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)
"""Headers that carry keys; httpx masks only the first two in its reprs."""


def without_keys(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the values of `headers`' :data:`SENSITIVE_HEADERS` (and the token after a
    scheme such as ``Bearer``) replaced by ``[REDACTED]``: an error body that echoes the
    request's key must not reach a message, the history or a log."""
    for name, value in headers.items():
        if name.lower() not in SENSITIVE_HEADERS:
            continue
        for secret in {value, value.split()[-1] if value.split() else ""}:
            if len(secret) >= 8:
                text = text.replace(secret, "[REDACTED]")
    return text


class SecretHeaders(dict[str, str]):
    """Request headers whose repr hides the values of :data:`SENSITIVE_HEADERS`, so a
    traceback that shows local variables, or a debug log, cannot print a key."""

    def __repr__(self) -> str:
        return repr(
            {k: "[REDACTED]" if k.lower() in SENSITIVE_HEADERS else v for k, v in self.items()}
        )


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How patient and how careful a stream is. Times in seconds, sizes in bytes."""

    retries: int = 2
    """Retries before the first token, for RETRY_STATUSES and connection failures."""
    backoff: float = 1.0
    """First retry delay; it doubles each time, with jitter (half to full)."""
    retry_after_cap: float = 60.0
    """A Retry-After longer than this is reported, not slept on."""
    connect_timeout: float = 10.0
    first_token_timeout: float = 300.0
    """From sending the request to the first token (reasoning models think first)."""
    idle_timeout: float = 120.0
    """Longest silence between tokens; keep-alive comments do not count as tokens."""
    total_timeout: float | None = None
    """Deadline for the whole reply, or None."""
    max_event_bytes: int = 8 * 1024 * 1024
    """Largest single SSE event or NDJSON line."""
    max_reply_bytes: int = 64 * 1024 * 1024
    """Largest whole response body."""


P = TypeVar("P", bound=Parser)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""HTTP statuses worth retrying (as the OpenAI and Anthropic SDKs do)."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date, RFC 9110)."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def _retryable(error: ProviderError) -> bool:
    if error.hint == VISION_HINT:  # a model without vision: the same images fail again
        return False
    return isinstance(error, ConnectError) or error.status in RETRY_STATUSES


def backoff_delay(policy: StreamPolicy, attempt: int, error: ProviderError) -> float:
    """The wait before retry number `attempt` (from 1): the server's Retry-After if it gave
    one, else exponential backoff with jitter."""
    if error.retry_after is not None:
        return error.retry_after
    return policy.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)


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
            if started or attempt >= policy.retries or not _retryable(error):
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
    :class:`NotAStream` that says so instead of "the connection closed"."""
    try:
        return parser.end(complete=complete)
    except StreamInterrupted as interrupted:
        if yielded:
            raise
        error = not_a_stream(bytes(head), content_type, interrupted.provider)
        if error is None:
            raise
        raise error from None


async def get_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], provider: str
) -> Any:
    """GET `url` and return its JSON (model lists), at most `MAX_JSON_BODY` bytes of it.

    Raises:
        ProviderError: the matching subclass for an HTTP error status or a network failure;
            a ServerError for a body that is not JSON or passes the cap.
    """
    sent = SecretHeaders(headers)
    sent["Accept-Encoding"] = ACCEPT_ENCODING
    try:
        async with client.stream("GET", url, headers=sent) as response:
            if response.status_code >= 400:
                text = without_keys(await read_limited(response), headers)
                raise error_for_status(response.status_code, text, provider)
            if response.status_code >= 300:
                raise redirect_error(response.status_code, response.headers.get("location"), url, provider)
            data, truncated = await read_capped(response, MAX_JSON_BODY)
    except httpx.HTTPError as exc:
        raise connect_error(url, exc, provider) from exc
    if truncated:
        raise ServerError(f"{url} answered with more than {MAX_JSON_BODY // 2**20} MiB", provider=provider)
    try:
        return json.loads(data)
    except ValueError:
        what = ""
        text = data[:MAX_ERROR_BODY].decode("utf-8", "replace")
        if is_html(text):
            title = html_title(text)
            what = f" but with an HTML page{f' titled {title!r}' if title else ''}"
        raise ServerError(f"{url} did not answer with JSON{what}", provider=provider,
                          hint=NotAStream.hint_default if what else None) from None


async def read_limited(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> str:
    """Read at most `limit` decoded bytes of a response body as text (the rest is left
    unread; a compressed body is decoded in bounded pieces, see llmchat.providers.decoding)."""
    data, _ = await read_capped(response, limit)
    return data.decode("utf-8", "replace")


def reason(exc: Exception) -> str:
    """An exception's message, or its type name when it has none."""
    return str(exc) or type(exc).__name__
