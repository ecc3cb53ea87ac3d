"""A JSON request body in UTF-8 pieces, never as one whole string.

httpx's ``json=`` serializes the body into one ``str`` and encodes that into ``bytes``: with the
text already held by the conversation, a long prompt (a file piped into ``ask``) was held three
times, and four bytes per character in the ``str`` when the text has one emoji. Here the body is
written out in pieces of at most about :data:`PIECE` bytes, long strings a slice at a time; the
length is counted by a first pass, so the request still carries a ``Content-Length`` (no
chunked encoding, which some servers refuse). The bytes are exactly httpx's (tested).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

PIECE = 1 << 16
"""Bytes per piece sent, about."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""As httpx encodes ``json=`` (httpx/_content.py, ``encode_json``)."""


def _pieces(value: Any) -> Iterator[bytes]:
    if isinstance(value, str):
        if len(value) <= PIECE:
            yield _ENCODER.encode(value).encode()
            return
        yield b'"'
        step = PIECE // 4  # a character takes up to 4 bytes (6 escaped, rarely)
        for start in range(0, len(value), step):  # JSON escapes each character alone
            yield _ENCODER.encode(value[start : start + step])[1:-1].encode()
        yield b'"'
    elif isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        yield b"{"
        for i, (key, item) in enumerate(value.items()):
            yield (b"," if i else b"") + _ENCODER.encode(key).encode() + b":"
            yield from _pieces(item)
        yield b"}"
    elif isinstance(value, list | tuple):
        yield b"["
        for i, item in enumerate(value):
            if i:
                yield b","
            yield from _pieces(item)
        yield b"]"
    else:  # numbers, booleans, None, and anything json itself must judge
        yield _ENCODER.encode(value).encode()


def body_pieces(body: Any) -> Iterator[bytes]:
    """The UTF-8 bytes of ``json.dumps(body, ensure_ascii=False, separators=(",", ":"),
    allow_nan=False)``, in pieces of about :data:`PIECE` bytes (small parts are joined).

    Raises:
        ValueError: a float that is not finite (as ``json.dumps`` with ``allow_nan=False``).
        TypeError: a value JSON cannot hold.
    """
    buffer = bytearray()
    for piece in _pieces(body):
        if len(piece) >= PIECE:
            if buffer:
                yield bytes(buffer)
                buffer.clear()
            yield piece
            continue
        buffer += piece
        if len(buffer) >= PIECE:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def json_content(body: Any) -> tuple[int, AsyncIterator[bytes]]:
    """What to send for `body`: its length in bytes, and its bytes as an async iterator (for
    ``httpx.AsyncClient.stream(content=...)`` with a ``Content-Length`` header). Each call of
    the length and the iterator are separate passes over `body`, which must not change
    meanwhile; the iterator can be used once."""
    length = sum(len(piece) for piece in body_pieces(body))

    async def content() -> AsyncIterator[bytes]:
        for piece in body_pieces(body):
            yield piece

    return length, content()
