"""Key scans of every file llmchat writes (issue #6): a sentinel API key, given the three ways
llmchat reads one (environment, ``llmchat keys set``, a profile's ``api_key_cmd``), is used
for real requests by every command that writes a file or prints, by a session, a provider
error whose body echoes the key, and a crash. Then every file under the isolated config,
data, state and cache directories, the working directory and the temporary directory is
read, and every byte printed is checked: the key appears nowhere, raw or encoded (URL,
JSON, base64 at any alignment, hex, UTF-16), except in the owner-only key file. Files and
directories llmchat made must be its owner's alone.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.loopback import LoopbackServer, Reply, Request, completion, json_reply

SUFFIX = "Zq7+/x9Kc"
"""Characters that URL encoding, JSON escaping and base64 each change, so every form differs."""
SENTINELS = {source: f"sk-llmchat-SENTINEL-{source}-{SUFFIX}" for source in ("env", "file", "cmd")}
TIMEOUT = 60


def encodings(secret: str) -> dict[str, bytes]:
    """The forms a key could take in a file or an output, each as bytes to look for."""
    raw = secret.encode()
    forms = {
        "raw": raw,
        "url": quote(secret, safe="").encode(),
        "json": json.dumps(secret).strip('"').replace("/", "\\/").encode(),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "utf-16": secret.encode("utf-16-le"),
    }
    for shift in range(3):  # inside a longer base64 text the key starts at any of 3 alignments
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * shift + raw)
            start, end = -(-shift // 3) * 4, (shift + len(raw)) // 3 * 4
            forms[f"{name}+{shift}"] = encoded[start:end]
    return forms


def find_secrets(data: bytes) -> list[str]:
    """Which sentinel, in which form, `data` contains."""
    return [f"{source} key ({form})" for source, secret in SENTINELS.items()
            for form, needle in encodings(secret).items() if needle in data]


def test_the_scan_finds_every_form() -> None:
    secret = SENTINELS["env"]
    samples = [
        f"Authorization: Bearer {secret}".encode(),
        base64.b64encode(f"Bearer {secret}".encode()),
        base64.b64encode(f"xy:{secret}".encode()),
        base64.urlsafe_b64encode(f"?{secret}".encode()),
        f"https://x/?key={quote(secret, safe='')}".encode(),
        json.dumps({"k": secret}).replace("/", "\\/").encode(),
        secret.encode().hex().encode(),
        f"..{secret}..".encode("utf-16-le"),
    ]
    for sample in samples:
        assert find_secrets(sample), sample
    assert find_secrets(b"sk-llmchat-SENTINEL-env-Zq7 and Kc") == []


# -- the sandbox ------------------------------------------------------------------------------


def reply_or_reject(request: Request) -> Reply:
    """A chat reply or the model list; when the prompt says "reject", a 401 naming the key
    masked (as OpenAI does); when it says "echo", a 401 that echoes the whole Authorization
    header it received (as some proxies and self-hosted servers do)."""
    if request.path.endswith("/models"):
        return json_reply(200, {"object": "list", "data": [{"id": "m1", "object": "model"}]})
    last = request.json()["messages"][-1]["content"]
    if "reject" in last or "echo" in last:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        shown = sent if "echo" in last else f"{sent[:3]}{'*' * 20}{sent[-4:]}"
        return json_reply(401, {"error": {"message": f"Incorrect API key provided: {shown}.",
                                          "type": "invalid_request_error", "code": "invalid_api_key"}})
    return Reply(parts=[completion(["Hello", " from", " the", " scan", "."])])


@dataclass
class Sandbox:
    """Isolated directories for one way of giving the key, and everything printed there."""

    root: Path
    server: LoopbackServer
    secret: str
    env: dict[str, str] = field(default_factory=dict)
    printed: list[tuple[str, bytes]] = field(default_factory=list)
    users_files: set[Path] = field(default_factory=set)
    """Files the user (the test) wrote: their modes are the user's choice."""

    def __post_init__(self) -> None:
        for name in ("home", "config", "data", "state", "cache", "work", "tmp"):
            (self.root / name).mkdir(mode=0o700)
        keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
        self.env = {k: v for k, v in os.environ.items() if k in keep}
        self.env.update({
            "HOME": str(self.root / "home"), "TMPDIR": str(self.root / "tmp"),
            "XDG_CONFIG_HOME": str(self.root / "config"), "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_STATE_HOME": str(self.root / "state"), "XDG_CACHE_HOME": str(self.root / "cache"),
            "OPENAI_BASE_URL": self.server.base_url, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1",
        })

    def llmchat(self, *args: str, stdin: bytes = b"", code: int = 0) -> subprocess.CompletedProcess[bytes]:
        """Run ``python -m llmchat ARGS`` in the working directory; check its exit status."""
        result = subprocess.run([sys.executable, "-m", "llmchat", *args], input=stdin, env=self.env,
                                cwd=self.root / "work", capture_output=True, timeout=TIMEOUT, check=False)
        self.printed.append((" ".join(args), result.stdout + result.stderr))
        assert result.returncode == code, (args, result.stdout[-500:], result.stderr[-1500:])
        return result

    def run_python(self, code: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=self.env,
                                cwd=self.root / "work", capture_output=True, timeout=TIMEOUT,
                                stdin=subprocess.DEVNULL, check=False)
        self.printed.append(("python -c", result.stdout + result.stderr))
        return result

    def llmchat_dirs(self) -> list[Path]:
        return [self.root / xdg / "llmchat" for xdg in ("config", "data", "state", "cache")]

    def leaks(self, allowed: set[Path] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """Every place a key was found: files under the sandbox (the key file excepted) and
        everything printed."""
        found = []
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and path not in allowed:
                found += [f"{path.relative_to(self.root)}: {what}" for what in find_secrets(path.read_bytes())]
        for command, output in self.printed:
            found += [f"output of `llmchat {command}`: {what}" for what in find_secrets(output)]
        return found

    def loose_modes(self) -> list[str]:
        """Files and folders llmchat made that others could read (or enter); files the test
        wrote itself are left out."""
        problems = []
        for folder in self.llmchat_dirs():
            if not folder.exists():
                continue
            for path in [folder, *folder.rglob("*")]:
                if path in self.users_files:
                    continue
                mode = stat.S_IMODE(path.lstat().st_mode)
                if path.is_dir() and mode != 0o700:
                    problems.append(f"{path.relative_to(self.root)} is a folder with mode {mode:o}")
                elif path.is_file() and mode & 0o077:
                    problems.append(f"{path.relative_to(self.root)} has mode {mode:o}")
        return problems

    def key_reached_the_server(self) -> bool:
        return any(r.headers.get("authorization") == f"Bearer {self.secret}" for r in self.server.requests)


@pytest.fixture
def scan_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(reply_or_reject) as server:
        yield server


def sandbox_for(source: str, tmp_path: Path, server: LoopbackServer) -> Sandbox:
    """A sandbox whose default provider gets the sentinel of `source`."""
    box = Sandbox(tmp_path, server, SENTINELS[source])
    if source == "env":
        box.env["OPENAI_API_KEY"] = box.secret
    elif source == "file":
        box.llmchat("keys", "set", "openai", stdin=box.secret.encode() + b"\n")
    else:  # a profile's command prints the key; the config file never holds it whole
        head, tail = box.secret[:12], box.secret[12:]
        command = f"{sys.executable} -c \"print('{head}' + '{tail}')\""
        config = box.root / "config" / "llmchat" / "config.toml"
        config.parent.mkdir(mode=0o700)
        config.write_text(f'provider = "work"\n[providers.work]\nbase_url = "{server.base_url}"\n'
                          f"api_key_cmd = '''{command}'''\nmodel = \"m1\"\n")
        box.users_files.add(config)
    return box


# -- the commands ---------------------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("source", ["env", "file", "cmd"])
def test_no_command_writes_or_prints_the_key(source: str, tmp_path: Path, scan_server: LoopbackServer) -> None:
    box = sandbox_for(source, tmp_path, scan_server)
    assert box.llmchat("ask", "hi").stdout == b"Hello from the scan."
    debug = box.llmchat("ask", "--debug", "-c", "and again")
    assert b"debug log:" in debug.stderr
    answer = json.loads(box.llmchat("ask", "--json", "one more").stdout)
    assert answer["content"] == "Hello from the scan."
    failed = box.llmchat("ask", "please reject this", code=1)
    assert b"HTTP 401" in failed.stderr and b"*****x9Kc" in failed.stderr
    partial = json.loads(box.llmchat("ask", "--json", "--debug", "reject again", code=1).stdout)
    assert partial["finish_reason"] == "error"
    assert box.llmchat("models").stdout.strip() == b"m1"
    shown = box.llmchat("config", "show").stdout
    assert b"set (from" in shown or b"api_key" in shown.lower()
    box.llmchat("config", "show", "--json")
    box.llmchat("keys", "list")
    listed = json.loads(box.llmchat("history", "--json").stdout)
    assert len(listed) == 4  # "hi" continued by -c, --json, and the two failures
    first = listed[-1]["id"]  # newest first: "hi", then -c
    assert b"Hello from the scan." in box.llmchat("history", "show", first).stdout
    box.llmchat("history", "show", "latest")
    box.llmchat("history", "search", "scan")
    box.llmchat("export", first, "--format", "json")
    box.llmchat("export", "latest")

    assert box.key_reached_the_server()  # the sentinel was the key in use ...
    exported = json.loads(box.llmchat("export", "latest", "--format", "json").stdout)
    assert exported["messages"][-1]["error"]  # ... the failure was stored ...
    logs = list((box.root / "state" / "llmchat").glob("debug-*.log"))
    assert len(logs) == 2 and all(b"chat/completions" in log.read_bytes() for log in logs)
    key_file = box.root / "config" / "llmchat" / "keys.json"
    allowed = {key_file} if source == "file" else set()
    if source == "file":  # ... and the scan can see it where it belongs
        assert find_secrets(key_file.read_bytes())
    leaks = box.leaks(allowed)
    assert not leaks, "\n".join(leaks)
    assert box.loose_modes() == []
    assert stat.S_IMODE((box.root / "data" / "llmchat" / "history.db").stat().st_mode) == 0o600


# -- a provider error that echoes the key ----------------------------------------------------------

@pytest.mark.timeout(120)
def test_a_provider_error_that_echoes_the_key_is_neither_printed_nor_stored(
    tmp_path: Path, scan_server: LoopbackServer
) -> None:
    box = sandbox_for("env", tmp_path, scan_server)
    failed = box.llmchat("ask", "echo my key", code=1)
    assert b"HTTP 401" in failed.stderr and b"Incorrect API key provided" in failed.stderr
    box.llmchat("ask", "--json", "echo it again", code=1)
    box.llmchat("export", "latest", "--format", "json")
    assert box.key_reached_the_server()
    leaks = box.leaks()
    assert not leaks, "\n".join(leaks)


# -- a session and a crash ----------------------------------------------------------------------


async def run_session(box: Sandbox, monkeypatch: pytest.MonkeyPatch, failing_prompt: str) -> None:
    """A session in `box`: one reply, one that fails with `failing_prompt`, a theme change."""
    from llmchat import paths
    from llmchat.config import load_settings
    from llmchat.tui.app import LlmChatApp
    from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, send, wait_until

    for name, value in box.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(box.root / "work")
    monkeypatch.setattr("tempfile.tempdir", str(box.root / "tmp"))
    settings = load_settings(paths.config_file(), os.environ, keys_path=paths.keys_file())
    app = LlmChatApp(settings, theme_dirs=THEME_DIRS)
    notify = app.notify

    def shown(message: str, *args: Any, **kwargs: Any) -> None:  # what the user sees, scanned too
        box.printed.append(("(a session notification)", str(message).encode()))
        notify(message, *args, **kwargs)

    app.notify = shown  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) == 2,
                         timeout=20)
        await send(pilot, failing_prompt)  # the failure is shown, and stored
        await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) == 4,
                         timeout=20)
        assert screen.conversation.messages[-1].finish_reason == "error"
        failure = screen.conversation.messages[-1].error or ""
        assert "HTTP 401" in failure  # shown once, where the reply is (the ✖ line), not as a toast
        box.printed.append(("(the session's ✖ line)", failure.encode()))
        box.printed.append(("(the session's screen)", app.export_screenshot().encode()))
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"  # saved
        await pilot.pause()
    assert box.key_reached_the_server()
    assert (box.root / "data" / "llmchat" / "history.db").exists()


@pytest.mark.timeout(120)
async def test_a_session_shows_and_stores_no_echoed_key(
    tmp_path: Path, scan_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = sandbox_for("env", tmp_path, scan_server)
    await run_session(box, monkeypatch, "echo my key")
    leaks = box.leaks()
    assert not leaks, "\n".join(leaks)


@pytest.mark.timeout(120)
async def test_a_session_and_its_failure_write_no_key(
    tmp_path: Path, scan_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = sandbox_for("env", tmp_path, scan_server)
    await run_session(box, monkeypatch, "now reject me")
    leaks = box.leaks()
    assert not leaks, "\n".join(leaks)
    assert box.loose_modes() == []


def test_the_remembered_theme_is_saved_owner_only(tmp_path: Path) -> None:
    from llmchat.tui.ui_state import remember

    path = tmp_path / "state" / "llmchat" / "ui.json"
    assert remember(path, theme="textual-light")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


CRASH = """
    import os
    from llmchat.config import load_settings
    from llmchat.tui.app import LlmChatApp

    class Crashing(LlmChatApp):
        def on_mount(self) -> None:
            super().on_mount()
            api_key = os.environ["OPENAI_API_KEY"]
            headers = {"Authorization": "Bearer " + api_key}
            raise RuntimeError("boom " + str(len(headers)))

    Crashing(load_settings(None, os.environ)).run(headless=True)
"""


@pytest.mark.timeout(120)
def test_a_crash_report_shows_no_key(tmp_path: Path, scan_server: LoopbackServer) -> None:
    box = sandbox_for("env", tmp_path, scan_server)
    result = box.run_python(CRASH)
    output = result.stdout + result.stderr
    assert b"RuntimeError" in output and b"boom 1" in output  # the crash is reported ...
    leaks = box.leaks()  # ... with no local variable's value, and no file with the key
    assert not leaks, "\n".join(leaks)
    assert box.loose_modes() == []
