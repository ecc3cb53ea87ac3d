"""``llmchat serve``: the full-screen session in a web browser, through textual-serve.

textual-serve runs a web server (aiohttp) whose page holds an xterm.js terminal; every
browser connection (one WebSocket on ``/ws``) starts its own process of the session
command and relays keys and screen updates. That command is this same Python interpreter
running ``python -m llmchat`` with the session options given to ``serve``, so each tab is an
ordinary ``llmchat`` session with the environment (API keys, base URLs) of the server.

There is no login: whoever can open the page chats with the server's keys. So the server
listens on 127.0.0.1 by default, warns when told to listen elsewhere, and refuses WebSocket
connections whose ``Origin`` is not the server's own page, so that another web site open in
the same browser cannot drive a session (cross-site WebSocket hijacking). On a loopback
address the allowed origins are fixed (localhost, 127.0.0.1, [::1] on the port, or
``--public-url``), which also defeats DNS rebinding; on another address without
``--public-url`` the origin must match the ``Host`` the request was sent to.

textual-serve (and aiohttp) are imported only inside :func:`run_server`: nothing else in
llmchat loads them, and ``llmchat ask`` never does.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

SESSION_VALUE_OPTIONS: tuple[tuple[str, str], ...] = (
    ("provider", "--provider"),
    ("model", "--model"),
    ("system", "--system"),
    ("theme", "--theme"),
    ("temperature", "--temperature"),
    ("top_p", "--top-p"),
    ("max_tokens", "--max-tokens"),
    ("seed", "--seed"),
    ("reasoning_effort", "--reasoning-effort"),
    ("thinking_budget", "--thinking-budget"),
    ("conversation", "--conversation"),
)
"""Session options that take one value: parameter name (as in
:func:`llmchat.cli_app.session`) and the option spelled out on the session command line."""
SESSION_LIST_OPTIONS: tuple[tuple[str, str], ...] = (("stop", "--stop"),)
"""Session options given once per value."""
SESSION_FLAGS: tuple[tuple[str, str], ...] = (
    ("debug", "--debug"),
    ("continue_latest", "--continue"),
    ("all_tools", "--tools"),
)
"""Boolean session options."""
SESSION_PARAMS = frozenset(
    name for name, _ in SESSION_VALUE_OPTIONS + SESSION_LIST_OPTIONS + SESSION_FLAGS
)
"""Every parameter name :func:`session_args` reads."""


def session_args(params: Mapping[str, Any]) -> list[str]:
    """The ``llmchat`` session options for `params` (parameter name -> value, as Typer
    passes them; None, False and [] mean "not given"), in a fixed order, values as given.

    >>> session_args({"model": "gpt-4o", "stop": ["END", "--"], "all_tools": True, "seed": None})
    ['--model', 'gpt-4o', '--stop', 'END', '--stop', '--', '--tools']
    """
    args: list[str] = []
    for name, option in SESSION_VALUE_OPTIONS:
        value = params.get(name)
        if value is not None:
            args += [option, str(value)]
    for name, option in SESSION_LIST_OPTIONS:
        for value in params.get(name) or ():
            args += [option, str(value)]
    for name, option in SESSION_FLAGS:
        if params.get(name):
            args.append(option)
    return args


def merge_params(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """The session parameters of several layers (e.g. the options given before ``serve``,
    then those given after it, as Typer or click hold them): a later layer's given value wins.
    Not given: None, False, an empty list or tuple (0 and 0.0 are given values)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for name in SESSION_PARAMS:
            value = layer.get(name)
            if value is None or value is False or (isinstance(value, (list, tuple)) and not value):
                continue
            merged[name] = value
    return merged


def session_command(args: Iterable[str], python: str | None = None) -> str:
    """The shell command line textual-serve runs per connection: `python` (default: this
    interpreter) ``-m llmchat`` and `args`, each word quoted for a POSIX shell with
    :func:`shlex.quote` (textual-serve starts it with ``asyncio.create_subprocess_shell``).
    """
    return shlex.join([python or sys.executable, "-m", "llmchat", *args])


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


def public_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens for `host` and `port`: IPv6 addresses are
    bracketed, and a wildcard address (0.0.0.0, ::) becomes 127.0.0.1 / [::1].

    >>> public_url("::1", 8000), public_url("0.0.0.0", 80)
    ('http://[::1]:8000', 'http://127.0.0.1:80')
    """
    name = host.strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


def origin_of(url: str) -> str:
    """The origin (``scheme://host:port``, lower case) of `url`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def loopback_origins(port: int) -> frozenset[str]:
    """The origins of the page opened on this machine through ``localhost``,
    ``127.0.0.1`` or ``[::1]`` on `port`."""
    return frozenset(f"http://{name}:{port}" for name in ("localhost", "127.0.0.1", "[::1]"))


def warning_for(host: str) -> str | None:
    """The warning printed before listening on `host`, or None for a loopback address."""
    if is_loopback(host):
        return None
    return (
        f"{host} is not a loopback address: anyone who can reach this port gets a chat "
        "session with your API keys (there is no login). Use it only on a network you trust."
    )


def check_address(host: str, port: int) -> None:
    """Bind and release `host`:`port` the way the web server will (address reuse on), so a
    port in use or an unknown host fails before anything is printed. Raises OSError."""
    import socket

    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    for family, type_, proto, _, address in infos:
        with socket.socket(family, type_, proto) as probe:
            if os.name == "posix":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)


def run_server(
    command: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, url: str | None = None,
    title: str = "llmchat",
) -> None:
    """Serve `command` (see :func:`session_command`) on `host`:`port` until Ctrl+C or
    SIGTERM, printing the URL to open on stdout.

    `url` is the public URL the page uses to reach the server (behind a proxy, say). Without
    it, a loopback `host` uses :func:`public_url`, and any other host uses the address the
    browser asked for (the request's ``Host``), so the page works from other machines too.

    A WebSocket connection is refused (HTTP 403) when its ``Origin`` is not the server's
    page: the origin of `url`; for a loopback `host` the page through localhost, 127.0.0.1
    or [::1]; otherwise the ``Host`` the request was sent to.

    Raises OSError when the address cannot be bound (e.g. the port is in use, the host is
    unknown).
    """
    check_address(host, port)
    from aiohttp import web
    from textual_serve.server import Server

    fixed = url or (public_url(host, port) if is_loopback(host) else None)
    origins = frozenset({origin_of(fixed)}) if fixed else frozenset()
    if is_loopback(host):
        origins |= loopback_origins(port)

    class LlmChatServer(Server):
        """textual-serve's server with an Origin check, page URLs that follow the request
        when no public URL is fixed, and a one-line start-up banner."""

        def _own_origin(self, request: web.Request) -> str:
            return f"{request.scheme}://{request.host}".lower()

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            if fixed is None:  # no await before the page is rendered: safe per request
                self.public_url = self._own_origin(request)
            return await super().handle_index(request)

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            origin = request.headers.get("Origin")
            allowed = origins if fixed else {self._own_origin(request)}
            if origin is not None and origin.lower() not in allowed:
                print(f"llmchat: refused a connection from origin {origin!r}", file=sys.stderr, flush=True)
                raise web.HTTPForbidden(text="llmchat serve: cross-origin connection refused\n")
            return await super().handle_websocket(request)

        async def on_startup(self, app: web.Application) -> None:
            shown = fixed or public_url(host, port)
            print(f"llmchat: serving on {shown} (open it in a browser; Ctrl+C stops)", flush=True)

    LlmChatServer(command, host=host, port=port, title=title, public_url=fixed or public_url(host, port)).serve()


def serve_command(
    params: Mapping[str, Any], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
    url: str | None = None,
) -> None:
    """``llmchat serve``: check the session options (`params`, parameter name -> value as
    :func:`session_args` reads them) the way the session would, warn about a non-loopback
    `host`, then serve until stopped. Exits 2 on a configuration problem or an address that
    cannot be used."""
    from llmchat.cli import Choice, _fail, _options

    Choice(params.get("provider"), params.get("model"), params.get("system"), params.get("theme"),
           _options(**{name: params.get(name) for name in (
               "temperature", "top_p", "max_tokens", "stop", "seed", "reasoning_effort",
               "thinking_budget")})).settings()  # exits 2 with the config problem
    warning = warning_for(host)
    if warning:
        print(f"llmchat: warning: {warning}", file=sys.stderr, flush=True)
    try:
        run_server(session_command(session_args(params)), host=host, port=port, url=url)
    except OSError as exc:
        raise _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
