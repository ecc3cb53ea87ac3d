"""make_client's TLS context is made at the first https connection, exactly as httpx's default.

A local TLS server with a self-signed certificate (made by the openssl command): trusted
through SSL_CERT_FILE (read when the first connection is made, not when the client is), and
refused without it.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmchat.providers import make_client
from llmchat.providers.errors import ConnectError
from llmchat.providers.http_get import get_json
from llmchat.providers.tls import LazySSLContext

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

BODY = b'{"object": "list", "data": [{"id": "tls-model"}]}'


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return crt, key


@pytest.fixture
def tls_url(cert: tuple[Path, Path]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                         b"connection: close\r\n\r\n%s" % (len(BODY), BODY))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", 0, ssl=context))
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"https://127.0.0.1:{port[0]}/v1"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _lazy_context(client: object) -> LazySSLContext:
    context = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    assert isinstance(context, LazySSLContext)
    return context


async def test_ca_bundle_is_loaded_at_the_first_tls_connection(
    tls_url: str, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with make_client() as client:
        lazy = _lazy_context(client)
        assert lazy._real is None  # nothing loaded when the client is made
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # so read at the connection
        data = await get_json(client, f"{tls_url}/models", {}, "tls")
        assert data["data"][0]["id"] == "tls-model"
        assert lazy._real is not None
        assert lazy._real.verify_mode == ssl.CERT_REQUIRED and lazy._real.check_hostname


async def test_an_untrusted_certificate_is_refused(tls_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with make_client() as client:
        with pytest.raises(ConnectError, match="(?i)certificate"):
            await get_json(client, f"{tls_url}/models", {}, "tls")


async def test_plain_http_never_builds_a_tls_context() -> None:
    from tests.loopback import LoopbackServer, json_reply

    with LoopbackServer(lambda r: json_reply(200, {"data": [{"id": "m"}]})) as server:
        async with make_client() as client:
            assert (await get_json(client, f"{server.base_url}/models", {}, "x"))["data"][0]["id"] == "m"
            assert _lazy_context(client)._real is None


# --- the context itself: forwarding ALPN and the wrapping (an in-memory handshake) ------------


def _handshake(client: ssl.SSLContext, cert: tuple[Path, Path], hostname: str,
               server_alpn: list[str] | None = None) -> ssl.SSLObject:
    """A TLS handshake between `client` and a server with `cert`, over memory BIOs (no
    socket); returns the client's side."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*cert)
    if server_alpn:
        server_context.set_alpn_protocols(server_alpn)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    from_server, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    ours = client.wrap_bio(to_client, from_client, server_hostname=hostname)
    theirs = server_context.wrap_bio(to_server, from_server, server_side=True)
    done = {"ours": False, "theirs": False}
    for _ in range(50):  # a handshake is a few round trips
        for name, side in (("ours", ours), ("theirs", theirs)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            to_server.write(from_client.read())
            to_client.write(from_server.read())
        if all(done.values()):
            return ours
    raise AssertionError("the handshake did not finish")


@pytest.fixture
def trusted(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.mark.parametrize("before", [True, False], ids=["set-before-first-use", "set-after-first-use"])
def test_alpn_reaches_the_real_context(cert: tuple[Path, Path], trusted: None, before: bool) -> None:
    lazy = LazySSLContext()
    if not before:
        lazy.real()
    lazy.set_alpn_protocols(iter(["http/1.1"]))  # any iterable, as httpcore passes a list
    side = _handshake(lazy, cert, "127.0.0.1", server_alpn=["h2", "http/1.1"])
    assert side.selected_alpn_protocol() == "http/1.1"


def test_without_alpn_none_is_offered(cert: tuple[Path, Path], trusted: None) -> None:
    side = _handshake(LazySSLContext(), cert, "127.0.0.1", server_alpn=["h2", "http/1.1"])
    assert side.selected_alpn_protocol() is None


def test_the_real_context_is_made_once_and_checks_the_host_name(cert: tuple[Path, Path], trusted: None) -> None:
    lazy = LazySSLContext()
    real = lazy.real()
    assert lazy.real() is real and real.verify_mode == ssl.CERT_REQUIRED and real.check_hostname
    assert _handshake(lazy, cert, "127.0.0.1").getpeercert()["subject"] == ((("commonName", "127.0.0.1"),),)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(lazy, cert, "localhost")  # the certificate names 127.0.0.1 only


def test_wrap_socket_uses_the_real_context(tls_url: str, trusted: None) -> None:
    import socket

    port = int(tls_url.rsplit(":", 1)[1].split("/")[0])
    lazy = LazySSLContext()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with lazy.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped:
            assert wrapped.version() is not None and wrapped.getpeercert()
    assert lazy._real is not None
