"""One hostile string through every path that shows server text on a terminal (issue 20).

The string holds an OSC 52 clipboard write, an OSC 8 hyperlink, an OSC 0 window title, CSI 2J
(clear screen), a C1 CSI (0x9b), a bidi override, a zero-width space and Unicode tag
characters. It comes from a real HTTP server on 127.0.0.1 (error bodies, in-stream errors,
refusals, tool calls, model ids, replies, and so titles in the history) and goes through:
``ask``'s stderr (errors, each retry note, the refusal line, both tool notes), ``llmchat
models``, ``history``, ``history show``, ``export`` and ``ask --json`` on a terminal (a real
pty), and in the session the notifications, the ✖ line, the sidebar and the model picker
(Pilot). Nothing of it may arrive raw; piped output must stay exact.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Button

from llmchat.chat.models import Message
from llmchat.config import load_settings
from llmchat.discovery import LocalServer
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.message_view import MessageView
from tests.fakes import FakeProvider
from tests.loopback import LoopbackServer, Reply, Request, chunk, completion, json_reply, sse
from tests.test_cli import TIMEOUT, assert_clean_stderr, cli_env
from tests.test_cli_tools import tool_call_reply
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, make_app, plain_text, send, type_text, wait_until
from tests.tui.test_setup import fake_discovery

HOSTILE = (
    "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write "evil" to the clipboard
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1b]0;pwned\x07"  # OSC 0: window title
    "\x1b[2J"  # CSI 2J: clear the screen
    "\x9b31m"  # C1 CSI
    "\u202eevil"  # right-to-left override
    "\u200bhidden"  # zero-width space
    "\U000e0041\U000e0042"  # tag characters ("AB", invisible)
)
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\U000e0041", "\U000e0042")
RAW_BYTES = tuple(c.encode() for c in RAW)


def assert_nothing_raw(where: str, data: bytes | str) -> None:
    found = [c for c in (RAW_BYTES if isinstance(data, bytes) else RAW) if c in data]
    if found:
        at = data.index(found[0])
        raise AssertionError(f"{where}: raw {found!r}, e.g. in {data[max(at - 80, 0):at + 80]!r}")


def run(server: LoopbackServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llmchat", *args], env=cli_env(server), cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)


def run_on_tty(server: LoopbackServer, *args: str) -> tuple[int, bytes, bytes]:
    """Run llmchat with stdout on a pseudo-terminal: (exit status, what the terminal got
    with its CR-LF turned back to LF, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", *args], env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], TIMEOUT)
            if not ready:
                raise AssertionError(f"no output from {args} in {TIMEOUT} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, bytes(out).replace(b"\r\n", b"\n"), err


def stderr_lines(err: bytes) -> list[bytes]:
    lines = err.decode().splitlines()
    assert all(line.startswith("llmchat: ") for line in lines), err
    return [line.encode() for line in lines]


def test_one_hostile_string_through_every_command_line_path(server: LoopbackServer, tmp_path: Path) -> None:
    # -- ask: an HTTP error body, retried twice: three notes, each one safe line --------------
    server.handler = lambda _r: Reply(
        status=503, parts=[json.dumps({"error": {"message": HOSTILE + "\nsecond\nthird line"}}).encode()],
        headers={"content-type": "application/json", "retry-after-ms": "1"}, chunked=False)
    result = run(server, "ask", "hi")
    assert result.returncode == 1
    lines = stderr_lines(result.stderr)
    assert sum(b"retrying" in line for line in lines) == 2 and b"llmchat: error: " in result.stderr
    assert b"\xe2\x90\x9b]52;c;ZXZpbA==" in result.stderr  # shown as a stand-in (U+241B), not acted on
    assert_nothing_raw("ask error + retries", result.stderr)
    assert_clean_stderr(result.stderr)

    # -- ask: an error event inside the stream, after some text -------------------------------
    server.handler = lambda _r: Reply(parts=[sse(chunk("partial "), {"error": {"message": HOSTILE}}, done=False)])
    result = run(server, "ask", "hi")
    assert result.returncode == 1 and result.stdout == b"partial "
    assert len(stderr_lines(result.stderr)) == 1
    assert_nothing_raw("ask in-stream error", result.stderr)

    # -- ask: a refusal (and the reply stored with a hostile title and text) -----------------
    server.handler = lambda _r: Reply(parts=[sse(chunk(HOSTILE, role=True), chunk(refusal=HOSTILE),
                                                 chunk(finish="stop"))])
    result = run(server, "ask", HOSTILE)
    assert result.returncode == 0
    assert result.stdout == HOSTILE.encode()  # a pipe gets exactly the model's text
    assert b"refused" in result.stderr
    assert_nothing_raw("ask refusal", result.stderr)

    # -- ask on a terminal: the reply rendered, the refusal noted ------------------------------
    code, shown, err = run_on_tty(server, "ask", "again")
    assert code == 0 and b"evil" in shown, err
    # The renderer writes its own cursor controls and colours; none of the model's may pass.
    for sequence in (b"\x1b]52", b"\x1b]8", b"\x1b]0", b"\x1b[2J", b"\x07", *RAW_BYTES[2:]):
        assert sequence not in shown, sequence
    assert b"\xe2\x90\x9b]52;c;ZXZpbA==" in shown  # shown as a stand-in instead
    assert_nothing_raw("ask on a tty, stderr", err)

    # -- ask --json on a terminal: escaped, still the same JSON value -------------------------
    code, shown, err = run_on_tty(server, "ask", "--json", "again")
    assert code == 0, err
    assert_nothing_raw("ask --json on a tty", shown)
    obj = json.loads(shown)
    assert obj["content"] == HOSTILE and obj["refusal"] == HOSTILE
    assert_nothing_raw("ask --json stderr", err)
    piped = run(server, "ask", "--json", "again")  # a pipe: byte-identical meaning, raw allowed
    same = json.loads(piped.stdout)
    for varies in ("conversation_id", "timings"):  # a new conversation, other timings
        del same[varies], obj[varies]
    assert same == obj

    # -- ask with tools: the call note and the result note ------------------------------------
    server.handler = lambda _r: tool_call_reply(HOSTILE, json.dumps({"path": HOSTILE}))
    replies = [tool_call_reply(HOSTILE, json.dumps({"path": HOSTILE})), Reply(parts=[completion(["done"])])]
    server.handler = lambda _r: replies.pop(0)
    result = run(server, "ask", "-T", "read_file", "use a tool", cwd=tmp_path)
    lines = stderr_lines(result.stderr)
    assert sum(b"llmchat: tool " in line for line in lines) == 2, result.stderr
    assert any(b" -> " in line for line in lines)
    assert_nothing_raw("tool notes", result.stderr)
    assert_clean_stderr(result.stderr)

    # -- llmchat models (ids from the server), piped and on a terminal -------------------------
    server.handler = lambda _r: json_reply(200, {"object": "list", "data": [{"id": HOSTILE}, {"id": "gpt-ok"}]})
    result = run(server, "models")
    assert result.returncode == 0 and result.stdout.decode().splitlines()[1] == "gpt-ok"
    assert_nothing_raw("models", result.stdout)
    code, shown, _ = run_on_tty(server, "models")
    assert code == 0 and b"gpt-ok" in shown
    assert_nothing_raw("models on a tty", shown)
    code, shown, _ = run_on_tty(server, "models", "--json")
    assert code == 0 and json.loads(shown) == [HOSTILE, "gpt-ok"]
    assert_nothing_raw("models --json on a tty", shown)

    # -- history, history show and export on a terminal (title and text came from above) -----
    for args in (("history",), ("history", "show", "latest"), ("export", "latest"),
                 ("export", "latest", "-f", "json"), ("history", "--json")):
        code, shown, err = run_on_tty(server, *args)
        assert code == 0, (args, err)
        assert_nothing_raw(" ".join(args) + " on a tty", shown)
        assert b"\xe2\x90\x9b" in shown or b"\\u001b" in shown, (args, shown)  # the text is there, made safe
        if "json" in " ".join(args):
            json.loads(shown)
    exported = run(server, "export", "latest")  # a pipe or file gets the stored text exactly
    assert HOSTILE.encode() in exported.stdout


def hostile_server(request: Request) -> Reply:
    if request.path.endswith("/models"):
        return json_reply(200, {"object": "list", "data": [{"id": "safe-model"}, {"id": HOSTILE}]})
    return Reply(status=503, parts=[json.dumps({"error": {"message": HOSTILE + "\nmore"}}).encode()],
                 headers={"content-type": "application/json", "retry-after-ms": "1"}, chunked=False)


async def test_one_hostile_string_through_every_session_path(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = hostile_server
    db = tmp_path / "history.db"
    with Store(db) as store:  # a conversation whose title (and text) came from a hostile reply
        cid = store.create_conversation("openai", "m", None)
        store.add_message(cid, Message("user", HOSTILE))
        store.add_message(cid, Message("assistant", HOSTILE, finish_reason="error", error=HOSTILE))
    settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test"})
    app = LlmChatApp(settings, theme_dirs=THEME_DIRS, history=db, conversation=cid, ui_state=tmp_path / "ui.json")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await wait_until(pilot, lambda: any(n.title == "Opened" for n in app._notifications))
        # Kept now: the "Opened" toast times out after 3 s, before the checks at the end.
        seen = [n for n in app._notifications if n.title == "Opened"]
        await send(pilot, "hello")
        await wait_until(pilot, lambda: len(screen.conversation.messages) >= 4
                         and screen.conversation.messages[-1].finish_reason == "error", timeout=20)
        await app.workers.wait_for_complete()
        await pilot.pause()
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]  # (not the
        assert len(chats) == 3  # context-window look-ups) retried twice: the sidebar showed each retry note

        views = list(screen.query(MessageView))
        failed = views[-1]
        status = plain_text(failed.status)
        assert status.startswith("✖") and "\n" not in status.strip()
        assert_nothing_raw("✖ line", status)
        assert_nothing_raw("the stored ✖ line", plain_text(views[1].status))
        assert "␛" in status  # the error is shown once, here, made safe (issue 17)
        assert_nothing_raw("sidebar error", plain_text(screen.query_one("#sidebar-error")))
        assert_nothing_raw("screen after the error", app.export_screenshot())

        # The model picker lists the server's ids; choosing the hostile one shows it made safe.
        screen.choose_model()
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), timeout=10)
        palette = app.screen
        await wait_until(pilot, lambda: any(c.option_count == 2 for c in palette.query("CommandList")), timeout=10)
        assert_nothing_raw("model picker", app.export_screenshot())
        await type_text(pilot, "evil")
        await wait_until(pilot, lambda: any(c.option_count == 1 for c in palette.query("CommandList")), timeout=10)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.model == HOSTILE)  # the id sent stays exact
        await pilot.pause()
        assert_nothing_raw("sidebar model", plain_text(screen.query_one("#sidebar-model")))
        assert_nothing_raw("screen after switching", app.export_screenshot())

        notes = seen + [n for n in app._notifications if n not in seen]
        assert {"Opened", "Model"} <= {n.title for n in notes}
        for note in notes:
            assert_nothing_raw(f"notification {note.title!r}", note.message + note.title)
        assert "HTTP 503" in status


async def test_notifications_never_read_server_text_as_markup() -> None:
    app = make_app(FakeProvider([]))
    async with app.run_test(size=SIZE) as pilot:
        app.notify("model [@click=app.quit]quit[/] [b]bold[/b]", title="Model")  # markup=True by default
        await wait_until(pilot, lambda: len(app._notifications) > 0)
        note = list(app._notifications)[-1]
        assert note.markup is False and "[@click=app.quit]quit[/]" in note.message


async def test_the_setup_screen_shows_a_local_servers_model_id_made_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_discovery(monkeypatch, [LocalServer("Ollama", "http://127.0.0.1:9/v1", ("[b]x[/b]" + HOSTILE,))])
    app = LlmChatApp(load_settings(None, {}), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("#setup-use-0")))
        label = str(app.screen.query_one("#setup-use-0", Button).label)
        assert "␛]52" in label and "[b]x[/b]" in label  # shown, as text
        assert_nothing_raw("setup screen button", label)
