"""Response bodies decoded in bounded pieces, whatever the ``Content-Encoding``.

httpx decodes each network read in full (``Response.aiter_bytes``): a few kilobytes of
``Content-Encoding: gzip, gzip`` can hold gigabytes of zeros, and one read would then
allocate all of them before any size cap is checked (a decompression bomb). Here the raw
bytes (``Response.aiter_raw``) go through our own decoders, each of which returns at most
about :data:`PIECE` bytes per call (zlib's ``max_length``, brotli's ``output_buffer_limit``),
so a caller that counts the decoded bytes stops a bomb after its cap with only a few pieces
in memory.

Encodings (RFC 9110 section 8.4.1, applied in the order listed, decoded in reverse):
``identity``; ``gzip`` / ``x-gzip`` (RFC 1952, the first member; trailing bytes are ignored,
as httpx does); ``deflate`` (zlib-wrapped as RFC 9110 says, or raw deflate as some servers
send); ``br`` (RFC 7932) when the ``brotli`` package (1.2 or later) is installed. Requests
advertise only those (:data:`ACCEPT_ENCODING`). An encoding that is compressed but cannot be
decoded here (``zstd``, ``br`` without the package, ``compress``) is an
:class:`httpx.DecodingError`; an unknown token is passed through undecoded, as httpx does.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import httpx

PIECE = 64 * 1024
"""The most bytes (about; brotli may return up to twice this) one decoder returns per call."""

try:  # optional: brotli 1.2 added the output limit; older versions cannot be bounded
    import brotli as _brotli

    _brotli.Decompressor().process(b"", output_buffer_limit=PIECE)
except (ImportError, TypeError, AttributeError):  # pragma: no cover - depends on the install
    _brotli = None

ACCEPT_ENCODING = "gzip, deflate, br" if _brotli is not None else "gzip, deflate"
"""The ``Accept-Encoding`` of our requests: only what can be decoded in bounded pieces."""

_UNSUPPORTED = frozenset({"zstd", "compress", "x-compress", "br"})
"""Compressed encodings we do not decode (``br`` only without a bounded brotli)."""


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE):
            yield data[start : start + PIECE]


class _Zlib:
    """gzip (``wbits`` 31) or deflate (zlib-wrapped, else raw), at most PIECE bytes a call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.deflate = encoding == "deflate"
        self.obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if not self.deflate else zlib.MAX_WBITS)
        self.started = False
        """True once some input was accepted (deflate can no longer switch to raw)."""
        self.ended = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while not self.ended:
            try:
                out = self.obj.decompress(pending, PIECE)
            except zlib.error as exc:
                if self.deflate and not self.started:  # raw deflate, without the zlib header
                    self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.started = True
                    continue
                raise httpx.DecodingError(f"the {self.encoding} body is corrupt: {exc}") from None
            self.started = True
            pending = self.obj.unconsumed_tail
            self.ended = self.obj.eof  # what follows the end is ignored, as httpx does
            if out:
                yield out
            if not pending and len(out) < PIECE:
                return  # a full piece may leave output waiting: then ask again


class _Brotli:
    def __init__(self) -> None:
        assert _brotli is not None
        self.obj = _brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if self.obj.is_finished():
                return
            out = self.obj.process(data, output_buffer_limit=PIECE)
            while out:  # output may be waiting after a full piece: ask with no input
                yield out
                if self.obj.is_finished():
                    return
                out = self.obj.process(b"", output_buffer_limit=PIECE)
        except _brotli.error as exc:  # type: ignore[union-attr]
            raise httpx.DecodingError(f"the br body is corrupt: {exc}") from None


def _layers(content_encoding: str) -> list[_Layer]:
    """The decoders of a ``Content-Encoding`` value, outermost (applied last) first.

    Raises:
        httpx.DecodingError: a compressed encoding we cannot decode in bounded pieces.
    """
    tokens = [t.strip().lower() for t in content_encoding.split(",") if t.strip()]
    layers: list[_Layer] = []
    for token in reversed(tokens):
        if token in ("gzip", "x-gzip", "deflate"):
            layers.append(_Zlib("gzip" if token == "x-gzip" else token))
        elif token == "br" and _brotli is not None:
            layers.append(_Brotli())
        elif token in _UNSUPPORTED:
            raise httpx.DecodingError(
                f"the server sent Content-Encoding {token!r}, which llmchat does not decode "
                f"(it asks for {ACCEPT_ENCODING})"
            )
    return layers or [_Identity()]


def _through(layers: list[_Layer], data: bytes) -> Iterator[bytes]:
    """`data` through every layer, depth first: only one piece per layer is alive at once."""
    first, rest = layers[0], layers[1:]
    for piece in first.feed(data):
        if rest:
            yield from _through(rest, piece)
        else:
            yield piece


class BodyDecoder:
    """Decodes a body's raw bytes for a ``Content-Encoding`` value, in bounded pieces.

    Args:
        content_encoding: the header's value ("" or absent: identity).

    Raises:
        httpx.DecodingError: (at construction) a compressed encoding that cannot be decoded.
    """

    def __init__(self, content_encoding: str = "") -> None:
        self._layers = _layers(content_encoding)

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded bytes of `raw`, in pieces of about :data:`PIECE` bytes at most.

        Raises:
            httpx.DecodingError: the body is corrupt.
        """
        if raw:
            yield from _through(self._layers, raw)


async def aiter_decoded(response: httpx.Response) -> AsyncIterator[bytes]:
    """The decoded body of a streamed `response`, in pieces of about :data:`PIECE` bytes.

    Use it instead of ``response.aiter_bytes()``, and count the bytes it yields against
    a cap: memory then stays near the cap whatever the encoding. Open the response with
    ``client.stream``; one already read in full is given from memory.

    Raises:
        httpx.DecodingError: the encoding cannot be decoded, or the body is corrupt.
        httpx.HTTPError: the connection failed while reading.
    """
    if response.is_stream_consumed:  # read in full before (httpx.MockTransport bodies are)
        content = response.content
        for start in range(0, len(content), PIECE):
            yield content[start : start + PIECE]
        return
    decoder = BodyDecoder(response.headers.get("content-encoding", ""))
    async for raw in response.aiter_raw():
        for piece in decoder.feed(raw):
            yield piece


async def read_capped(response: httpx.Response, limit: int) -> tuple[bytearray, bool]:
    """Read at most `limit` decoded bytes of a streamed `response`.

    Returns:
        The bytes (not copied once more into ``bytes``), and True when the body was longer
        (the rest is left unread).

    Raises:
        httpx.DecodingError, httpx.HTTPError: as :func:`aiter_decoded`.
    """
    data = bytearray()
    truncated = False
    async for piece in aiter_decoded(response):
        room = limit - len(data)
        if len(piece) > room:
            data += piece[:room]
            truncated = True
            break
        data += piece
    return data, truncated


def request_headers(headers: Any = None) -> dict[str, str]:
    """`headers` (a mapping, or None) with our :data:`ACCEPT_ENCODING` set."""
    merged = dict(headers or {})
    merged["Accept-Encoding"] = ACCEPT_ENCODING
    return merged


MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body kept for its message."""


async def read_limited(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> str:
    """Read at most `limit` decoded bytes of a response body as text (the rest is left
    unread; a compressed body is decoded in bounded pieces, see llmchat.providers.decoding)."""
    data, _ = await read_capped(response, limit)
    return data.decode("utf-8", "replace")
