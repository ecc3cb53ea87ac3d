"""Decompression bombs for tests, made without ever holding what they expand to.

A bomb of N MiB is one compressed MiB repeated: after a full flush a compressor's state is
reset, so the same MiB of input compresses to the same bytes every time. The inner layer
(a few KB per MiB) is then compressed again by the outer encodings, each of which adds its
own factor of about a thousand. The trailer of the inner gzip is left out: no client that
caps its reading gets that far.
"""

from __future__ import annotations

import zlib

MIB = 1024 * 1024

_WBITS = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        import brotli

        return brotli.compress(data, quality=5)
    compressor = zlib.compressobj(9, zlib.DEFLATED, _WBITS[encoding])
    return compressor.compress(data) + compressor.flush()


def bomb(content_encoding: str, mebibytes: int, block: bytes = b"\0" * MIB) -> bytes:
    """A body that decodes (by `content_encoding`, e.g. ``"gzip, gzip"``) to `block`
    repeated `mebibytes` times. `block` should be 1 MiB; the first encoding must be gzip or
    deflate."""
    first, *rest = [e.strip() for e in content_encoding.split(",")]
    compressor = zlib.compressobj(9, zlib.DEFLATED, _WBITS[first])
    head = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = head + again * (mebibytes - 1)
    for encoding in rest:
        body = _compress(body, encoding)
    return body


def sse_comments(size: int = MIB) -> bytes:
    """`size` bytes of SSE comment lines (``: aaa...``): a valid stream that yields nothing."""
    line = b": " + b"a" * 1021 + b"\n"
    return (line * (size // len(line) + 1))[:size - 1] + b"\n"
