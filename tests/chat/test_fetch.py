"""fetch_url refuses non-public addresses, checks every redirect hop and connects to the address
it checked (issue 20). Everything runs against the loopback server on 127.0.0.1."""

from __future__ import annotations

import ipaddress

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
