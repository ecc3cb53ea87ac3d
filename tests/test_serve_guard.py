"""``llmchat serve`` is not a door for other local users: the token (page, WebSocket, cookie),
the fixed Origin list (no Origin, a foreign one, one taken from a forged Host), the page
loading nothing from another host, and hostile request bytes kept off the terminal.

The server tests run the real ``llmchat serve`` on 127.0.0.1 and speak raw HTTP to it (see
tests/serve_support.py), so every header is exactly what an attacker would send."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llmchat.serve_guard import (
    Guard,
    allowed_origins,
    check_token,
    cookie_name,
    new_token,
    normalize_origin,
    token_matches,
)
from tests.loopback import LoopbackServer
from tests.serve_support import free_port, get, serving, websocket

# -- without a server ----------------------------------------------------------------------


def test_tokens_are_fresh_long_and_compared_exactly() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43 and check_token(first) == first
    assert token_matches(first, first)
    for wrong in (None, "", first[:-1], first + "x", first.upper(), "é" * 43, "\udcff"):
        assert not token_matches(wrong, first), wrong


@pytest.mark.parametrize("bad", ["", "short", "a" * 15, "a" * 257, "has space in it 123", "ünïcödé-token-1234",
                                 "semi;colon;token;1234", "new\nline-token-1234"])
def test_a_fixed_token_must_be_long_and_url_safe(bad: str) -> None:
    with pytest.raises(ValueError, match="LLMCHAT_SERVE_TOKEN must be 16 to 256 characters"):
        check_token(bad)


def test_origins_are_fixed_at_start_from_host_port_and_public_url() -> None:
    assert normalize_origin("HTTP://LocalHost") == "http://localhost:80"
    assert normalize_origin("https://a.example:443/x?y") == "https://a.example:443"
    for bad in ("null", "", "file:///etc", "http://", "http://[::1", "javascript:alert(1)", "http://a:99999"):
        assert normalize_origin(bad) is None, bad

    loopback = allowed_origins("127.0.0.1", 8000, None)
    assert loopback == {"http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"}
    behind_proxy = allowed_origins("127.0.0.1", 8000, "https://chat.example/llmchat")
    assert "https://chat.example:443" in behind_proxy
    lan = allowed_origins("192.168.1.5", 8000, None)
    assert lan == {"http://192.168.1.5:8000"}
    everywhere = allowed_origins("0.0.0.0", 8000, None, names=["myhost", "10.1.2.3", "fe80::1"])
    assert {"http://myhost:8000", "http://10.1.2.3:8000", "http://[fe80::1]:8000",
            "http://127.0.0.1:8000"} <= everywhere
    assert not any("evil" in origin for origin in everywhere)


def test_guard_refuses_without_token_without_origin_and_from_other_origins() -> None:
    token = new_token()
    guard = Guard(token, allowed_origins("127.0.0.1", 8000, None), 8000, log=lambda line: None)
    ok_origin = "http://127.0.0.1:8000"
    own_host = "127.0.0.1:8000"
    assert guard.refusal(None, None, ok_origin, websocket=True, host=own_host) == "no token"
    assert guard.refusal("nope", None, ok_origin, websocket=True, host=own_host) == "a wrong token"
    assert guard.refusal(None, "nope", ok_origin, websocket=False, host=own_host) == "a wrong token"
    assert guard.refusal("nope", token, ok_origin, websocket=False, host=own_host) == "a wrong token"  # the URL wins
    assert guard.refusal(None, token, None, websocket=True, host=own_host) == "a WebSocket without Origin"
    assert guard.refusal(None, token, "http://evil.example", websocket=True, host=own_host) == "origin 'http://evil.example'"
    assert guard.refusal(token, None, "null", websocket=False, host=own_host) == "origin 'null'"
    assert guard.refusal(None, token, ok_origin, websocket=True, host=own_host) is None
    assert guard.refusal(token, None, None, websocket=False, host=own_host) is None  # a page opened from the terminal
    assert cookie_name(8000) != cookie_name(8001)
    for host in (None, "", "evil.example", "evil.example:8000", "127.0.0.1:8001", "x@127.0.0.1:8000",
                 "127.0.0.1:8000/x", "[::1%eth0]:8000"):
        assert guard.refusal(token, None, None, websocket=False, host=host) == f"Host '{host or ''}'"
    for host in ("127.0.0.1:8000", "LOCALHOST:8000", "[::1]:8000"):
        assert guard.refusal(token, None, None, websocket=False, host=host) is None


def test_a_bad_fixed_token_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmchat", "serve", "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "LLMCHAT_SERVE_TOKEN": "abc"},
    )
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and "LLMCHAT_SERVE_TOKEN must be 16 to 256" in result.stderr
    assert "serving on" not in result.stdout


# -- against the real server ---------------------------------------------------------------


@pytest.mark.timeout(180)
def test_no_token_no_page_no_session(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        origin = served.url
        for path in ("/", "/?fontsize=20", "/static/js/textual.js", "/download/x"):
            answer = get(served.port, path)
            assert answer.status == 403, (path, answer)
            assert answer.headers.get_content_type() == "text/plain"
            assert answer.body.count("\n") == 1 and "token" in answer.body
            assert "Set-Cookie" not in answer.headers
        assert websocket(served.port, Origin=origin).status == 403
        assert websocket(served.port, "/ws?token=", Origin=origin).status == 403
        assert websocket(served.port, "/ws?width=80&height=24", Origin=origin,
                         Cookie=f"{cookie_name(served.port + 1)}={served.token}").status == 403
    log = served.log.read_text()
    assert "refused GET '/ws': no token" in log
    assert "llmchat: serve: " not in log  # nothing went wrong inside the server


@pytest.mark.timeout(180)
def test_wrong_tokens_are_refused(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        origin = served.url
        wrong = [served.token[:-1], served.token + "A", served.token.swapcase(), "%C3%A9" * 10, "%00", "%FF%FE"]
        for token in wrong:
            assert get(served.port, f"/?token={token}").status == 403, token
            assert websocket(served.port, f"/ws?token={token}", Origin=origin).status == 403, token
        cookie = cookie_name(served.port)
        assert get(served.port, "/", {"Cookie": f"{cookie}={served.token[:-1]}"}).status == 403
        assert websocket(served.port, Origin=origin, Cookie=f"{cookie}=x{served.token}").status == 403
        # A wrong token in the URL is not rescued by a right cookie.
        assert get(served.port, "/?token=nope", {"Cookie": f"{cookie}={served.token}"}).status == 403
    log = served.log.read_text()
    assert "a wrong token" in log and "Traceback" not in log and "llmchat: serve: " not in log


@pytest.mark.timeout(180)
def test_token_in_the_url_sets_a_strict_cookie_that_opens_the_websocket(
        tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        page = get(served.port, f"/?token={served.token}")
        assert page.status == 200
        cookie = page.headers["Set-Cookie"]
        name = cookie_name(served.port)
        assert cookie.startswith(f"{name}={served.token};")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path=/", "samesite=strict"} <= attributes
        assert not any(a.startswith(("expires", "max-age")) for a in attributes)  # this browser session only
        assert page.headers["Referrer-Policy"] == "no-referrer"

        jar = f"{name}={served.token}"
        assert get(served.port, "/", {"Cookie": jar}).status == 200  # a reload
        assert get(served.port, "/static/js/textual.js", {"Cookie": jar}).status == 200
        assert websocket(served.port, Origin=served.url, Cookie=jar).status == 101
        assert websocket(served.port, f"/ws?token={served.token}", Origin=served.url).status == 101
        assert asyncio.run(first_screen_bytes(served.port, jar, served.url)) > 0


@pytest.mark.timeout(180)
def test_websocket_needs_a_listed_origin(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        jar = f"{cookie_name(served.port)}={served.token}"
        port = served.port
        assert websocket(port, Cookie=jar).status == 403  # no Origin: not a browser's page
        for origin in ("null", "http://evil.example:8000", f"http://localhost:{port}.evil.example",
                       f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", "file://",
                       "http://127.0.0.1\u202e", ""):
            assert websocket(port, Cookie=jar, Origin=origin.encode().decode("latin-1")).status == 403, origin
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"HTTP://[::1]:{port}"):
            assert websocket(port, Cookie=jar, Origin=origin).status == 101, origin
        # A page request from another origin (a fetch by another site) is refused too.
        assert get(port, "/", {"Cookie": jar, "Origin": "http://evil.example"}).status == 403
    log = served.log.read_text()
    assert "refused GET '/ws': a WebSocket without Origin" in log
    assert "refused GET '/ws': origin 'http://evil.example:8000'" in log
    assert "\u202e" not in log and "<U+202E>" in log


@pytest.mark.timeout(180)
def test_host_header_is_not_trusted_on_every_interface(tmp_path: Path, server: LoopbackServer) -> None:
    # --host 0.0.0.0 without --public-url, where the allowed origin used to be the request's
    # own Host: a DNS-rebinding page (evil.example resolved to this machine) sends both.
    # Only 127.0.0.1 is connected to.
    with serving(tmp_path, server, "--host", "0.0.0.0") as served:
        port = served.port
        jar = f"{cookie_name(port)}={served.token}"
        for host in ("evil.example", f"evil.example:{port}"):
            assert websocket(port, Cookie=jar, Host=host, Origin=f"http://{host}").status == 403, host
            assert websocket(port, Cookie=jar, Host=host, Origin=f"http://127.0.0.1:{port}").status == 403
            assert get(port, "/", {"Cookie": jar, "Host": host}).status == 403
        assert get(port, "/", {"Host": "evil.example"}).status == 403  # and no token: no page
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            page = get(port, "/", {"Cookie": jar, "Host": host})
            assert page.status == 200 and f"ws://{host}/ws" in page.body
        assert websocket(port, Cookie=jar, Origin=f"http://127.0.0.1:{port}").status == 101
    log = served.log.read_text()
    assert "warning: 0.0.0.0 is not a loopback address" in log
    assert "the page also opens at" in log and f"http://localhost:{port}" in log
    assert "refused GET '/ws': Host 'evil.example'" in log


@pytest.mark.timeout(180)
def test_a_rebound_host_name_is_refused_on_loopback_too(tmp_path: Path, server: LoopbackServer) -> None:
    import socket

    with serving(tmp_path, server) as served:
        port, jar = served.port, f"{cookie_name(served.port)}={served.token}"
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port}@evil.example", ""):
            assert get(port, f"/?token={served.token}", {"Host": host}).status == 403, host
            assert websocket(port, Cookie=jar, Host=host, Origin=f"http://127.0.0.1:{port}").status == 403
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # HTTP/1.0: no Host
            sock.sendall(f"GET /?token={served.token} HTTP/1.0\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.0 403")


@pytest.mark.timeout(180)
def test_page_loads_nothing_from_another_host(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        page = get(served.port, f"/?token={served.token}").body
        urls = re.findall(r"""(?:[a-z][a-z0-9+.-]*:)?//[^\s"'()<>]+""", page, re.IGNORECASE)
        assert urls, "the page should name its own resources"
        own = (f"http://127.0.0.1:{served.port}/", f"ws://127.0.0.1:{served.port}/")
        assert [u for u in urls if not u.startswith(own)] == []
        assert "@import" not in page and "googleapis" not in page
        fonts = re.findall(r"/static/(fonts/[^\")]+)", page)
        assert fonts, "the terminal's font comes from this server"
        jar = f"{cookie_name(served.port)}={served.token}"
        for font in fonts:
            answer = get(served.port, f"/static/{font}", {"Cookie": jar})
            assert answer.status == 200 and len(answer.body) > 10_000, font


@pytest.mark.timeout(180)
def test_fixed_token_from_the_environment(tmp_path: Path, server: LoopbackServer) -> None:
    token = "fixed-token-for-scripts-0123456789"
    with serving(tmp_path, server, LLMCHAT_SERVE_TOKEN=token) as served:
        assert served.token == token
        assert get(served.port, f"/?token={token}").status == 200
        assert get(served.port, "/?token=fixed-token-for-scripts").status == 403


@pytest.mark.timeout(180)
def test_scripts_may_send_the_token_in_an_authorization_header(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        port, token, jar = served.port, served.token, f"{cookie_name(served.port)}={served.token}"
        assert get(port, "/", {"Authorization": f"Bearer {token}"}).status == 200
        assert get(port, "/", {"Authorization": f"token {token}"}).status == 200
        assert "Set-Cookie" not in get(port, "/", {"Authorization": f"Bearer {token}"}).headers
        assert websocket(port, Authorization=f"Bearer {token}", Origin=served.url).status == 101
        assert get(port, "/", {"Authorization": f"Bearer {token}x"}).status == 403
        assert get(port, "/", {"Authorization": f"Bearer {token}x", "Cookie": jar}).status == 403
        assert get(port, "/", {"Authorization": f"Basic {token}"}).status == 403
        assert websocket(port, Authorization=f"Bearer {token}").status == 403  # still no Origin


@pytest.mark.timeout(180)
def test_the_websocket_route_needs_an_origin_even_without_upgrade(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        jar = f"{cookie_name(served.port)}={served.token}"
        assert get(served.port, "/ws?width=80&height=24", {"Cookie": jar}).status == 403
        assert websocket(served.port, Cookie=jar, Upgrade="WebSocket").status == 403


@pytest.mark.timeout(180)
def test_the_page_may_reach_only_its_own_server(tmp_path: Path, server: LoopbackServer) -> None:
    with serving(tmp_path, server) as served:
        policy = get(served.port, f"/?token={served.token}").headers["Content-Security-Policy"]
        directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
        assert directives["default-src"] == ["'none'"]
        own = {"'self'", served.url, f"ws://127.0.0.1:{served.port}"}
        for name in ("script-src", "style-src", "font-src", "img-src", "connect-src"):
            assert set(directives[name]) - {"'unsafe-inline'", "data:"} <= own, (name, directives[name])
        assert directives["frame-ancestors"] == ["'none'"]


def test_the_fixed_token_is_not_inherited_by_the_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from llmchat import serve
    from llmchat.cli_app import app

    seen: list[tuple[object, object]] = []
    monkeypatch.setattr(serve, "run_server", lambda command, **kw: seen.append(
        (kw["token"], os.environ.get("LLMCHAT_SERVE_TOKEN"))))
    monkeypatch.setenv("LLMCHAT_SERVE_TOKEN", "fixed-token-for-scripts-0123456789")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert seen == [("fixed-token-for-scripts-0123456789", None)]


@pytest.mark.timeout(180)
def test_hostile_request_bytes_never_reach_the_terminal_raw(tmp_path: Path, server: LoopbackServer) -> None:
    import socket

    with serving(tmp_path, server) as served:
        for raw in (b"GET /\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: \x1b[2J\x9b\r\n\r\n",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64):
            with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
                sock.sendall(raw)
                answer = sock.recv(4096)  # a 400 or 403, or aiohttp just closes
                assert answer == b"" or answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), answer
        assert get(served.port, "/%E2%80%AE%1B").status == 403
    log = served.log.read_bytes()
    assert b"\x1b" not in log and b"\x07" not in log and b"\xc2\x9b" not in log
    assert "\u202e".encode() not in log and b"Traceback" not in log
    assert "refused GET '/<U+202E>␛': no token".encode() in log


async def first_screen_bytes(port: int, cookie: str, origin: str) -> int:
    """Open the WebSocket as the page does (cookie and Origin) and return the size of the
    first binary message (the session's first screen bytes)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws?width=80&height=24",
                                      headers={"Cookie": cookie, "Origin": origin}) as ws:
            while True:
                message = await asyncio.wait_for(ws.receive(), 30)
                if message.type == aiohttp.WSMsgType.BINARY:
                    return len(message.data)
                assert message.type == aiohttp.WSMsgType.TEXT, message
