"""GET of a JSON document (model lists, local server probes), rule by rule: the status ranges,
the size cap on both sides, a body that is not JSON (a web page is named, within the first
MAX_ERROR_BODY bytes), keys kept out of error messages, and a probe that never raises. Written
against the mutants of llmchat/providers/http_get.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from llmchat.providers.decoding import ACCEPT_ENCODING, MAX_ERROR_BODY
from llmchat.providers.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    NotAStream,
    ProviderError,
    RedirectError,
    ServerError,
)
from llmchat.providers.http_get import MAX_JSON_BODY, get_json, probe_json
from tests.loopback import LoopbackServer, Reply, json_reply

KEY = "sk-get-0123456789abcdef"


def raw(status: int, body: bytes, content_type: str = "application/json", **headers: str) -> Reply:
    return Reply(status=status, parts=[body], headers={"content-type": content_type, **headers}, chunked=False)


async def get(server: LoopbackServer, headers: dict[str, str] | None = None) -> object:
    # A client whose own default Accept-Encoding is one we cannot decode in bounded pieces:
    # the request's header must replace it.
    async with httpx.AsyncClient(timeout=30, headers={"Accept-Encoding": "zstd"}) as client:
        return await get_json(client, f"{server.base_url}/models", headers or {}, "p")


async def get_error(server: LoopbackServer, headers: dict[str, str] | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await get(server, headers)
    return info.value


def test_the_cap_is_16_mib() -> None:
    assert MAX_JSON_BODY == 16 * 2**20


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, None), (299, None), (300, RedirectError), (399, RedirectError), (400, BadRequestError)],
)
async def test_the_status_ranges(server: LoopbackServer, status: int, kind: type[ProviderError] | None) -> None:
    server.handler = lambda _r: raw(status, b'{"data": [{"id": "m"}]}', location="../v2/models")
    if kind is None:
        assert await get(server) == {"data": [{"id": "m"}]}
    else:
        error = await get_error(server)
        assert type(error) is kind and error.status == status and error.provider == "p"
        if kind is RedirectError:  # the Location, resolved against the URL asked
            assert f"to http://127.0.0.1:{server.port}/v2/models" in error.message
    # only the encodings decoded in bounded pieces (httpx's own default adds zstd)
    assert server.requests[0].method == "GET" and server.requests[0].headers["accept-encoding"] == ACCEPT_ENCODING


async def test_an_error_body_that_echoes_the_key_is_redacted(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(401, {"error": {"message": f"bad key {KEY}"}})
    error = await get_error(server, {"Authorization": f"Bearer {KEY}"})
    assert type(error) is AuthenticationError and error.message == "bad key [REDACTED]"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # sent, only not shown


def exactly(size: int) -> bytes:
    """A JSON document of exactly `size` bytes."""
    head = b'{"data": [], "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("over", [0, 1])
async def test_a_body_of_exactly_the_cap_is_read_one_byte_more_is_refused(server: LoopbackServer, over: int) -> None:
    body = exactly(MAX_JSON_BODY + over)
    server.handler = lambda _r: raw(200, body)
    if over:
        error = await get_error(server)
        assert type(error) is ServerError and error.message == f"{server.base_url}/models answered with more than 16 MiB"
        assert error.provider == "p"
    else:
        data = await get(server)
        assert isinstance(data, dict) and len(data["pad"]) == MAX_JSON_BODY - 23


@pytest.mark.parametrize(
    ("body", "said", "hinted"),
    [
        (b"just text", "did not answer with JSON", False),
        (b"\xff\xfe not UTF-8 \xc3", "did not answer with JSON", False),
        (b"<html><head><title>Sign in</title></head></html>", "did not answer with JSON but with an HTML page titled 'Sign in'",
         True),
        (b"<!DOCTYPE html><html><body>login</body></html>", "did not answer with JSON but with an HTML page", True),
    ],
)
async def test_a_body_that_is_not_json_is_named(server: LoopbackServer, body: bytes, said: str, hinted: bool) -> None:
    server.handler = lambda _r: raw(200, body, "text/html")
    error = await get_error(server)
    assert type(error) is ServerError and error.message == f"{server.base_url}/models {said}" and error.provider == "p"
    assert error.hint == (NotAStream.hint_default if hinted else ServerError.hint_default)
    assert ("titled" in error.message) is (b"Sign in" in body)


@pytest.mark.parametrize(("pad", "page"), [(MAX_ERROR_BODY - len("<html"), True),  # "<html" is the last read
                                           (MAX_ERROR_BODY - len("<html") + 1, False)])  # "<htm"
async def test_a_web_page_is_recognised_within_the_first_error_body_bytes(server: LoopbackServer, pad: int,
                                                                           page: bool) -> None:
    server.handler = lambda _r: raw(200, b" " * pad + b"<html><body>x</body></html>", "text/html")
    error = await get_error(server)
    assert ("HTML page" in error.message) is page and "did not answer with JSON" in error.message


async def test_a_connection_lost_mid_body_is_a_connect_error() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'{"data": ['
            raise httpx.ReadError("connection reset")

    transport = httpx.MockTransport(lambda _r: httpx.Response(200, stream=Broken()))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(ConnectError) as info:
            await get_json(client, "http://127.0.0.1:9/v1/models", {}, "p")
    assert info.value.message == "cannot reach http://127.0.0.1:9/v1/models: connection reset"
    assert info.value.provider == "p"


# --- probe_json: any failure is None ------------------------------------------------------------------


async def probe(server: LoopbackServer, limit: int = 1000, url: str | None = None) -> object:
    async with httpx.AsyncClient(timeout=10, headers={"Accept-Encoding": "zstd"}) as client:
        return await probe_json(client, url or f"{server.base_url}/models", limit)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (raw(200, b'{"models": []}'), {"models": []}),
        (raw(200, b"[1, 2]"), [1, 2]),
        (raw(201, b'{"models": []}'), None),
        (raw(204, b""), None),
        (raw(404, b'{"models": []}'), None),
        (raw(302, b'{"models": []}', location="/x"), None),
        (raw(500, b'{"models": []}'), None),
        (raw(200, b"not json"), None),
        (raw(200, b"<html></html>", "text/html"), None),
    ],
)
async def test_probe_answers(server: LoopbackServer, reply: Reply, expected: object) -> None:
    server.handler = lambda _r: reply
    assert await probe(server) == expected
    assert server.requests[0].method == "GET" and server.requests[0].headers["accept-encoding"] == ACCEPT_ENCODING


@pytest.mark.parametrize(("over", "found"), [(0, True), (1, False)])
async def test_a_probe_of_exactly_its_limit_is_read_one_byte_more_is_none(server: LoopbackServer, over: int,
                                                                          found: bool) -> None:
    body = json.dumps({"models": ["m" * 80]}).encode()
    server.handler = lambda _r: raw(200, body)
    assert (await probe(server, limit=len(body) - over) is not None) is found


async def test_a_truncated_probe_is_none_even_when_its_start_is_json(server: LoopbackServer) -> None:
    body = b'{"models": []}' + b" " * 100  # cut anywhere in the spaces, the start is valid JSON
    server.handler = lambda _r: raw(200, body)
    assert await probe(server, limit=20) is None
    assert await probe(server, limit=len(body)) == {"models": []}


async def test_a_probe_of_nothing_listening_is_none() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=10) as client:
        assert await probe_json(client, f"http://127.0.0.1:{port}/api/tags", 1000) is None
