"""History from the command line: every `ask` is stored (write-ahead), `-c` continues,
`history` / `export` read it back — real subprocesses, a real database in a temp XDG dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llmchat.store import INTERRUPTED, Store
from tests.loopback import LoopbackServer, Reply, chunk, completion, sse
from tests.test_cli import TIMEOUT, ask, assert_clean_stderr, cli_env


def llmchat(server: LoopbackServer | None, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llmchat", *args], env=cli_env(server),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)


def db_path() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "llmchat" / "history.db"


def test_ask_is_stored_and_can_be_continued(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["Paris", "."], prompt_tokens=9)])
    first = ask(server, "Capital of France?")
    assert first.returncode == 0 and first.stdout == b"Paris."
    listed = json.loads(llmchat(server, "history", "--json").stdout)
    assert len(listed) == 1
    assert listed[0]["title"] == "Capital of France?" and listed[0]["message_count"] == 2
    assert listed[0]["provider"] == "openai"

    server.handler = lambda _r: Reply(parts=[completion(["Paris", " (FR)"])])
    again = ask(server, "-c", "And in French?")
    assert again.returncode == 0, again.stderr
    sent = server.requests[-1].json()["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "Capital of France?"), ("assistant", "Paris."), ("user", "And in French?")]

    exported = json.loads(llmchat(server, "export", "latest", "--format", "json").stdout)
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant", "user", "assistant"]
    assert exported["messages"][1]["finish_reason"] == "stop"
    assert exported["messages"][1]["usage"]["input_tokens"] == 9
    shown = llmchat(server, "history", "show", listed[0]["id"]).stdout.decode()
    assert "And in French?" in shown and "Paris (FR)" in shown


def test_no_log_stores_nothing(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    assert ask(server, "--no-log", "secret question").returncode == 0
    assert json.loads(llmchat(server, "history", "--json").stdout) == []


def test_unknown_conversation_is_a_usage_error(server: LoopbackServer) -> None:
    result = ask(server, "--conversation", "nope", "hi")
    assert result.returncode == 2
    assert b"nope" in result.stderr
    assert_clean_stderr(result.stderr)


def test_search_and_rm(server: LoopbackServer) -> None:
    """Two conversations, so that a search which ignored its words (or listed everything) fails."""
    server.handler = lambda _r: Reply(parts=[completion(["The aardvark sleeps."])])
    assert ask(server, "Tell me about aardvarks").returncode == 0
    server.handler = lambda _r: Reply(parts=[completion(["The otter swims."])])
    assert ask(server, "Tell me about otters").returncode == 0
    ids = {c["title"]: c["id"] for c in json.loads(llmchat(server, "history", "--json").stdout)}
    aardvarks, otters = ids["Tell me about aardvarks"], ids["Tell me about otters"]
    hits = llmchat(server, "history", "search", "aardvark").stdout.decode().splitlines()
    assert len(hits) == 1 and hits[0].startswith(aardvarks) and "aardvark" in hits[0].lower()
    assert llmchat(server, "history", "rm", aardvarks).returncode == 0
    assert [c["id"] for c in json.loads(llmchat(server, "history", "--json").stdout)] == [otters]
    assert llmchat(server, "history", "search", "aardvark").returncode == 1  # gone with it


def test_cancelled_ask_is_stored_as_cancelled(server: LoopbackServer) -> None:
    parts: list[object] = [sse(chunk("first part"), done=False), 30.0, sse(chunk(finish="stop"))]
    server.handler = lambda _r: Reply(parts=parts)
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", "hi"], env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(10) == b"first part"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    exported = json.loads(llmchat(server, "export", "latest", "--format", "json").stdout)
    assert exported["messages"][-1]["content"] == "first part"
    assert exported["messages"][-1]["finish_reason"] == "cancelled"


def test_kill_9_mid_stream_loses_at_most_a_second(server: LoopbackServer) -> None:
    parts: list[object] = [sse(chunk("", role=True), done=False)]
    for i in range(400):
        parts += [sse(chunk(f"w{i} "), done=False), 0.01]
    server.handler = lambda _r: Reply(parts=parts)
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", "hi"], env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        received = b""
        deadline = time.monotonic() + TIMEOUT
        while len(received) < 600 and time.monotonic() < deadline:  # about 1.5 s of text
            received += os.read(proc.stdout.fileno(), 4096)
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT)
        received += proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    # A later start (here: ten seconds later) finds the reply and marks it interrupted.
    with Store(db_path(), clock=lambda: time.time() + 20) as store:
        assert store.recovered == 1
        _, conversation = store.load_conversation("latest")
    reply = conversation.messages[-1]
    assert reply.finish_reason == "error" and reply.error == INTERRUPTED
    assert received.decode().startswith(reply.content)
    assert len(reply.content) >= len(received) - 150 * 8  # at most ~1 s (100 words of 6-8 bytes) lost
