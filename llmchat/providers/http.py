"""The HTTP side every provider shares: POST, check the status, decode the body, map errors.

A provider supplies a *decoder* (bytes -> items: SSE events or NDJSON lines) and a *parser*
(items -> stream events, knowing when the provider's terminal signal arrived). This module
turns httpx's exceptions into the ProviderError hierarchy the same way for all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import httpx

from llmchat.providers.errors import (
    ConnectError,
    ProviderError,
    ProviderTimeout,
    ServerError,
    error_for_status,
)
from llmchat.providers.events import StreamEvent

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body kept for its message."""
MAX_JSON_REPLY = 64 * 1024 * 1024
"""Bytes of a whole (non-streamed) JSON reply."""

Item = TypeVar("Item")


class Decoder(Protocol, Generic[Item]):
    """Incremental body decoder: `feed` raw bytes, `close` at end of body."""

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


async def post_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    provider: str,
    decoder: Decoder[Item],
    parse: Callable[[Item], list[StreamEvent]],
    parser: Parser,
    whole_json: Callable[[str], list[StreamEvent]] | None = None,
) -> AsyncIterator[StreamEvent]:
    """POST `body` to `url`; yield ``parse(item)`` for each decoded item, then ``parser.end``.

    Leaving the iteration early (cancellation, ``aclose``) exits ``client.stream`` and so
    closes the connection, which tells the server to stop generating.

    Args:
        whole_json: parses a server's single JSON reply when it ignored ``stream: true``
            (content type ``application/json``).

    Raises:
        ProviderError: the subclass for an HTTP error status, with the server's message.
        ConnectError: the server could not be reached (refused, DNS, TLS, bad URL).
        ProviderTimeout: the server was silent for longer than the client's timeout.
        StreamInterrupted: (from the parser) the body ended before the terminal signal.
    """
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                raise error_for_status(response.status_code, await read_limited(response), provider)
            if whole_json is not None and response.headers.get("content-type", "").startswith(
                "application/json"
            ):
                for event in whole_json(await read_limited(response, MAX_JSON_REPLY)):
                    yield event
            else:
                async for raw in response.aiter_bytes():
                    for item in decoder.feed(raw):
                        for event in parse(item):
                            yield event
                        if parser.done:
                            break
                    if parser.done:
                        break
                else:
                    for item in decoder.close():
                        for event in parse(item):
                            yield event
                        if parser.done:
                            break
    except ProviderError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise ConnectError(f"cannot reach {url}: {reason(exc)}", provider=provider) from exc
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"no answer from {url} in time", provider=provider) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError):
        for event in parser.end(complete=False):
            yield event
        return
    except httpx.HTTPError as exc:
        raise ProviderError(f"{type(exc).__name__}: {reason(exc)}", provider=provider) from exc
    for event in parser.end(complete=True):
        yield event


async def get_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], provider: str
) -> Any:
    """GET `url` and return its JSON (model lists).

    Raises:
        ProviderError: the matching subclass for an HTTP error status or a network failure.
    """
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ConnectError(f"cannot reach {url}: {reason(exc)}", provider=provider) from exc
    if response.status_code >= 400:
        raise error_for_status(response.status_code, response.text, provider)
    try:
        return response.json()
    except ValueError:
        raise ServerError(f"{url} did not answer with JSON", provider=provider) from None


async def read_limited(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> str:
    """Read at most `limit` bytes of a response body as text."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", "replace")


def reason(exc: Exception) -> str:
    """An exception's message, or its type name when it has none."""
    return str(exc) or type(exc).__name__
