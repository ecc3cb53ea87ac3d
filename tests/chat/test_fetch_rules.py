"""fetch_url and fetch_body rule by rule, against the loopback server on 127.0.0.1: which
statuses are followed, the redirect limit on both sides, error statuses on both sides of 400,
every text type, the size cap on both sides, charsets, the header block, the request headers,
the addresses tried, a proxy from the environment, and the HTML reduction per tag."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from llmchat import __version__
from llmchat.chat.fetch import MAX_URL_BYTES, fetch_body, fetch_url_tool, html_to_text
from llmchat.chat.netguard import AddressGuard, IPAddress, address_problem
from llmchat.chat.tools import ToolError
from llmchat.providers.decoding import ACCEPT_ENCODING
from tests.loopback import LoopbackServer, Reply, Request


def loopback_is_public(address: IPAddress) -> str | None:
    """A classifier for these tests: 127.0.0.0/8 (the test server, and addresses where nothing
    listens) counts as public, so the pinning code path runs; everything else as the real one."""
    return None if str(address).startswith("127.") else address_problem(address)


def resolving_to(*answers: str, seen: list[tuple[str, int]] | None = None) -> Any:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        if seen is not None:
            seen.append((host, port))
        return [ipaddress.ip_address(a) for a in answers]

    return resolver


def pinned(*answers: str, seen: list[tuple[str, int]] | None = None) -> AddressGuard:
    return AddressGuard(resolver=resolving_to(*answers, seen=seen), problem=loopback_is_public)


def text(body: bytes = b"hello", content_type: str | None = "text/plain", status: int = 200) -> Reply:
    headers = {} if content_type is None else {"content-type": content_type}
    return Reply(status=status, parts=[body], headers=headers)


def moved(location: str, status: int = 302) -> Reply:
    return Reply(status=status, parts=[], headers={"location": location, "content-length": "0"}, chunked=False)


async def fetch(server: LoopbackServer, path: str, *, max_bytes: int = MAX_URL_BYTES, **kwargs: Any) -> str:
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client, max_bytes=max_bytes, guard=pinned("127.0.0.1"), **kwargs)
        return await tool.run({"url": f"http://page.test:{server.port}{path}"})


def body_of(result: str) -> str:
    return result.split("\n\n", 1)[1]


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_each_redirect_status_is_followed(server: LoopbackServer, status: int) -> None:
    server.handler = lambda r: moved("/there", status) if r.path == "/here" else text(b"arrived")
    result = await fetch(server, "/here")
    assert result.startswith(f"URL: http://page.test:{server.port}/there\nStatus: 200\n") and result.endswith("arrived")


@pytest.mark.parametrize("status", [300, 304, 305, 306, 399])
async def test_other_3xx_statuses_are_not_followed(server: LoopbackServer, status: int) -> None:
    server.handler = lambda r: Reply(status=status, parts=[], headers={"location": "/there", "content-length": "0",
                                                                       "content-type": "text/plain"}, chunked=False)
    result = await fetch(server, "/here")
    assert result.startswith(f"URL: http://page.test:{server.port}/here\nStatus: {status}\n")
    assert [r.path for r in server.requests] == ["/here"]


async def test_a_redirect_without_a_location_is_the_answer(server: LoopbackServer) -> None:
    server.handler = lambda r: text(b"no location here", status=302)
    assert (await fetch(server, "/x")).endswith("Status: 302\nContent-Type: text/plain\n\nno location here")


@pytest.mark.parametrize(("hops", "arrives"), [(9, True), (10, True), (11, False)])
async def test_at_most_ten_redirects_are_followed(server: LoopbackServer, hops: int, arrives: bool) -> None:
    def handler(request: Request) -> Reply:
        n = int(request.path[1:])
        return moved(f"/{n + 1}", 307) if n < hops else text(b"the end")

    server.handler = handler
    if arrives:
        assert (await fetch(server, "/0")).endswith("the end")
        assert len(server.requests) == hops + 1
    else:
        with pytest.raises(ToolError) as info:
            await fetch(server, "/0")
        assert str(info.value) == f"http://page.test:{server.port}/0 redirected more than 10 times"
        assert len(server.requests) == 11


# --- statuses, types, sizes ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(200, False), (203, False), (399, False), (400, True), (404, True),
                                               (500, True), (599, True)])
async def test_error_statuses_from_400(server: LoopbackServer, status: int, error: bool) -> None:
    server.handler = lambda r: text(b"page body", status=status)
    if error:
        with pytest.raises(ToolError) as info:
            await fetch(server, "/e")
        assert str(info.value) == f"HTTP {status} X from http://page.test:{server.port}/e"
    else:
        assert (await fetch(server, "/e")).endswith("page body")


TEXT_TYPES = ["text/plain", "text/csv", "text/markdown; charset=utf-8", "TEXT/PLAIN", "application/json",
              "application/xml", "application/xhtml+xml", "application/javascript", "application/ld+json",
              "application/rss+xml", "application/atom+xml", "application/x-ndjson", "application/vnd.api+json",
              "application/soap+xml", "image/svg+xml", " text/plain ;charset=utf-8"]


@pytest.mark.parametrize("content_type", TEXT_TYPES)
async def test_text_types_are_read(server: LoopbackServer, content_type: str) -> None:
    server.handler = lambda r: text(b"plain words", content_type)
    assert body_of(await fetch(server, "/t")) == "plain words"


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", "application/pdf", "audio/mpeg",
                                          "video/mp4", "application/zip", "font/woff2", "application/x-jsonlines"])
async def test_other_types_are_refused(server: LoopbackServer, content_type: str) -> None:
    server.handler = lambda r: text(b"plain words", content_type)
    with pytest.raises(ToolError) as info:
        await fetch(server, "/b")
    assert str(info.value) == f"http://page.test:{server.port}/b is not text (Content-Type: {content_type})"


@pytest.mark.parametrize(("body", "is_text"), [(b"x" * 4095 + b"\0", False), (b"\0abc", False),
                                               (b"x" * 4096 + b"\0", True), (b"no type at all", True)])
async def test_without_a_type_a_nul_in_the_first_4096_bytes_means_binary(
    server: LoopbackServer, body: bytes, is_text: bool
) -> None:
    server.handler = lambda r: text(body, None)
    if is_text:
        result = await fetch(server, "/u")
        assert "\nContent-Type: unknown\n\n" in result and body_of(result) == body.decode()
    else:
        with pytest.raises(ToolError) as info:
            await fetch(server, "/u")
        assert str(info.value) == f"http://page.test:{server.port}/u is not text"


@pytest.mark.parametrize(("size", "cut"), [(99, False), (100, False), (101, True)])
@pytest.mark.parametrize("pieces", [1, 7])
async def test_the_body_cap_on_both_sides(server: LoopbackServer, size: int, cut: bool, pieces: int) -> None:
    body = b"b" * size
    step = -(-size // pieces)
    server.handler = lambda r: Reply(parts=[body[i:i + step] for i in range(0, size, step)],
                                     headers={"content-type": "text/plain"})
    result = body_of(await fetch(server, "/s", max_bytes=100))
    if cut:
        assert result == "b" * 100 + "\n\n[response truncated: only the first 100 bytes were read]"
    else:
        assert result == "b" * size


async def test_the_default_cap_is_512_kib(server: LoopbackServer) -> None:
    """README: fetch_url "reads at most 512 KiB of text"."""
    assert MAX_URL_BYTES == 512 * 1024
    server.handler = lambda r: Reply(parts=[b"k" * 65536] * 8 + [b"over"], headers={"content-type": "text/plain"})
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client, guard=pinned("127.0.0.1"))
        result = body_of(await tool.run({"url": f"http://page.test:{server.port}/"}))
    assert result == "k" * 524288 + "\n\n[response truncated: only the first 524288 bytes were read]"
    assert "At most 524288 bytes are read." in tool.description


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("text/plain; charset=latin-1", "café".encode("latin-1"), "café"),
    ("text/plain; charset=x-no-such-codec", "café".encode(), "café"),
    ("text/plain; charset=x-no-such-codec", b"caf\xe9", "caf\ufffd"),
    ("text/plain", "café".encode(), "café"),
    ("text/plain; charset=utf-8", b"caf\xe9", "caf\ufffd"),
])
async def test_charsets(server: LoopbackServer, content_type: str, body: bytes, expected: str) -> None:
    server.handler = lambda r: text(body, content_type)
    assert body_of(await fetch(server, "/c")) == expected


@pytest.mark.parametrize(("content_type", "reduced"), [("text/html", True), ("text/html; charset=utf-8", True),
                                                       ("application/xhtml+xml", True), ("text/plain", False),
                                                       ("application/xml", False)])
async def test_html_is_reduced_to_its_text_and_nothing_else_is(
    server: LoopbackServer, content_type: str, reduced: bool
) -> None:
    page = "<html><body><p>One</p><script>x()</script><p>Two</p></body></html>"
    server.handler = lambda r: text(page.encode(), content_type)
    assert body_of(await fetch(server, "/h")) == ("One\nTwo" if reduced else page)


async def test_the_header_block_and_the_request_headers(server: LoopbackServer) -> None:
    server.handler = lambda r: text(b"body", "text/plain; charset=utf-8")
    result = await fetch(server, "/head")
    assert result == f"URL: http://page.test:{server.port}/head\nStatus: 200\nContent-Type: text/plain; charset=utf-8\n\nbody"
    (request,) = server.requests
    assert request.method == "GET" and request.path == "/head"
    assert request.headers["user-agent"] == f"llmchat/{__version__}"
    assert request.headers["accept"] == "text/*, application/json;q=0.9, */*;q=0.1"
    assert request.headers["accept-encoding"] == ACCEPT_ENCODING  # only what is decoded in bounded pieces, not httpx's default
    assert set(request.headers) == {"host", "user-agent", "accept", "accept-encoding", "connection"}
    assert request.headers["host"] == f"page.test:{server.port}"


# --- the tool itself ---------------------------------------------------------------------------


async def test_the_tool_and_its_timeout() -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client)
        assert (tool.name, tool.read_only, tool.timeout, tool.parameters["required"]) == ("fetch_url", True, 25.0, ["url"])
        assert fetch_url_tool(client, timeout=3).timeout == 8.0
        assert fetch_url_tool(client, max_bytes=4096).description == (
            "Fetch an http or https URL with GET and return its text (HTML is reduced to its text). "
            "At most 4096 bytes are read.")


@pytest.mark.parametrize("arguments", [{}, {"url": ""}, {"url": "   "}, {"url": 5}, {"url": None}, {"url": ["http://x"]}])
async def test_the_url_must_be_a_non_empty_string(arguments: dict[str, Any]) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(ToolError) as info:
            await fetch_url_tool(client).run(arguments)
    assert str(info.value) == "'url' must be a non-empty string"


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/x", "only http and https URLs can be fetched, not 'ftp://example.com/x'"),
    ("http:///path", "only http and https URLs can be fetched, not 'http:///path'"),
    ("example.com/page", "only http and https URLs can be fetched, not 'example.com/page'"),
    ("http://a.test:x/", "invalid URL 'http://a.test:x/': Invalid port: 'x'"),
])
async def test_urls_that_cannot_be_fetched(url: str, message: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(ToolError) as info:
            await fetch_url_tool(client, guard=pinned("127.0.0.1")).run({"url": url})
    assert str(info.value).startswith(message)


async def test_spaces_around_the_url_are_ignored(server: LoopbackServer) -> None:
    server.handler = lambda r: text(b"trimmed")
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client, guard=pinned("127.0.0.1"))
        assert (await tool.run({"url": f"  http://page.test:{server.port}/ \n"})).endswith("trimmed")


@pytest.mark.parametrize(("url", "port"), [("http://a.test/", 80), ("https://a.test/", 443), ("http://a.test:8080/", 8080),
                                           ("https://a.test:8443/x", 8443), ("HTTP://a.test/", 80)])
async def test_the_host_is_checked_for_the_port_it_would_be_reached_on(url: str, port: int) -> None:
    seen: list[tuple[str, int]] = []
    guard = AddressGuard(resolver=resolving_to("10.0.0.7", seen=seen))  # refused: nothing is contacted
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(ToolError) as info:
            await fetch_url_tool(client, guard=guard).run({"url": url})
    assert seen == [("a.test", port)]
    assert str(info.value) == (
        f"refused {url}: a.test (10.0.0.7) is not a public address (private); only public internet addresses "
        "are fetched unless the user sets [tools] allow_private_addresses = true in llmchat's config")


@pytest.mark.parametrize(("addresses", "reached"), [(4, True), (5, False)])
async def test_at_most_four_addresses_of_a_host_are_tried(server: LoopbackServer, addresses: int, reached: bool) -> None:
    """Nothing listens on 127.0.0.2-5 at the server's port: each refuses the connection."""
    answers = [f"127.0.0.{n}" for n in range(2, addresses + 1)] + ["127.0.0.1"]
    server.handler = lambda r: text(b"found it")
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client, guard=pinned(*answers))
        if reached:
            assert (await tool.run({"url": f"http://multi.test:{server.port}/"})).endswith("found it")
        else:
            with pytest.raises(ToolError, match=r"^could not fetch http://multi\.test:\d+/: ConnectError"):
                await tool.run({"url": f"http://multi.test:{server.port}/"})
            assert server.requests == []


async def test_allowed_private_addresses_are_reached_by_name(server: LoopbackServer) -> None:
    """With the check lifted the URL is fetched as given (nothing resolved or pinned here)."""
    server.handler = lambda r: text(b"by name")
    async with httpx.AsyncClient(trust_env=False) as client:
        guard = AddressGuard(allow_private=True, resolver=resolving_to())  # would refuse: "does not resolve"
        result = await fetch_url_tool(client, guard=guard).run({"url": f"http://localhost:{server.port}/n"})
    assert result.endswith("by name") and server.requests[0].headers["host"] == f"localhost:{server.port}"


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_through_a_proxy_from_the_environment_the_host_is_checked_and_the_proxy_connects(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The loopback server plays the proxy: it gets the request in absolute form, for the
    name (the proxy resolves it), after the guard has checked the name."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{server.port}")
    server.handler = lambda r: text(b"via the proxy")
    seen: list[tuple[str, int]] = []
    async with httpx.AsyncClient() as client:
        result = await fetch_url_tool(client, guard=pinned("127.0.0.1", seen=seen)).run(
            {"url": "http://proxied.test:8081/page"})
        assert result.endswith("via the proxy")
        assert [r.path for r in server.requests] == ["http://proxied.test:8081/page"]
        assert seen == [("proxied.test", 8081)]
        with pytest.raises(ToolError, match=r"refused http://private\.test/: .*\(private\)"):
            await fetch_url_tool(client, guard=AddressGuard(resolver=resolving_to("10.1.1.1"))).run(
                {"url": "http://private.test/"})
    assert len(server.requests) == 1


async def test_without_trusting_the_environment_the_checked_address_is_used(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    server.handler = lambda r: text(b"direct")
    async with httpx.AsyncClient(trust_env=False) as client:
        result = await fetch_url_tool(client, guard=pinned("127.0.0.1")).run({"url": f"http://d.test:{server.port}/"})
    assert result.endswith("direct") and server.requests[0].path == "/"


# --- fetch_body (attachments) -----------------------------------------------------------------


@pytest.mark.parametrize(("size", "whole"), [(100, True), (101, False)])
async def test_fetch_body_takes_exactly_the_cap(server: LoopbackServer, size: int, whole: bool) -> None:
    server.handler = lambda r: Reply(parts=[b"a" * 60, b"a" * (size - 60)], headers={"content-type": "image/png"})
    url = f"http://body.test:{server.port}/img"
    async with httpx.AsyncClient(trust_env=False) as client:
        if whole:
            assert await fetch_body(client, url, max_bytes=100, guard=pinned("127.0.0.1")) == (url, "image/png", b"a" * 100)
        else:
            with pytest.raises(ToolError) as info:
                await fetch_body(client, url, max_bytes=100, guard=pinned("127.0.0.1"))
            assert str(info.value) == f"{url} is larger than 100 bytes"


async def test_fetch_body_follows_redirects_and_refuses_error_statuses(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/old":
            return moved("/new", 301)
        if request.path == "/new":
            return Reply(parts=[b"\x00\x01"], headers={})
        return text(b"gone", status=410)

    server.handler = handler
    base = f"http://body.test:{server.port}"
    async with httpx.AsyncClient(trust_env=False) as client:
        assert await fetch_body(client, f"{base}/old", max_bytes=10, guard=pinned("127.0.0.1")) == (
            f"{base}/new", "", b"\x00\x01")
        assert server.requests[0].headers["accept"] == "*/*"
        with pytest.raises(ToolError) as info:
            await fetch_body(client, f"{base}/missing", max_bytes=10, guard=pinned("127.0.0.1"))
        assert str(info.value) == f"HTTP 410 X from {base}/missing"
        server.handler = lambda r: text(b"bad request", status=400)
        with pytest.raises(ToolError) as info:
            await fetch_body(client, f"{base}/bad", max_bytes=100, guard=pinned("127.0.0.1"))
        assert str(info.value) == f"HTTP 400 X from {base}/bad"
        server.handler = lambda r: text(b"just below", status=399)
        assert (await fetch_body(client, f"{base}/ok", max_bytes=100, guard=pinned("127.0.0.1")))[2] == b"just below"
        with pytest.raises(ToolError, match="not a public address"):
            await fetch_body(client, f"http://127.0.0.1:{server.port}/old", max_bytes=10)  # the default guard


# --- HTML to text, tag by tag -------------------------------------------------------------------

BLOCKS = ["p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
          "footer", "pre", "blockquote", "title"]
SKIPPED = ["script", "style", "noscript", "template", "svg"]


@pytest.mark.parametrize("tag", BLOCKS)
def test_each_block_tag_starts_and_ends_a_line(tag: str) -> None:
    assert html_to_text(f"a<{tag}>b</{tag}>c") == "a\nb\nc"


@pytest.mark.parametrize("tag", ["span", "b", "a", "em", "code", "td", "label"])
def test_inline_tags_do_not(tag: str) -> None:
    assert html_to_text(f"a<{tag}>b</{tag}>c") == "abc"


@pytest.mark.parametrize("tag", SKIPPED)
def test_each_hidden_tag_is_left_out(tag: str) -> None:
    assert html_to_text(f"<p>seen</p><{tag}>hidden</{tag}><p>also seen</p>") == "seen\nalso seen"


def test_nested_hidden_tags_and_a_stray_end_tag() -> None:
    assert html_to_text("<svg><svg>in</svg>still in</svg>out") == "out"
    assert html_to_text("a</svg>b</style>c<p>d</p>") == "abc\nd"
    assert html_to_text("<p>  many   spaces\n\n and\tlines </p><p></p><p> </p>x") == "many spaces\nand lines\nx"
    assert html_to_text("<p>&lt;tag&gt; &amp; &#233;</p>") == "<tag> & é"


# --- what reaches the transport: timeouts, the pinned address, the TLS server name ------------
# (httpx.MockTransport answers in-process: nothing is connected to, whatever the address)


def recording_client(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/plain"}, content=b"mocked")

    return httpx.AsyncClient(transport=httpx.MockTransport(answer), trust_env=False)


@pytest.mark.parametrize(("timeout", "expected"), [(None, 20.0), (3.5, 3.5)])
async def test_the_http_timeout_reaches_every_request(timeout: float | None, expected: float) -> None:
    seen: list[httpx.Request] = []
    extra = {} if timeout is None else {"timeout": timeout}
    async with recording_client(seen) as client:
        guard = pinned("93.184.215.14")
        assert (await fetch_url_tool(client, guard=guard, **extra).run({"url": "http://a.test/"})).endswith("mocked")
        assert await fetch_body(client, "http://b.test/", max_bytes=100, guard=guard, **extra) == (
            "http://b.test/", "text/plain", b"mocked")
    assert [r.extensions["timeout"] for r in seen] == [dict.fromkeys(("connect", "read", "write", "pool"), expected)] * 2


@pytest.mark.parametrize(("url", "target", "sni"), [
    ("https://named.test/p", "https://93.184.215.14/p", "named.test"),
    ("https://named.test:8443/p", "https://93.184.215.14:8443/p", "named.test"),
    ("http://named.test/p", "http://93.184.215.14/p", None),  # no TLS, no server name
    ("https://93.184.215.14/p", "https://93.184.215.14/p", None),  # an address is no server name
    ("https://[2606:2800::1]/p", "https://93.184.215.14/p", None),
])
async def test_the_request_goes_to_the_checked_address_with_the_name_for_tls(url: str, target: str, sni: str | None) -> None:
    seen: list[httpx.Request] = []
    async with recording_client(seen) as client:
        result = await fetch_url_tool(client, guard=pinned("93.184.215.14")).run({"url": url})
    assert result.startswith(f"URL: {url}\nStatus: 200")
    (request,) = seen
    assert str(request.url) == target
    assert request.extensions.get("sni_hostname") == sni
    assert request.headers["host"] == httpx.URL(url).netloc.decode()


async def test_a_charset_that_cannot_decode_the_body_replaces_what_it_cannot(server: LoopbackServer) -> None:
    server.handler = lambda r: text("é".encode(), "text/plain; charset=us-ascii")
    assert body_of(await fetch(server, "/a")) == "\ufffd\ufffd"  # ascii's replacement, not a guess at UTF-8


async def test_a_stalled_server_is_given_up_after_the_http_timeout(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[30, b"late"], headers={"content-type": "text/plain"})
    async with httpx.AsyncClient(trust_env=False) as client:
        tool = fetch_url_tool(client, guard=pinned("127.0.0.1"), timeout=2.0)  # against a 30 s stall
        with pytest.raises(ToolError, match=r"^could not fetch http://slow\.test:\d+/: (ReadTimeout|ConnectTimeout)"):
            await tool.run({"url": f"http://slow.test:{server.port}/"})


def test_the_tools_schema() -> None:
    tool = fetch_url_tool(httpx.AsyncClient(trust_env=False))
    assert tool.parameters == {"type": "object", "properties": {"url": {"type": "string", "description": "The http(s) URL."}},
                               "required": ["url"]}
