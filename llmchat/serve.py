"""``llmchat serve``: the full-screen session in a web browser, through textual-serve.

textual-serve runs a web server (aiohttp) whose page holds an xterm.js terminal; every
browser connection (one WebSocket on ``/ws``) starts its own process of the session
command and relays keys and screen updates. That command is this same Python interpreter
running ``python -m llmchat`` with the session options given to ``serve``, so each tab is an
ordinary ``llmchat`` session with the environment (API keys, base URLs) of the server.

Whoever uses the page chats with the server's keys, so the page is not open to whoever can
reach the port (another user of the machine, a web site open in the same browser, a
DNS-rebinding page): every request needs a secret token, printed in the URL at start, and
a request naming an ``Origin`` must name one of a list fixed at start (see
:mod:`llmchat.serve_guard`). The server listens on 127.0.0.1 by default and warns when told
to listen elsewhere.

The page is textual-serve's, from our own template (``serve_page/``): it loads nothing from
another host (the font is the one textual-serve ships) and puts the keyboard focus in the
terminal once the session is connected, so typing works without a click.

textual-serve (and aiohttp) are imported only inside :func:`run_server`: nothing else in
llmchat loads them, and ``llmchat ask`` never does.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from llmchat.serve_guard import (  # is_loopback, loopback_origins: also this module's interface
    TOKEN_ENV,
    Guard,
    allowed_origins,
    check_token,
    is_loopback,
    loopback_origins,
    new_token,
    normalize_origin,
    page_policy,
    url_host,
)
from llmchat.safety import NOTE_WIDTH, note, one_line

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
    return f"http://{url_host(name)}:{port}"


def warning_for(host: str) -> str | None:
    """The warning printed before listening on `host`, or None for a loopback address."""
    if is_loopback(host):
        return None
    return (
        f"{host} is not a loopback address: whoever can reach this port and has the URL "
        "(its token) chats with your API keys, and plain HTTP shows the token to anyone on the "
        "network path. Use it only on a network you trust, or behind HTTPS (--public-url)."
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


class OneLineFormatter(logging.Formatter):
    """Log records of the web server as one line for the terminal: ``llmchat: serve:``, the
    message and the exception's type and text (never a traceback), made safe by
    :func:`llmchat.safety.one_line`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one safe line."""
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f": {type(error).__name__}: {error}"
        return one_line(f"llmchat: serve: {text}", NOTE_WIDTH)


PAGE_TEMPLATES = Path(__file__).parent / "serve_page"
"""Our copy of textual-serve's page template (no outside font; focus on connect)."""


def page_url(base: str, token: str) -> str:
    """The URL to open: `base` (no trailing slash) with the token in the query.

    >>> page_url("http://127.0.0.1:8000", "abc")
    'http://127.0.0.1:8000/?token=abc'
    """
    return f"{base.rstrip('/')}/?token={token}"


def run_server(
    command: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, url: str | None = None,
    token: str | None = None, title: str = "llmchat",
) -> None:
    """Serve `command` (see :func:`session_command`) on `host`:`port` until Ctrl+C or
    SIGTERM, printing the URL to open (with the token) on stdout.

    `token` is the secret every request must carry (default: a new one, see
    :func:`llmchat.serve_guard.new_token`). `url` is the public URL the page uses to reach
    the server (behind a proxy, say). Without it the page uses :func:`public_url`, or, on a
    wildcard or other non-loopback `host`, the address the browser asked for when that is
    one of the allowed origins (:func:`llmchat.serve_guard.allowed_origins`, fixed now from
    `host`, `port` and `url`; never from a request's ``Host``).

    Raises OSError when the address cannot be bound (e.g. the port is in use, the host is
    unknown).
    """
    check_address(host, port)
    from aiohttp import web
    from textual_serve.server import Server

    token = token or new_token()
    default = url or public_url(host, port)
    guard = Guard(token, allowed_origins(host, port, url), port, secure=default.startswith("https:"))
    middleware = guard.middleware()

    class LlmChatServer(Server):
        """textual-serve's server behind the token and Origin check of `guard`, with our
        page template, page URLs that follow the request when its origin is an allowed one
        and no public URL is fixed, and a one-line start-up banner."""

        async def _make_app(self) -> web.Application:
            # textual-serve builds its aiohttp app here and offers no other hook: add the
            # guard in front of every route (the page, /ws, /download, /static).
            app = await super()._make_app()
            app.middlewares.insert(0, middleware)
            app.on_response_prepare.append(guard.on_response_prepare)
            return app

        def initialize_logging(self) -> None:
            # Not textual-serve's: no access log (it prints each URL's token) and no
            # tracebacks with local variables for a malformed request; one safe line each.
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(OneLineFormatter())
            logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            own = f"{request.scheme}://{request.host}"
            # No await before the page is rendered: setting the URL per request is safe.
            self.public_url = own if url is None and guard.allows_origin(own) else default
            response = await super().handle_index(request)
            response.headers["Content-Security-Policy"] = page_policy(self.public_url)
            return response

        async def on_startup(self, app: web.Application) -> None:
            if middleware not in app.middlewares:  # textual-serve changed: never serve unguarded
                raise RuntimeError("llmchat serve: the access check could not be installed")
            print(f"llmchat: serving on {page_url(default, token)} (open it in a browser; "
                  "Ctrl+C stops)", flush=True)
            others = sorted(guard.origins - {normalize_origin(default)})
            if not is_loopback(host) and others:
                note(f"the page also opens at {', '.join(others)} with the same token; "
                     "other names are refused (add one with --public-url)")

    LlmChatServer(command, host=host, port=port, title=title, public_url=default,
                  templates_path=PAGE_TEMPLATES).serve()


def serve_command(
    params: Mapping[str, Any], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
    url: str | None = None,
) -> None:
    """``llmchat serve``: check the session options (`params`, parameter name -> value as
    :func:`session_args` reads them) the way the session would, read a fixed token from
    ``$LLMCHAT_SERVE_TOKEN`` (removed from the environment, so sessions do not inherit it),
    warn about a non-loopback `host`, then serve until stopped. Exits 2 on a configuration
    problem, a bad token or an address that cannot be used."""
    from llmchat.cli_shared import Choice, fail, given_options

    Choice(params.get("provider"), params.get("model"), params.get("system"), params.get("theme"),
           given_options(**{name: params.get(name) for name in (
               "temperature", "top_p", "max_tokens", "stop", "seed", "reasoning_effort",
               "thinking_budget")})).settings()  # exits 2 with the config problem
    token = os.environ.pop(TOKEN_ENV, None)
    if token is not None:
        try:
            check_token(token)
        except ValueError as exc:
            raise fail(str(exc)) from None
    warning = warning_for(host)
    if warning:
        note(f"warning: {warning}")
    try:
        run_server(session_command(session_args(params)), host=host, port=port, url=url, token=token)
    except OSError as exc:
        raise fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
