"""Bodies are decoded in bounded pieces whatever the Content-Encoding (issue 20: bombs).

The unit tests check the decoders; the subprocess tests run `llmchat ask` against a loopback
server sending stacked-compression bombs and read the child's peak RSS from ``wait4``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.decoding import (
    ACCEPT_ENCODING,
    MAX_ERROR_BODY,
    PIECE,
    BodyDecoder,
    read_capped,
    read_limited,
    request_headers,
)
from llmchat.providers.errors import StreamTooLarge
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.bombs import MIB, bomb, sse_comments
from tests.loopback import LoopbackServer, Reply
from tests.test_cli import cli_env

HAVE_BROTLI = "br" in ACCEPT_ENCODING
needs_brotli = pytest.mark.skipif(not HAVE_BROTLI, reason="brotli (1.2+) is not installed")
STACKS = ["gzip", "gzip, gzip", "deflate, gzip", "gzip, deflate, gzip",
          pytest.param("gzip, br", marks=needs_brotli), pytest.param("deflate, br, gzip", marks=needs_brotli)]


def encode(data: bytes, content_encoding: str) -> bytes:
    """`data` with the encodings of a Content-Encoding value applied, in order."""
    for encoding in (e.strip().lower() for e in content_encoding.split(",")):
        if encoding in ("", "identity"):
            continue
        if encoding == "br":
            import brotli

            data = brotli.compress(data)
            continue
        wbits = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS,
                 "raw-deflate": -zlib.MAX_WBITS}[encoding]
        c = zlib.compressobj(6, zlib.DEFLATED, wbits)
        data = c.compress(data) + c.flush()
    return data


def decode_in(content_encoding: str, body: bytes, step: int) -> bytes:
    decoder = BodyDecoder(content_encoding)
    return b"".join(piece for i in range(0, len(body), step) for piece in decoder.feed(body[i : i + step]))


PLAIN = os.urandom(200_000) + b"data: hello\n\n" * 30_000


@pytest.mark.parametrize("encoding", ["", "identity", "gzip", "x-gzip", "deflate", "GZIP, Deflate", *STACKS[1:]])
@pytest.mark.parametrize("step", [1, 777, 1 << 20])
def test_every_encoding_round_trips_in_any_pieces(encoding: str, step: int) -> None:
    body = encode(PLAIN, encoding)
    if step == 1:  # byte by byte (a prefix, to stay quick) decodes to a prefix
        out = decode_in(encoding, body[:5000], step)
        assert out and PLAIN.startswith(out)
    else:
        assert decode_in(encoding, body, step) == PLAIN


def test_raw_deflate_and_trailing_junk_are_accepted_like_httpx() -> None:
    assert decode_in("deflate", encode(PLAIN, "raw-deflate"), 4096) == PLAIN
    assert decode_in("gzip", encode(PLAIN, "gzip") + b"trailing junk", 4096) == PLAIN


def test_unknown_tokens_pass_through_and_undecodable_ones_are_errors() -> None:
    assert decode_in("utf-8", b"plain text", 3) == b"plain text"
    for encoding in ("zstd", "compress", "gzip, zstd"):
        with pytest.raises(httpx.DecodingError, match="does not decode"):
            BodyDecoder(encoding)
    with pytest.raises(httpx.DecodingError, match="gzip body is corrupt"):
        decode_in("gzip", b"\x1f\x8b\x08\x00garbage" * 10, 100)


@pytest.mark.parametrize("encoding", ["zstd", "compress", "x-compress", "ZSTD", " gzip , zstd ", "zstd, identity"])
def test_each_encoding_that_cannot_be_bounded_is_refused_by_name(encoding: str) -> None:
    with pytest.raises(httpx.DecodingError) as info:
        BodyDecoder(encoding)
    token = next(t.strip().lower() for t in encoding.split(",") if t.strip().lower() not in ("gzip", "identity"))
    assert f"Content-Encoding {token!r}, which llmchat does not decode (it asks for {ACCEPT_ENCODING})" in str(info.value)


@pytest.mark.parametrize(("header", "applied"), [
    (", gzip,", "gzip"), ("gzip, identity", "gzip"), ("identity, gzip", "gzip"), ("X-GZIP", "gzip"),
    ("Deflate ,GZip", "deflate, gzip"), ("chunked-ish, gzip", "gzip"),  # an unknown token passes through
])
def test_content_encoding_tokens_are_trimmed_and_any_case(header: str, applied: str) -> None:
    assert decode_in(header, encode(PLAIN[:50_000], applied), 4096) == PLAIN[:50_000]


def test_an_empty_feed_gives_nothing() -> None:
    assert list(BodyDecoder("gzip").feed(b"")) == [] and list(BodyDecoder("").feed(b"")) == []


@pytest.mark.parametrize("size", [PIECE - 1, PIECE, PIECE + 1, 3 * PIECE])
def test_identity_pieces_are_at_most_a_piece(size: int) -> None:
    data = os.urandom(size)
    pieces = list(BodyDecoder("identity").feed(data))
    assert b"".join(pieces) == data and max(map(len, pieces)) == min(size, PIECE)


@needs_brotli
def test_a_brotli_bomb_alone_comes_out_in_bounded_pieces() -> None:
    import brotli

    body = brotli.compress(b"\0" * (16 * MIB), quality=5)  # a few hundred bytes
    decoder, seen, biggest = BodyDecoder("br"), 0, 0
    for raw in (body[i : i + 100] for i in range(0, len(body), 100)):
        for piece in decoder.feed(raw):
            seen += len(piece)
            biggest = max(biggest, len(piece))
    assert seen == 16 * MIB
    assert biggest <= 2 * PIECE  # brotli rounds its buffer up at most to twice the limit
    assert list(decoder.feed(b"after the end")) == []


@needs_brotli
def test_a_corrupt_brotli_body_is_a_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError, match="^the br body is corrupt: "):
        decode_in("br", b"\xff\xff not brotli at all" * 20, 100)


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "X-Gzip"])
def test_a_corrupt_gzip_body_says_gzip_whatever_the_token(encoding: str) -> None:
    with pytest.raises(httpx.DecodingError, match="^the gzip body is corrupt: "):
        decode_in(encoding, b"\x1f\x8b\x08\x00garbage" * 10, 100)


def test_a_deflate_body_neither_zlib_nor_raw_is_corrupt() -> None:
    with pytest.raises(httpx.DecodingError, match="^the deflate body is corrupt: "):
        decode_in("deflate", b"\xff" * 100, 10)


@pytest.mark.parametrize("step", [2, 5, 10_000])
def test_a_zlib_deflate_body_with_a_wrong_checksum_is_corrupt_however_it_is_split(step: int) -> None:
    """Once the zlib header was accepted, a later error is corruption, not a reason to try raw
    deflate (which would read the same blocks and ignore the bad checksum)."""
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    blocks = raw.compress(b"evil payload " * 50) + raw.flush()
    body = b"\x78\x9c" + blocks + b"\x00\x00\x00\x00"  # zlib header, the blocks, a wrong adler32
    with pytest.raises(httpx.DecodingError, match="^the deflate body is corrupt: "):
        decode_in("deflate", body, step)


@pytest.mark.parametrize("encoding", STACKS)
def test_a_bomb_comes_out_in_bounded_pieces(encoding: str) -> None:
    body = bomb(encoding, 4096)  # 4 GiB of zeros
    assert len(body) < 8 * MIB
    decoder, seen, biggest = BodyDecoder(encoding), 0, 0
    for raw in (body[i : i + 65536] for i in range(0, len(body), 65536)):
        for piece in decoder.feed(raw):
            seen += len(piece)
            biggest = max(biggest, len(piece))
            if seen > 8 * MIB:
                break
        if seen > 8 * MIB:
            break
    assert seen > 8 * MIB
    assert biggest <= 2 * PIECE  # brotli may round its buffer up; zlib never passes PIECE


async def test_the_reply_cap_holds_on_decoded_size(server: LoopbackServer) -> None:
    body = bomb("gzip, gzip", 64, sse_comments())
    server.handler = lambda request: Reply(parts=[body], headers={
        "content-type": "text/event-stream", "content-encoding": "gzip, gzip"})
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k",
                                  policy=StreamPolicy(retries=0, max_reply_bytes=2 * MIB))
        with pytest.raises(StreamTooLarge, match="passed 2 MiB"):
            async for _ in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])):
                pass
    assert server.requests[0].headers["accept-encoding"] == ACCEPT_ENCODING


# --- peak memory of a real `llmchat ask` ----------------------------------------------------


MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""
"""Runs a command and writes its exit status and peak RSS (KiB). The command is started by
this small process, not by pytest: a child's ru_maxrss counts the memory of the process it
was forked from (Linux keeps the high-water mark across exec), and pytest grows large."""


def peak_rss_mib(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, int, bytes]:
    """Run `argv`; return its exit status, its peak RSS in MiB (from wait4) and its stderr."""
    with open(cwd / "out", "wb") as out, open(cwd / "err", "wb") as err:
        subprocess.run([sys.executable, "-c", MEASURE, str(cwd / "rss"), *argv], env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=120, check=True)
    status, peak = (int(v) for v in (cwd / "rss").read_text().split())
    return status, peak // 1024, (cwd / "err").read_bytes()


@pytest.mark.parametrize(("encoding", "block"), [
    ("gzip, gzip", "zeros"), ("gzip, gzip", "sse comments"), ("deflate, gzip", "sse comments"),
    pytest.param("gzip, br", "sse comments", marks=needs_brotli)])
def test_ask_stays_small_against_a_bomb(server: LoopbackServer, tmp_path: Path, encoding: str, block: str) -> None:
    """1 GiB of decoded body: before the fix one network read decoded all of it at once."""
    body = bomb(encoding, 1024, b"\0" * MIB if block == "zeros" else sse_comments())
    server.handler = lambda request: Reply(parts=[body], headers={
        "content-type": "text/event-stream", "content-encoding": encoding})
    status, peak, stderr = peak_rss_mib([sys.executable, "-m", "llmchat", "ask", "--no-log", "hi"],
                                        cli_env(server), tmp_path)
    assert status == 1, stderr
    assert peak < 150, f"peak RSS {peak} MiB"
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "passed" in lines[0] and "MiB" in lines[0], stderr


FETCH = """
import asyncio, sys, httpx
from llmchat.chat.builtin_tools import fetch_url_tool
from llmchat.chat.netguard import AddressGuard

async def main():
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client, guard=AddressGuard(allow_private=True))  # the bomb is on loopback
        text = await tool.run({"url": sys.argv[1]})
    print(len(text), text[-80:])

asyncio.run(main())
"""


@pytest.mark.parametrize("encoding", ["gzip, gzip", pytest.param("deflate, br", marks=needs_brotli)])
def test_fetch_url_stays_small_against_a_bomb(server: LoopbackServer, tmp_path: Path, encoding: str) -> None:
    body = bomb(encoding, 1024, b"a" * MIB)
    server.handler = lambda request: Reply(parts=[body], headers={
        "content-type": "text/plain", "content-encoding": encoding})
    url = f"http://127.0.0.1:{server.port}/bomb"
    status, peak, stderr = peak_rss_mib([sys.executable, "-c", FETCH, url], cli_env(None), tmp_path)
    assert status == 0, stderr
    assert peak < 150, f"peak RSS {peak} MiB"
    assert (tmp_path / "out").read_text().strip().endswith("[response truncated: only the first 524288 bytes were read]")
    assert server.requests[0].headers["accept-encoding"] == ACCEPT_ENCODING


# --- read_capped / read_limited against the loopback server: both sides of the limit -----------


async def fetch_capped(server: LoopbackServer, body: bytes, limit: int, encoding: str = "") -> tuple[bytes, bool]:
    headers = {"content-type": "application/octet-stream", **({"content-encoding": encoding} if encoding else {})}
    sent = encode(body, encoding)
    server.handler = lambda request: Reply(parts=[sent[i : i + 1000] for i in range(0, len(sent), 1000)],
                                           headers=headers)
    async with httpx.AsyncClient() as client, client.stream("GET", f"{server.base_url}/x") as response:
        data, truncated = await read_capped(response, limit)
    return bytes(data), truncated


@pytest.mark.parametrize("encoding", ["", "gzip"])
@pytest.mark.parametrize(("size", "truncated"), [(9_999, False), (10_000, False), (10_001, True), (300_000, True)])
async def test_read_capped_both_sides_of_the_limit(server: LoopbackServer, encoding: str, size: int,
                                                   truncated: bool) -> None:
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    data, cut = await fetch_capped(server, body, 10_000, encoding)
    assert cut is truncated
    assert data == body[:10_000]


async def test_read_capped_of_a_piece_that_fills_it_exactly(server: LoopbackServer) -> None:
    data, cut = await fetch_capped(server, b"a" * PIECE, PIECE, "gzip")  # one decoded piece of the limit
    assert (len(data), cut) == (PIECE, False)
    data, cut = await fetch_capped(server, b"a" * (PIECE + 1), PIECE, "gzip")
    assert (len(data), cut) == (PIECE, True)


@pytest.mark.parametrize("size", [MAX_ERROR_BODY - 1, MAX_ERROR_BODY, MAX_ERROR_BODY + 1, 3 * MAX_ERROR_BODY])
async def test_read_limited_keeps_64_kib_of_an_error_body(server: LoopbackServer, size: int) -> None:
    assert MAX_ERROR_BODY == 64 * 1024
    body = b"0123456789" * (size // 10) + b"x" * (size % 10)
    server.handler = lambda request: Reply(status=500, parts=[body], headers={"content-type": "text/plain"})
    async with httpx.AsyncClient() as client, client.stream("GET", f"{server.base_url}/x") as response:
        text = await read_limited(response)
    assert text == body[:MAX_ERROR_BODY].decode()


async def test_read_limited_decodes_invalid_utf8_as_replacement(server: LoopbackServer) -> None:
    server.handler = lambda request: Reply(status=502, parts=[b"bad \xff byte"], headers={"content-type": "text/plain"})
    async with httpx.AsyncClient() as client, client.stream("GET", f"{server.base_url}/x") as response:
        assert await read_limited(response, 100) == "bad \ufffd byte"


async def test_a_body_read_before_is_given_from_memory_in_pieces(server: LoopbackServer) -> None:
    body = os.urandom(3 * PIECE + 5)
    server.handler = lambda request: Reply(parts=[body], headers={"content-type": "application/octet-stream"})
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.base_url}/x")  # read in full
        data, cut = await read_capped(response, len(body))
    assert (bytes(data), cut) == (body, False)


@pytest.mark.parametrize("headers", [None, {}, {"Accept-Encoding": "zstd", "X-Other": "1"}])
def test_request_headers_always_ask_for_what_can_be_decoded(headers: dict[str, str] | None) -> None:
    merged = request_headers(headers)
    assert merged["Accept-Encoding"] == ACCEPT_ENCODING
    assert ACCEPT_ENCODING.startswith("gzip, deflate") and "zstd" not in ACCEPT_ENCODING
    if headers:
        assert merged["X-Other"] == "1" and headers["Accept-Encoding"] == "zstd"  # a copy, not the caller's
