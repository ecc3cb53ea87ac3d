"""MCP servers' HTTP replies read in bounded pieces, one message at most :data:`MAX_MESSAGE_BYTES`.

The SDK reads a Streamable HTTP reply of type ``application/json`` (and an error body, and the
legacy SSE transport's POST answers) whole with ``Response.aread()``: a hostile server that
sends an endless JSON body, or a compressed one that expands to gigabytes, would fill memory
until the start timeout. Its event streams are bounded per event (``max_sse_event_size``, httpx2's
``EventSource``), but decoded by httpx2. Every MCP HTTP client of llmchat gets
:class:`BoundedTransport` instead: it decodes each body in bounded pieces as the providers do
(:class:`llmchat.providers.decoding.BodyDecoder`, asking only for the encodings it decodes,
:data:`~llmchat.providers.decoding.ACCEPT_ENCODING`) and stops a body that is not an event
stream once it passes :data:`MAX_MESSAGE_BYTES`, with :class:`ReplyRefused`. The SDK turns that
(an ``httpx2.StreamError``) into a JSON-RPC error for the one request, so the call fails with
one line and the server stays up.

Imported only when MCP is used (it imports httpx2, the SDK's HTTP client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import httpx2

from llmchat.providers.decoding import BodyDecoder, request_headers

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""The largest MCP message llmchat reads: a JSON reply's decoded body, or one event of a
Streamable HTTP event stream (the providers' cap on one stream event too)."""


DEFAULT_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
"""The SDK's default: 30 s to connect, write or wait for the pool, 300 s between reads (a
server may keep an event stream open a long time)."""


class ReplyRefused(httpx2.StreamError):
    """A reply body that passed :data:`MAX_MESSAGE_BYTES`, or that cannot be decoded; the
    message is one line that says which."""


class BoundedBody(httpx2.AsyncByteStream):
    """A response body decoded in pieces of about 64 KiB (``BodyDecoder``), at most `limit`
    decoded bytes of it (None: no cap, for an event stream, which is capped per event).

    Raises (while iterated):
        ReplyRefused: past `limit`, or an encoding that cannot be decoded or is corrupt.
        httpx2.TransportError: the connection failed while reading (from `raw`).
    """

    def __init__(self, raw: httpx2.AsyncByteStream, decoder: BodyDecoder, limit: int | None) -> None:
        self._raw, self._decoder, self._limit = raw, decoder, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self._raw:
            try:
                pieces = list(self._decoder.feed(chunk))
            except httpx.DecodingError as exc:
                raise ReplyRefused(f"the reply could not be decoded ({exc})") from None
            for piece in pieces:
                total += len(piece)
                if self._limit is not None and total > self._limit:
                    raise ReplyRefused(
                        f"the reply passed {self._limit // 2**20} MiB (the most llmchat reads of one MCP message)"
                    )
                yield piece

    async def aclose(self) -> None:
        await self._raw.aclose()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport whose responses come decoded (without ``Content-Encoding``) in
    bounded pieces; bodies other than ``text/event-stream`` are cut off with
    :class:`ReplyRefused` past `limit` decoded bytes.

    Args:
        inner: the transport that talks to the network (default: a plain
            ``httpx2.AsyncHTTPTransport``).
        limit: the most decoded bytes of a body that is not an event stream.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None, limit: int = MAX_MESSAGE_BYTES) -> None:
        self._inner = inner or httpx2.AsyncHTTPTransport()
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        encoding = response.headers.get("content-encoding", "")
        try:
            decoder = BodyDecoder(encoding)
        except httpx.DecodingError as exc:
            await response.aclose()
            raise httpx2.DecodingError(f"the reply could not be decoded ({exc})", request=request) from None
        headers: Any = response.headers
        if encoding:  # decoded here: the length and the encoding no longer describe the body
            headers = [(k, v) for k, v in response.headers.raw
                       if k.lower() not in (b"content-encoding", b"content-length")]
        event_stream = response.headers.get("content-type", "").partition(";")[0].strip().lower() == "text/event-stream"
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        body = BoundedBody(response.stream, decoder, None if event_stream else self._limit)
        return httpx2.Response(response.status_code, headers=headers, stream=body,
                               extensions=response.extensions, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def bounded_client(
    headers: Mapping[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    **kwargs: Any,
) -> httpx2.AsyncClient:
    """An httpx2 client for an MCP server, on a :class:`BoundedTransport`, asking only for the
    encodings it decodes in bounded pieces. Its signature fits the SDK's
    ``McpHttpClientFactory`` (``sse_client(httpx_client_factory=...)``); `kwargs` go to
    ``httpx2.AsyncClient``."""
    return httpx2.AsyncClient(headers=request_headers(headers), timeout=timeout or DEFAULT_TIMEOUT, auth=auth,
                              transport=BoundedTransport(), **kwargs)
