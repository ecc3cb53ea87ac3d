"""History from the shell (issue 17): `history search` prints one line per conversation and
exits 1 with "no match" like grep; `history rm` and `keys rm` ask first on a terminal (a pty
here), `-y` skips the question, and without a terminal they delete as before (scripts)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from tests.loopback import LoopbackServer, Reply, completion
from tests.test_cli import TIMEOUT, ask, cli_env


def llmchat(server: LoopbackServer | None, *args: str, answer: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run llmchat ARGS; with `answer`, stdin is a terminal (a pty) that has `answer` typed."""
    if answer is None:
        return subprocess.run([sys.executable, "-m", "llmchat", *args], env=cli_env(server),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    master, slave = pty.openpty()
    try:
        os.write(master, answer)
        return subprocess.run([sys.executable, "-m", "llmchat", *args], env=cli_env(server),
                              stdin=slave, capture_output=True, timeout=TIMEOUT)
    finally:
        os.close(slave)
        os.close(master)


def conversations(server: LoopbackServer) -> list[str]:
    return [c["id"] for c in json.loads(llmchat(server, "history", "--json").stdout)]


def test_search_prints_one_line_per_conversation_and_no_match_exits_1(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["The aardvark sleeps; an aardvark digs."])])
    assert ask(server, "Tell me about the aardvark").returncode == 0
    assert ask(server, "-c", "More aardvark facts").returncode == 0
    found = llmchat(server, "history", "search", "aardvark")
    assert found.returncode == 0
    lines = found.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(conversations(server)[0])
    assert "more)" in lines[0]  # the other matches of that conversation are counted, not listed
    missing = llmchat(server, "history", "search", "zebra")
    assert (missing.returncode, missing.stdout) == (1, b"")
    assert b"no match" in missing.stderr


def test_history_rm_asks_on_a_terminal(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    assert ask(server, "keep me").returncode == 0
    [conversation] = conversations(server)
    refused = llmchat(server, "history", "rm", conversation, answer=b"n\n")
    assert refused.returncode == 1 and b"Delete conversation" in refused.stderr and b"keep me" in refused.stderr
    assert conversations(server) == [conversation]
    assert llmchat(server, "history", "rm", conversation, answer=b"y\n").returncode == 0
    assert conversations(server) == []
    assert ask(server, "again").returncode == 0
    assert llmchat(server, "history", "rm", "-y", "latest", answer=b"").returncode == 0  # -y: no question
    assert conversations(server) == []
    assert ask(server, "scripted").returncode == 0
    assert llmchat(server, "history", "rm", "latest").returncode == 0  # no terminal: as before
    assert conversations(server) == []


def test_keys_rm_asks_on_a_terminal() -> None:
    assert subprocess.run([sys.executable, "-m", "llmchat", "keys", "set", "groq"], input=b"gsk\n",
                          capture_output=True, timeout=TIMEOUT).returncode == 0
    refused = llmchat(None, "keys", "rm", "groq", answer=b"\n")  # Enter: the default is no
    assert refused.returncode == 1 and b"Forget the stored key for groq?" in refused.stderr
    assert llmchat(None, "keys", "list").stdout == b"groq\n"
    assert llmchat(None, "keys", "rm", "--yes", "groq", answer=b"").returncode == 0
    assert llmchat(None, "keys", "list").stdout == b""
