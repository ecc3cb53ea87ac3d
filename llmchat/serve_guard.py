"""Who may use ``llmchat serve``: a secret token (as Jupyter does) and a fixed list of origins.

Every request must carry the server's token: in the URL (``?token=...``, as printed at
start) or in the cookie the server sets when a page is opened with the right token
(``HttpOnly; SameSite=Strict``, so reloads and the page's WebSocket work without the token
in the address bar). Tokens are compared in constant time (:func:`hmac.compare_digest`).
A request without the right token gets HTTP 403 and a one-line message, and no session is
started.

A request that names an ``Origin`` (every WebSocket handshake from a browser does) must name
one of a list fixed at start from ``--host``, ``--port`` and ``--public-url`` (see
:func:`allowed_origins`), never from the request's own ``Host`` header, which a
DNS-rebinding page controls. A WebSocket handshake without ``Origin`` (not a browser, or a
browser's page that hides it) is refused too. The Origin check follows RFC 6454 (origins)
and RFC 6455 section 10.2 (servers check ``Origin`` to refuse cross-site WebSockets). The
``Host`` header itself must name the server as one of those origins does (as Jupyter checks
it): a page whose name was rebound to this machine sends its own name there.

aiohttp is imported only inside :meth:`Guard.middleware`: importing this module loads
nothing of the web server.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from llmchat.safety import note, one_line

TOKEN_ENV = "LLMCHAT_SERVE_TOKEN"
"""The environment variable that fixes the token (for scripts); by default each start makes
a new one."""
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
"""A token a user may fix: 16 to 256 URL-safe characters (RFC 3986 "unreserved"), so it
goes into a URL and a cookie as it is."""
HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
"""A ``Host`` header we read at all: a name or IPv4 address, or a bracketed IPv6 address,
with an optional port (RFC 9110 section 7.2; no user info, path or zone)."""
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
REFUSED_TOKEN = (
    "llmchat serve: this page needs the token printed when the server started "
    "(open the URL with ?token=... that `llmchat serve` printed)\n"
)
REFUSED_ORIGIN = "llmchat serve: refused: the page's origin or host name is not this server's\n"


def new_token() -> str:
    """A fresh unguessable token: 32 random bytes from :mod:`secrets`, URL-safe base64
    (43 characters)."""
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """`token` if a user may fix it (see :data:`TOKEN_PATTERN`); raises ValueError with a
    one-line reason otherwise (too short, too long, or a character a URL would quote)."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError(
            f"{TOKEN_ENV} must be 16 to 256 characters from A-Z a-z 0-9 . _ ~ - "
            f"(got {len(token)} characters{'' if token.isascii() else ', not all ASCII'})"
        )
    return token


def token_matches(given: str | None, token: str) -> bool:
    """True when `given` is `token`, compared in constant time on their UTF-8 bytes (so a
    hostile non-ASCII value is simply wrong, never an error)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def cookie_name(port: int) -> str:
    """The cookie that carries the token for the server on `port`. Cookies are shared by
    every port of a host, so the port is part of the name: two servers do not overwrite
    each other's cookie."""
    return f"llmchat-serve-{port}"


def normalize_origin(text: str) -> str | None:
    """`text` (an ``Origin`` header or a URL) as ``scheme://host:port``, lower case, with
    the scheme's default port spelled out and IPv6 addresses in brackets; None when it is
    not an http(s) or ws(s) origin (e.g. ``null``, ``file://``, garbage).

    >>> normalize_origin("HTTP://LocalHost"), normalize_origin("http://[::1]:8000/path")
    ('http://localhost:80', 'http://[::1]:8000')
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine: ``localhost`` or a
    loopback address (127.0.0.0/8, ::1). Any other name or address (0.0.0.0, a LAN
    address, a host name) is reachable from the network, as far as we can tell."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """True for the addresses that listen on every interface: ``0.0.0.0``, ``::`` (or "")."""
    return host.strip("[]") in ("", "0.0.0.0", "::")


def url_host(name: str) -> str:
    """`name` as the host part of a URL: IPv6 addresses in brackets."""
    name = name.strip("[]")
    return f"[{name}]" if ":" in name else name


def loopback_origins(port: int) -> frozenset[str]:
    """The origins of the page opened on this machine through ``localhost``,
    ``127.0.0.1`` or ``[::1]`` on `port` (as :func:`normalize_origin` spells them)."""
    return frozenset(f"http://{name}:{port}" for name in ("localhost", "127.0.0.1", "[::1]"))


def machine_names() -> set[str]:
    """Names and addresses other machines may use to reach this one: the host name, its
    fully qualified name, their addresses, and the address of the interface that routes
    outwards (found by "connecting" a UDP socket, which sends nothing). Link-local IPv6
    addresses (which need a zone) are left out. Best effort: lookups that fail are skipped."""
    names: set[str] = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        if not name:
            continue
        names.add(name.lower())
        try:
            for *_, address in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
                names.add(str(address[0]))
        except OSError:
            pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                names.add(str(udp.getsockname()[0]))
        except OSError:
            pass
    return {name for name in names if "%" not in name}


def allowed_origins(
    host: str, port: int, public_url: str | None, names: Iterable[str] | None = None,
) -> frozenset[str]:
    """The origins whose pages may use the server, fixed at start (never taken from a
    request): the origin of `public_url` when given; the loopback origins on `port` when
    `host` is loopback or a wildcard; `host` itself on `port` when it is a name or a
    specific address; for a wildcard `host`, each of `names` (default:
    :func:`machine_names`) on `port`. All spelled as :func:`normalize_origin` does."""
    origins: set[str] = set()
    if public_url:
        origin = normalize_origin(public_url)
        if origin:
            origins.add(origin)
    if is_loopback(host) or is_wildcard(host):
        origins |= loopback_origins(port)
    hosts: Iterable[str] = ()
    if is_wildcard(host):
        hosts = machine_names() if names is None else names
    elif not is_loopback(host):
        hosts = (host,)
    for name in hosts:
        origin = normalize_origin(f"http://{url_host(name)}:{port}")
        if origin:
            origins.add(origin)
    return frozenset(origins)


def header_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` (RFC 6750) or ``Authorization: token
    TOKEN`` (Jupyter's form) header, for scripts that keep the token out of URLs; None for
    any other header or none.

    >>> header_token("Bearer abc"), header_token("token abc"), header_token("Basic abc")
    ('abc', 'abc', None)
    """
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not credentials.strip():
        return None
    return credentials.strip()


def _shown(value: str) -> str:
    """`value` quoted for a log line, made safe and cut short by :func:`llmchat.safety.one_line`."""
    return f"'{one_line(value, 120)}'"


def page_policy(public_url: str) -> str:
    """The Content-Security-Policy of the page served for `public_url`: scripts, styles,
    fonts and images only from the page's own origin (the page's inline script and style,
    and the styles xterm.js adds, are allowed inline), connections only to it (its WebSocket
    included, ``ws:`` / ``wss:``), no frames, forms, plugins or base URL. So even a script
    of the page cannot load or send anything to another host (CSP Level 3)."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    own = f"'self' {origin}"
    return "; ".join((
        "default-src 'none'", f"script-src {own} 'unsafe-inline'", f"style-src {own} 'unsafe-inline'",
        f"font-src {own}", f"img-src {own} data:", f"connect-src {own} {ws}",
        "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
    ))


class Guard:
    """The access check of one server: its `token`, the `origins` allowed (normalized, see
    :func:`allowed_origins`) and the cookie name for its `port`; `secure` marks the cookie
    for HTTPS only (when the public URL is https). `log` receives one message per refused
    request (default: :func:`llmchat.safety.note`, one safe ``llmchat:`` line on stderr)."""

    def __init__(
        self, token: str, origins: Iterable[str], port: int, *, secure: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.token = token
        self.origins = frozenset(origins)
        self.cookie = cookie_name(port)
        self.secure = secure
        self.log = log or note

    def refusal(self, query_token: str | None, cookie_token: str | None, origin: str | None,
                websocket: bool, *, host: str | None) -> str | None:
        """Why a request is refused (a log line), or None when it may go on. The token comes
        from the URL's ``token`` (or an ``Authorization`` header, see :func:`header_token`)
        or else the cookie; `host` is the ``Host`` header, which must name this server as one
        of the allowed origins does (a DNS-rebinding page sends its own name); `origin` is the
        ``Origin`` header (None when absent), required for a WebSocket handshake."""
        given = query_token if query_token is not None else cookie_token
        if not token_matches(given, self.token):
            return "no token" if given is None else "a wrong token"
        if host is None or not self.allows_host(host):
            return f"Host {_shown(host or '')}"
        if origin is None:
            return "a WebSocket without Origin" if websocket else None
        if normalize_origin(origin) not in self.origins:
            return f"origin {_shown(origin)}"
        return None

    def allows_origin(self, url: str) -> bool:
        """True when the origin of `url` is one of the allowed ones."""
        return normalize_origin(url) in self.origins

    def allows_host(self, host: str) -> bool:
        """True when `host` (a ``Host`` header: name or address, maybe a port) names the
        server as an allowed origin does, over http or https."""
        if not HOST_PATTERN.fullmatch(host):
            return False
        return any(normalize_origin(f"{scheme}://{host}") in self.origins for scheme in ("http", "https"))

    def middleware(self) -> Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
        """An aiohttp middleware that refuses (403, plain text, nothing else run) every
        request :meth:`refusal` refuses, and sets the token cookie (``HttpOnly;
        SameSite=Strict``, path ``/``, for this browser session) on the answer to a request
        that brought the right token in its URL. :meth:`on_response_prepare` adds the
        headers of :meth:`headers` to every answer."""
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
            route = request.match_info.route.name
            websocket = route == "websocket" or "websocket" in request.headers.get("Upgrade", "").lower()
            query_token = request.query.get("token")
            given = query_token if query_token is not None else header_token(
                request.headers.get("Authorization"))
            reason = self.refusal(given, request.cookies.get(self.cookie),
                                  request.headers.get("Origin"), websocket,
                                  host=request.headers.get("Host"))
            if reason is not None:
                self.log(f"refused {request.method} {_shown(request.path)}: {reason}")
                text = REFUSED_ORIGIN if reason.startswith(("origin", "a WebSocket", "Host")) else REFUSED_TOKEN
                return web.Response(status=403, text=text, headers=self.headers())
            response = await handler(request)
            if query_token is not None and not websocket and not response.prepared:
                response.set_cookie(self.cookie, self.token, path="/", httponly=True,
                                    samesite="Strict", secure=self.secure or None)
            return response

        return guard

    def headers(self) -> dict[str, str]:
        """Headers every answer carries: no Referer (the URL may hold the token), no
        framing by other pages, no caching of pages that need the token."""
        return {
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "frame-ancestors 'none'",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }

    async def on_response_prepare(self, request: Any, response: Any) -> None:
        """aiohttp ``on_response_prepare`` hook: add :meth:`headers` to every answer."""
        for name, value in self.headers().items():
            response.headers.setdefault(name, value)
