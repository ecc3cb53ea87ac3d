"""``llmchat serve`` end to end: the real server as a subprocess, the session it starts per
browser connection, the loopback provider, and headless Chromium driven by Playwright.

textual-serve's page draws the terminal with xterm.js on a canvas, so the text is not in the
DOM. An init script catches the page's terminal client object when its constructor assigns
``websocket_url`` (a setter on Object.prototype), and the test reads the screen through
xterm.js's public buffer API (``terminal.buffer.active.getLine(y).translateToString()``).

The browser test skips only when Chromium is not installed (``.ci/run`` installs it);
everything else fails. The screenshot goes to the test's tmp dir and, when LLMCHAT_ARTIFACTS
is set, into that directory too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmchat.serve import (
    is_loopback,
    loopback_origins,
    merge_params,
    public_url,
    session_args,
    session_command,
    warning_for,
)
from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse
from tests.serve_support import free_port, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SYSTEM = """Be 'brief'; "quoted" $HOME `id` \\ done"""
"""A system prompt that breaks any command line not quoted for the shell."""
TOKENS = ["Tokens", " arrive", " in", " the", " browser", " one", " by", " one."]
SEEN = "Tokens arrive in the browser one by one."

# Catch textual.js's terminal client (class with websocket_url, terminal, socket ...) as its
# constructor runs: the first assignment to `websocket_url` goes through this setter.
HOOK = """
Object.defineProperty(Object.prototype, 'websocket_url', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'websocket_url',
      {value, writable: true, configurable: true, enumerable: true});
    window.__llmchatClient = this;
  },
});
"""
FOCUSED = "() => document.activeElement?.classList.contains('xterm-helper-textarea') ?? false"
"""True when the keyboard focus is in xterm.js's input (where a click on the terminal puts it)."""
SCREEN = """() => {
  const client = window.__llmchatClient;
  if (!client || !client.terminal) return null;
  const term = client.terminal, buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""


# -- without a browser ---------------------------------------------------------------------


def test_session_command_quotes_every_option_for_the_shell() -> None:
    params = merge_params(
        {"provider": "openai", "model": "before", "debug": True, "version": False},
        {"model": "m; rm -rf /", "system": SYSTEM, "stop": ["END", "--x"], "temperature": 0.5,
         "all_tools": True, "continue_latest": False, "theme": None},
    )
    command = session_command(session_args(params), python="/opt/my python/bin/python3")
    assert shlex.split(command) == [
        "/opt/my python/bin/python3", "-m", "llmchat",
        "--provider", "openai", "--model", "m; rm -rf /", "--system", SYSTEM, "--temperature", "0.5",
        "--stop", "END", "--stop", "--x", "--debug", "--tools",
    ]
    assert session_command([]) == shlex.join([sys.executable, "-m", "llmchat"])


def test_loopback_hosts_and_the_warning() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
        assert warning_for(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com", "10.0.0.1"):
        assert not is_loopback(host), host
        warning = warning_for(host)
        assert warning is not None and host in warning and "API keys" in warning
    assert public_url("::1", 8000) == "http://[::1]:8000"
    assert public_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert public_url("localhost", 1) == "http://localhost:1"
    assert "http://[::1]:9" in loopback_origins(9)


def test_cli_app_loads_textual_serve_only_in_the_command() -> None:
    code = (
        "import sys, llmchat.cli_app, llmchat.serve\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual_serve', 'aiohttp', 'textual')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_bad_config_exits_2_before_serving() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmchat", "serve", "--port", str(free_port()), "-p", "no-such-provider"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert "no-such-provider" in result.stderr
    assert "serving on" not in result.stdout


def test_port_in_use_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "llmchat", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "serving on" not in result.stdout


def test_options_before_and_after_serve_reach_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from llmchat import serve
    from llmchat.cli_app import app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(serve, "run_server", lambda command, **kw: calls.append({"command": command, **kw}))
    result = CliRunner().invoke(app, [
        "-m", "before", "-s", SYSTEM, "--debug", "--stop", "A",
        "serve", "--host", "0.0.0.0", "--port", "9123", "-m", "after", "--tools", "--temperature", "0.2",
    ])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 9123 and calls[0]["url"] is None
    assert shlex.split(calls[0]["command"]) == [
        sys.executable, "-m", "llmchat", "--model", "after", "--system", SYSTEM, "--temperature", "0.2",
        "--stop", "A", "--debug", "--tools",
    ]
    assert "warning: 0.0.0.0 is not a loopback address" in result.output


def test_zero_is_a_given_value_for_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from llmchat import serve
    from llmchat.cli_app import app

    calls: list[str] = []
    monkeypatch.setattr(serve, "run_server", lambda command, **kw: calls.append(command))
    result = CliRunner().invoke(app, ["--temperature", "0.7", "serve", "--temperature", "0", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert shlex.split(calls[0])[3:] == ["--temperature", "0.0", "--seed", "0"]


# -- in the browser ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_browser_streams_a_reply_and_escape_cancels_it(tmp_path: Path, server: LoopbackServer) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}); .ci/run installs it with apt-get")
    from playwright.sync_api import sync_playwright

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
        parts: list[Any] = [sse(chunk("", role=True), done=False)]
        for token in TOKENS:
            parts += [sse(chunk(token), done=False), 0.05]
        parts.append(60.0)  # stall: only Escape ends this reply in time
        parts.append(sse(chunk(" never shown"), chunk(finish="stop")))
        return Reply(parts=parts)

    server.handler = handler
    with serving(tmp_path, server, "-m", "test-model", "-s", SYSTEM) as served, sync_playwright() as p:
        url, log = served.url, served.log
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1200, "height": 700},
        )
        try:
            page = context.new_page()
            outside: list[str] = []

            def only_loopback(route: Any) -> None:  # textual-serve's own page asked Google for a font
                if route.request.url.startswith((url + "/", f"ws://127.0.0.1:{served.port}/")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.add_init_script(HOOK)
            page.goto(served.printed, wait_until="domcontentloaded", timeout=30_000)
            page.wait_for_function(  # textual.js builds its client on window.onload
                "() => window.__llmchatClient && window.__llmchatClient.terminal", timeout=30_000)
            assert page.url == url + "/", "the token stays in the address bar"

            def screen() -> str:
                text = page.evaluate(SCREEN)
                assert text is not None, "textual.js's terminal client was not found (did textual-serve change?)"
                return text

            wait_for(lambda: "Message (Enter to send" in screen(), 40, "the app's prompt", screen, log)
            # No click and no focus() from the test: the page puts the focus in the terminal.
            wait_for(lambda: page.evaluate(FOCUSED), 10, "the keyboard focus in the terminal", screen, log)
            footer = squash(screen().rstrip().rsplit("\n", 1)[-1])
            assert "alt+n New chat" in footer and "alt+o History" in footer, footer
            assert not {"^n", "^o", "^p"} & set(footer.split()), f"browser-kept keys advertised: {footer}"
            page.keyboard.type("stream to the browser")
            wait_for(lambda: "stream to the browser" in screen(), 10, "the typed prompt", screen, log)
            page.keyboard.press("Enter")

            # The user's message, the answer so far and the sidebar's state: the reply has not
            # ended (the server stalls), so this text came streamed. Polled as a whole: a
            # screen read between two writes of one frame may miss a line.
            wait_for(lambda: all(part in squash(screen()) for part in (
                "stream to the browser", SEEN, "State streaming")), 20, "the streamed answer", screen, log)
            assert not server.disconnected.is_set()
            page.screenshot(path=str(tmp_path / "serve-streaming.png"))

            page.keyboard.press("Escape")
            # Set only if the client left before the reply's end (the server stalls far longer).
            assert server.disconnected.wait(20), "the provider connection was not closed after Escape"
            wait_for(lambda: all(part in squash(screen()) for part in (
                SEEN, "State cancelled", "Finish cancelled", "■ cancelled")), 10,
                "the partial answer marked cancelled", screen, log)
            assert "never shown" not in screen()
            keep_screenshot(page, tmp_path / "serve.png")

            page.keyboard.press("Alt+o")  # the footer's key for the history reaches the app
            wait_for(lambda: "History — type to search" in screen(), 10, "the history screen", screen, log)
            page.keyboard.press("Escape")
            wait_for(lambda: "History — type to search" not in screen(), 10, "the chat again", screen, log)

            # A reload has no token in its URL: the cookie set by the first answer carries it.
            page.reload(wait_until="domcontentloaded", timeout=30_000)
            page.wait_for_function(
                "() => window.__llmchatClient && window.__llmchatClient.terminal", timeout=30_000)
            wait_for(lambda: "Message (Enter to send" in screen(), 40, "the prompt after a reload", screen, log)
        finally:
            context.close()

    # One reply was asked for (the session may also read the model list and /props for the
    # context window).
    replies = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(replies) == 1, [r.path for r in server.requests]
    body = replies[0].json()
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "stream to the browser"},
    ]
    assert replies[0].headers["authorization"] == "Bearer sk-test"
    assert outside == [], "the page asked another host for something"
    assert not [line for line in console if "Content Security Policy" in line], console


# -- helpers -------------------------------------------------------------------------------


def squash(text: str) -> str:
    """`text` with each run of whitespace (and the transcript's left border) as one space."""
    return " ".join(text.replace("█", " ").replace("▏", " ").split())


def wait_for(condition: Callable[[], bool], timeout: float, what: str, screen: Callable[[], str],
             log: Path) -> None:
    """Poll `condition` until true; fail after `timeout` seconds with the screen and server log."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {what} after {timeout} s.\n--- screen ---\n{screen()}\n--- serve log ---\n{log.read_text()}"
            )
        time.sleep(0.05)


def keep_screenshot(page: Any, path: Path) -> None:
    """Save a screenshot at `path` and copy it into $LLMCHAT_ARTIFACTS when set."""
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, "the screenshot is suspiciously small"
    artifacts = os.environ.get("LLMCHAT_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)

