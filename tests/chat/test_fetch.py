"""fetch_url refuses non-public addresses, checks every redirect hop and connects to the address
it checked (issue 20). Everything runs against the loopback server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from llmchat.chat.fetch import MAX_REDIRECTS, fetch_url_tool
from llmchat.chat.netguard import AddressGuard, IPAddress, address_problem
from llmchat.chat.tools import ToolError
from tests.loopback import LoopbackServer, Reply, Request


def text_reply(body: bytes = b"hello") -> Reply:
    return Reply(parts=[body], headers={"content-type": "text/plain"})


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, parts=[], headers={"location": location, "content-length": "0"}, chunked=False)


def only_first_loopback(address: IPAddress) -> str | None:
    """A classifier for these tests: 127.0.0.1 (the test server) counts as public."""
    return None if str(address) == "127.0.0.1" else address_problem(address)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "127.1", "[::ffff:127.0.0.1]"])
async def test_loopback_is_refused_and_never_contacted(server: LoopbackServer, host: str) -> None:
    server.handler = lambda request: text_reply(b"secret of the local service")
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client)
        with pytest.raises(ToolError, match=r"refused .*not a public address \(loopback.*allow_private_addresses"):
            await tool.run({"url": f"http://{host}:{server.port}/admin"})
    assert server.requests == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fe80::1]/",
                                 "http://0.0.0.0:9/", "http://224.0.0.1/", "http://[::]/"])
async def test_metadata_private_and_reserved_addresses_are_refused_before_connecting(url: str) -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent to {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as client:
        with pytest.raises(ToolError, match="not a public address"):
            await fetch_url_tool(client).run({"url": url})


async def test_every_redirect_hop_is_checked(server: LoopbackServer) -> None:
    server.handler = lambda request: redirect(f"http://127.0.0.2:{server.port}/inner")
    guard = AddressGuard(problem=only_first_loopback)
    async with httpx.AsyncClient() as client:
        with pytest.raises(ToolError, match=r"127\.0\.0\.2 is not a public address \(loopback"):
            await fetch_url_tool(client, guard=guard).run({"url": f"http://127.0.0.1:{server.port}/start"})
    assert [r.path for r in server.requests] == ["/start"]


async def test_redirects_are_followed_to_a_limit_and_only_to_http(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/loop":
            return redirect("/loop", 301)
        if request.path == "/file":
            return redirect("file:///etc/passwd")
        if request.path.startswith("/hop"):
            n = int(request.path[4:])
            return redirect(f"/hop{n + 1}", 307) if n < 3 else text_reply(b"arrived")
        return text_reply()

    server.handler = handler
    guard = AddressGuard(problem=only_first_loopback)
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client, guard=guard)
        result = await tool.run({"url": f"{base}/hop0"})
        assert result.startswith(f"URL: {base}/hop3\nStatus: 200") and result.endswith("arrived")
        with pytest.raises(ToolError, match=f"redirected more than {MAX_REDIRECTS} times"):
            await tool.run({"url": f"{base}/loop"})
        with pytest.raises(ToolError, match="only http and https"):
            await tool.run({"url": f"{base}/file"})


async def test_the_connection_goes_to_the_address_that_was_checked(server: LoopbackServer) -> None:
    """DNS rebinding: the name is resolved once per hop; a second answer is never used.
    (The system resolver cannot resolve ``rebind.test``: had httpx resolved it again, the
    fetch would fail.)"""
    answers = [["127.0.0.1"], ["10.9.9.9"]]
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in answers.pop(0)]

    server.handler = lambda request: text_reply(b"public content")
    guard = AddressGuard(resolver=resolver, problem=only_first_loopback)
    async with httpx.AsyncClient() as client:
        result = await fetch_url_tool(client, guard=guard).run({"url": f"http://rebind.test:{server.port}/page"})
    assert result.startswith(f"URL: http://rebind.test:{server.port}/page\nStatus: 200")
    assert result.endswith("public content")
    assert asked == ["rebind.test"]
    assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"


async def test_the_config_allowance_reaches_loopback(server: LoopbackServer) -> None:
    server.handler = lambda request: text_reply(b"local docs")
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client, guard=AddressGuard(allow_private=True))
        assert (await tool.run({"url": f"http://localhost:{server.port}/"})).endswith("local docs")


# --- https: the pinned address, the name for SNI and the certificate -----------------------


def make_cert(folder: Path, name: str) -> tuple[Path, Path]:
    key, crt = folder / f"{name}.key", folder / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True, timeout=60,
    )
    return crt, key


@contextmanager
def tls_server(crt: Path, key: Path, seen: list[str | None]) -> Iterator[int]:
    """A one-page HTTPS server on 127.0.0.1 that notes each handshake's server name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    context.sni_callback = lambda sock, name, ctx: seen.append(name)  # type: ignore[assignment,return-value]
    loop = asyncio.new_event_loop()
    ready, port = threading.Event(), []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            host = [line for line in head.decode().split("\r\n") if line.lower().startswith("host:")]
            body = f"pinned page for {host[0][5:].strip()}".encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                         b"connection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def run() -> None:
        server = loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", 0, ssl=context))
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_goes_to_the_pinned_address_with_the_name_for_sni_and_the_certificate(tmp_path: Path) -> None:
    crt, key = make_cert(tmp_path, "pinned.test")

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    guard = AddressGuard(resolver=resolver, problem=only_first_loopback)
    seen: list[str | None] = []
    with tls_server(crt, key, seen) as port:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(crt))) as client:
            tool = fetch_url_tool(client, guard=guard)
            page = await tool.run({"url": f"https://pinned.test:{port}/"})
            assert page.endswith(f"pinned page for pinned.test:{port}")
            assert seen == ["pinned.test"]
            with pytest.raises(ToolError, match="could not fetch.*(CERTIFICATE|certificate|hostname)"):
                await tool.run({"url": f"https://other.test:{port}/"})  # the certificate is for pinned.test


async def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(server: LoopbackServer) -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.3"), ipaddress.ip_address("127.0.0.1")]  # nothing listens on .3

    def only_these(address: IPAddress) -> str | None:
        return None if str(address) in ("127.0.0.1", "127.0.0.3") else address_problem(address)

    server.handler = lambda request: text_reply(b"second address")
    async with httpx.AsyncClient() as client:
        tool = fetch_url_tool(client, guard=AddressGuard(resolver=resolver, problem=only_these))
        assert (await tool.run({"url": f"http://two.test:{server.port}/"})).endswith("second address")
