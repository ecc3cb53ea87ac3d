"""The ``fetch_url`` tool: the text of an http(s) URL, and nothing the user did not mean to expose.

- Only public internet addresses are reached (:mod:`llmchat.chat.netguard`): the host is
  resolved, refused when any of its addresses is loopback, private, link-local (the cloud
  metadata service), multicast or reserved, and the request goes to the address that was
  checked (the URL's host stays in the ``Host`` header and the TLS server name), so a second
  DNS answer cannot switch it. Redirects are followed here, hop by hop, each hop checked the
  same way. ``[tools] allow_private_addresses = true`` in the config lifts the check.
- The body is decoded in bounded pieces and cut at `max_bytes` decoded bytes
  (:mod:`llmchat.providers.decoding`), so a compressed bomb cannot fill the memory.
- Through a proxy set in the environment (``HTTPS_PROXY`` ...) the host is still checked
  here, but the proxy resolves it again and connects.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from html.parser import HTMLParser
from typing import Any, TypeVar

import httpx

from llmchat import __version__
from llmchat.chat.netguard import AddressGuard, AddressRefused
from llmchat.chat.tools import Tool, ToolError
from llmchat.providers.decoding import ACCEPT_ENCODING, aiter_decoded

MAX_URL_BYTES = 512 * 1024
MAX_REDIRECTS = 10
MAX_ADDRESSES = 4
"""Addresses of one host tried in turn when a connection fails."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

T = TypeVar("T")

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml",
               "application/javascript", "application/ld+json", "application/rss+xml",
               "application/atom+xml", "application/x-ndjson")


def fetch_url_tool(
    client: httpx.AsyncClient,
    *,
    max_bytes: int = MAX_URL_BYTES,
    timeout: float = 20.0,
    guard: AddressGuard | None = None,
) -> Tool:
    """``fetch_url``: GET an http(s) URL and return its text (HTML reduced to its text).

    Args:
        client: the httpx client to use (tests inject one that talks to a loopback server);
            its own redirect setting is not used, redirects are followed here.
        max_bytes: how much of the decoded body is read; the rest is left unread.
        timeout: the HTTP timeout in seconds (the tool's own timeout is a little longer).
        guard: which addresses may be reached; default: public internet addresses only.
    """
    guard = guard or AddressGuard()

    async def run(arguments: dict[str, Any]) -> str:
        url = arguments.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ToolError("'url' must be a non-empty string")
        return await _follow(
            client, url, guard, timeout, "text/*, application/json;q=0.9, */*;q=0.1",
            lambda response, final: _read(response, final, url, max_bytes),
        )

    return Tool(
        name="fetch_url",
        description=(
            "Fetch an http or https URL with GET and return its text (HTML is reduced to its "
            f"text). At most {max_bytes} bytes are read."
        ),
        parameters={
            "type": "object",
            "properties": {"url": {"type": "string", "description": "The http(s) URL."}},
            "required": ["url"],
        },
        handler=run,
        read_only=True,
        timeout=timeout + 5,
    )


def _parse(text: str, shown: str) -> httpx.URL:
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ToolError(f"invalid URL {shown!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ToolError(f"only http and https URLs can be fetched, not {shown!r}")
    return parsed


async def _follow(
    client: httpx.AsyncClient, url: str, guard: AddressGuard, timeout: float, accept: str,
    read: Callable[[httpx.Response, httpx.URL], Awaitable[T]],
) -> T:
    """GET `url`, following at most :data:`MAX_REDIRECTS` redirects, each hop connected to an
    address `guard` checked (:func:`_open`); ``read(response, final URL)`` reads the answer.

    Raises:
        ToolError: an invalid URL or scheme, a refused address, a network failure, too many
            redirects (one line that names `url`), or what `read` raises.
    """
    current = _parse(url.strip(), url)
    headers = {"User-Agent": f"llmchat/{__version__}", "Accept": accept, "Accept-Encoding": ACCEPT_ENCODING}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            async with _open(client, current, guard, headers, timeout) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    current = _parse(str(current.join(location)), location)
                    continue
                return await read(response, current)
    except AddressRefused as exc:
        raise ToolError(f"refused {url}: {exc}") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from None
    raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times")


def _through_proxy(client: httpx.AsyncClient, url: httpx.URL) -> bool:
    """True when `client` sends `url` through a proxy from the environment (as httpx does
    with ``trust_env``): the connection then goes to the proxy, not to a pinned address."""
    if not client.trust_env:
        return False
    proxies = urllib.request.getproxies()
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(url.host)


@asynccontextmanager
async def _open(
    client: httpx.AsyncClient, url: httpx.URL, guard: AddressGuard, headers: dict[str, str], timeout: float
) -> AsyncIterator[httpx.Response]:
    """GET `url` (no redirects followed), connected to an address `guard` checked: the
    first that accepts a connection, of at most :data:`MAX_ADDRESSES`."""
    targets, sent, extensions = [url], dict(headers), {}
    if not guard.allow_private:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await guard.addresses(host, port)
        if not _through_proxy(client, url):
            targets = [url.copy_with(host=str(a)) for a in addresses[:MAX_ADDRESSES]]
            sent["Host"] = url.netloc.decode("ascii")
            if url.scheme == "https" and not _is_ip(host):
                extensions["sni_hostname"] = host  # and the certificate is checked for it
    for attempt, target in enumerate(targets, 1):
        stack = AsyncExitStack()
        try:
            response = await stack.enter_async_context(client.stream(
                "GET", target, headers=sent, follow_redirects=False, timeout=timeout, extensions=extensions
            ))
        except (httpx.ConnectError, httpx.ConnectTimeout):
            await stack.aclose()
            if attempt == len(targets):
                raise
            continue  # e.g. an IPv6 address first on a machine without IPv6
        async with stack:
            yield response
        return


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _read(response: httpx.Response, url: httpx.URL, asked: str, max_bytes: int) -> str:
    """The tool's text for a response: a header block, then the body's text."""
    if response.status_code >= 400:
        raise ToolError(f"HTTP {response.status_code} {response.reason_phrase} from {asked}")
    content_type = response.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind and not kind.startswith(_TEXT_TYPES) and not kind.endswith(("+json", "+xml")):
        raise ToolError(f"{asked} is not text (Content-Type: {content_type})")
    body = bytearray()
    truncated = False
    async for piece in aiter_decoded(response):  # the cap holds on decoded size
        body += piece
        if len(body) > max_bytes:
            del body[max_bytes:]
            truncated = True
            break
    if not kind and b"\0" in body[:4096]:
        raise ToolError(f"{asked} is not text")
    encoding = response.charset_encoding or "utf-8"
    try:
        text = bytes(body).decode(encoding, errors="replace")
    except LookupError:
        text = bytes(body).decode("utf-8", errors="replace")
    if kind in ("text/html", "application/xhtml+xml"):
        text = html_to_text(text)
    if truncated:
        text += f"\n\n[response truncated: only the first {max_bytes} bytes were read]"
    return f"URL: {url}\nStatus: {response.status_code}\nContent-Type: {content_type or 'unknown'}\n\n{text}"


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                        "section", "article", "header", "footer", "pre", "blockquote", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML page: no scripts or styles, one line per block."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


async def fetch_body(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    guard: AddressGuard | None = None,
    timeout: float = 20.0,
) -> tuple[str, str, bytes]:
    """GET `url` under ``fetch_url``'s rules (public addresses only, each redirect hop
    checked, the body decoded in bounded pieces) and return its bytes whole.

    Used for ``-a URL`` attachments (:mod:`llmchat.chat.attachments`).

    Returns:
        ``(final URL, Content-Type header or "", body bytes)``.

    Raises:
        ToolError: a refused address, an HTTP error status, a network failure, too many
            redirects, or a body over `max_bytes` (the message says which, one line).
    """

    async def whole(response: httpx.Response, final: httpx.URL) -> tuple[str, str, bytes]:
        if response.status_code >= 400:
            raise ToolError(f"HTTP {response.status_code} {response.reason_phrase} from {url}")
        body = bytearray()
        async for piece in aiter_decoded(response):
            body += piece
            if len(body) > max_bytes:
                raise ToolError(f"{url} is larger than {max_bytes} bytes")
        return str(final), response.headers.get("content-type", ""), bytes(body)

    return await _follow(client, url, guard or AddressGuard(), timeout, "*/*", whole)
