"""The request body in pieces (llmchat/providers/json_body.py): the same bytes as httpx's
``json=`` (``json.dumps(ensure_ascii=False, separators=(",", ":"), allow_nan=False)``), a string
of up to PIECE characters written whole and a longer one a slice at a time, small parts joined
into pieces of at least PIECE bytes, a part of PIECE bytes or more never copied into another;
and, over the loopback server, a Content-Length that matches the body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.json_body import PIECE, body_pieces, json_content
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, chunk, sse


def httpx_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def test_piece_is_64_kib() -> None:
    assert PIECE == 65536


@pytest.mark.parametrize("length", [PIECE - 1, PIECE])
def test_a_string_of_up_to_piece_characters_is_one_piece(length: int) -> None:
    text = "a" * length
    assert list(body_pieces(text)) == [httpx_bytes(text)]


@pytest.mark.parametrize("length", [PIECE + 1, 3 * PIECE + 5])
def test_a_longer_string_is_written_a_slice_at_a_time(length: int) -> None:
    text = "a" * length
    pieces = list(body_pieces(text))
    assert b"".join(pieces) == httpx_bytes(text)
    assert len(pieces) >= 2 and max(map(len, pieces)) < PIECE + PIECE // 4 + 2
    assert all(len(piece) >= PIECE for piece in pieces[:-1])  # joined up to a piece, never smaller


def test_four_byte_characters_stay_under_two_pieces() -> None:
    text = "\U0001f680" * (PIECE + 3)  # 4 bytes each: a slice of PIECE/4 characters is PIECE bytes
    pieces = list(body_pieces({"content": text}))
    assert b"".join(pieces) == httpx_bytes({"content": text})
    assert max(map(len, pieces)) <= PIECE + 2
    assert len(pieces) >= 4


def test_escapes_in_a_long_string_are_each_whole() -> None:
    text = ('"\\\n\x00\u2028' * (PIECE // 2))[: 2 * PIECE + 7]
    assert b"".join(body_pieces([text])) == httpx_bytes([text])


def test_small_parts_fill_exactly_one_piece_then_the_next() -> None:
    body = [1] * PIECE  # "[", then "1" and "," one byte each
    pieces = list(body_pieces(body))
    assert b"".join(pieces) == httpx_bytes(body)
    assert [len(p) for p in pieces] == [PIECE, PIECE, 1]  # the "]" alone at the end


def test_a_part_of_a_whole_piece_is_never_copied_into_the_buffer() -> None:
    big = "b" * (PIECE - 2)  # its JSON is PIECE bytes
    pieces = list(body_pieces(["x", big, "y"]))
    assert pieces == [b'["x",', httpx_bytes(big), b',"y"]']


def test_a_part_just_under_a_piece_is_joined() -> None:
    big = "b" * (PIECE - 3)  # PIECE - 1 bytes: joined with what came before, which then fills a piece
    pieces = list(body_pieces(["x", big, "y"]))
    assert pieces == [b'["x",' + httpx_bytes(big), b',"y"]']


def test_an_empty_body_part_yields_no_empty_piece() -> None:
    assert list(body_pieces({})) == [b"{}"]
    assert list(body_pieces([])) == [b"[]"]
    assert all(list(body_pieces(value)) for value in ("", 0, None, False))


@pytest.mark.parametrize("body", [
    {"a": 1, "b": [True, False, None], "c": {"d": 1.5, "e": ""}},
    {1: "int key", 2.5: "float key", None: "null key"},  # json turns keys into strings
    {True: "bool key", "s": 1},
    {"mixed": {"s": 1, 2: "two"}},
    ("a", ("tuple", "of", 3), []),
    [{"role": "user", "content": "caf\u00e9 \u6771 \U0001f680 \x1f"}],
    -0.0, 1e300, 2**70, "",
])
def test_every_kind_of_value_gives_httpx_bytes(body: Any) -> None:
    assert b"".join(body_pieces(body)) == httpx_bytes(body)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused_anywhere(bad: float) -> None:
    with pytest.raises(ValueError):
        list(body_pieces({"options": [1, {"temperature": bad}]}))


def test_a_value_json_cannot_hold_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        list(body_pieces({"x": object()}))
    with pytest.raises(TypeError):
        list(body_pieces({("tuple", "key"): 1}))


async def test_json_content_length_and_bytes_match() -> None:
    body = {"messages": [{"role": "user", "content": "\u00e9" * (PIECE + 9)}], "n": [1] * 10}
    length, content = json_content(body)
    data = b"".join([piece async for piece in content])
    assert length == len(data) == len(httpx_bytes(body)) and data == httpx_bytes(body)


async def test_the_server_gets_the_body_with_its_length(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("ok"), chunk(finish="stop"))])
    prompt = "\u00e9\U0001f680 " * (PIECE // 2)  # several pieces, several bytes per character
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k")
        events = [e async for e in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": prompt}]))]
    assert events[-1].reason == "stop"  # type: ignore[union-attr]
    sent = server.requests[-1]
    assert int(sent.headers["content-length"]) == len(sent.body)
    assert sent.json()["messages"][-1]["content"] == prompt
    assert "transfer-encoding" not in sent.headers
