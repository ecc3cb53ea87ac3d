"""`llmchat ask --compare`: one question to several models at once, end to end (a real subprocess
against loopback servers of three wire formats; issue 16)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from llmchat import paths
from llmchat.store import Store
from tests.compare_support import (
    NDJSON,
    anthropic_events,
    anthropic_reply,
    ollama_dropped,
    ollama_lines,
    ollama_reply,
    openai_reply,
)
from tests.loopback import LoopbackServer, Reply, chunk, sse
from tests.procwait import wait_until_read_and_idle
from tests.test_cli import JSON_KEYS, TIMEOUT, assert_clean_stderr

THREE = "gpt-x,anthropic:claude-x,ollama:llama3:8b"


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer, LoopbackServer]]:
    with LoopbackServer() as a, LoopbackServer() as b, LoopbackServer() as c:
        a.handler = lambda _r: openai_reply("Hello", " world")
        b.handler = lambda _r: anthropic_reply("Bon", "jour")
        c.handler = lambda _r: ollama_reply("Hal", "lo")
        yield a, b, c


def env_of(servers: tuple[LoopbackServer, ...], **extra: str) -> dict[str, str]:
    openai, anthropic, ollama = servers
    return {**os.environ, "OPENAI_BASE_URL": openai.base_url, "OPENAI_API_KEY": "sk-test",
            "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{anthropic.port}",
            "OLLAMA_HOST": f"127.0.0.1:{ollama.port}", **extra}


def ask(servers: tuple[LoopbackServer, ...], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llmchat", "ask", *args], input=stdin, env=env_of(servers),
                          capture_output=True, timeout=TIMEOUT)


def stored_replies(conversation_id: str) -> list[tuple[str, str | None, str, str | None]]:
    """(provider, model, content, finish reason) of the replies stored under the last question."""
    with Store.open(paths.history_db()) as store:
        _, conversation = store.load_conversation(conversation_id)
        question = conversation.messages[-2]
        assert question.role == "user" and question.id is not None
        found = []
        for reply_id in store.children(question.id):
            store.set_current_leaf(reply_id)
            reply = store.load_conversation(conversation_id)[1].messages[-1]
            found.append((reply.provider or "", reply.model, reply.content, reply.finish_reason))
        return found


def test_three_providers_one_failing_mid_stream_piped(servers: tuple[LoopbackServer, ...]) -> None:
    servers[2].handler = lambda _r: ollama_dropped("Hal", "f")
    result = ask(servers, "--compare", THREE, "Say hello")
    assert result.returncode == 1
    assert result.stdout == b"Hello world\n\nBonjour\n\nHalf"  # exactly the contents, in the order given
    err = result.stderr.decode()
    assert_clean_stderr(result.stderr)
    assert err.index("[1/3] openai/gpt-x") < err.index("[2/3] anthropic/claude-x") < err.index("[3/3] ollama/llama3:8b")
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "ollama/llama3:8b" in errors[0] and "interrupted" in errors[0]
    assert "2 done, 1 failed" in err
    assert err.count("TTFT") == 3
    for server in servers:
        assert server.requests[0].json()["messages"][-1]["content"] == "Say hello"


def test_json_lines_parse_like_plain_ask_json_and_siblings_are_stored(servers: tuple[LoopbackServer, ...]) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    in_band_error = f"event: error\ndata: {json.dumps(overloaded)}\n\n".encode()
    servers[1].handler = lambda _r: Reply(parts=[anthropic_events(["Bon"], end=False) + in_band_error])
    result = ask(servers, "--json", "--compare", THREE, "q")
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    objects = [json.loads(line) for line in lines]
    assert [set(o) for o in objects] == [JSON_KEYS] * 3
    assert [(o["provider"], o["content"], o["finish_reason"]) for o in objects] == [
        ("openai", "Hello world", "stop"), ("anthropic", "Bon", "error"), ("ollama", "Hallo", "stop")]
    assert objects[2]["model"] == "llama3:8b" and objects[2]["usage"]["output_tokens"] == 2
    assert set(objects[0]["timings"]) == {"ttft_s", "duration_s"}
    ids = {o["conversation_id"] for o in objects}
    assert len(ids) == 1 and None not in ids
    assert result.stderr.count(b"error:") == 1 and b"Overloaded" in result.stderr
    assert_clean_stderr(result.stderr)
    conversation_id = objects[0]["conversation_id"]
    assert stored_replies(conversation_id) == [
        ("openai", "test-model", "Hello world", "stop"), ("anthropic", "claude-x", "Bon", "error"),
        ("ollama", "llama3:8b", "Hallo", "stop")]


def test_continue_goes_on_from_the_first_reply_with_system_prompt_and_attachment(
    servers: tuple[LoopbackServer, ...], tmp_path: Any
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes")
    first = ask(servers, "--compare", "gpt-x,anthropic:", "-s", "Be brief.", "-a", str(notes), "q1")
    assert first.returncode == 0, first.stderr
    assert first.stdout == b"Hello world\n\nBonjour"
    openai, anthropic, _ = servers
    assert openai.requests[0].json()["messages"][0] == {"role": "system", "content": "Be brief."}
    assert anthropic.requests[0].json()["system"] == "Be brief."
    assert "the notes" in json.dumps(anthropic.requests[0].json()["messages"])
    assert anthropic.requests[0].json()["model"] == "claude-sonnet-4-5"  # "anthropic:": its configured model
    again = ask(servers, "-c", "--compare", "gpt-x,anthropic:claude-x", "q2")
    assert again.returncode == 0, again.stderr
    for server in (openai, anthropic):
        messages = server.requests[-1].json()["messages"]
        assert [m["content"] for m in messages[-2:]] == ["Hello world", "q2"]  # the first reply's branch


def test_no_log_gives_a_null_conversation_id(servers: tuple[LoopbackServer, ...]) -> None:
    result = ask(servers, "--json", "--no-log", "--compare", "gpt-x,ollama:llama3:8b", "q")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["conversation_id"] for line in result.stdout.splitlines()] == [None, None]


def test_a_terminal_gets_headers_figures_and_a_summary(servers: tuple[LoopbackServer, ...]) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: llmchat on a pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "llmchat", "ask", "--compare", THREE, "hi"],
                  {**env_of(servers), "COLUMNS": "100", "TERM": "xterm"})
    out = b""
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            out += data
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    text = out.decode()
    heads = [text.index(f"[{n}/3] {label}") for n, label in
             enumerate(["openai/gpt-x", "anthropic/claude-x", "ollama/llama3:8b"], 1)]
    assert heads == sorted(heads)
    assert text.index("Hello world") < heads[1] < text.index("Bonjour") < heads[2] < text.index("Hallo")
    assert text.count("TTFT") == 3 and "3 models: 3 done" in text
    assert "9 in / 2 out tokens" in text


@pytest.mark.parametrize(("spec", "extra", "words"), [
    ("", (), b"no model"),
    ("gpt-x,,ollama:m", (), b"empty"),
    ("gpt-x,openai:gpt-x", (), b"twice"),
    ("ollama:llama3,ollama:llama3:latest,ollama:llama3", (), b"twice"),
    ("antropic:claude-x", (), b"did you mean 'anthropic'"),
    ("gpt\x1b[31mred,ollama:m", (), b"U+001B"),
    ("gpt\u202ex", (), b"U+202E"),
    ("gpt-x", ("-m", "other"), b"-m/--model"),
    ("gpt-x", ("--tools",), b"--tools"),
    ("gpt-x", ("--reasoning",), b"--reasoning"),
    ("gpt-x", ("--complete",), b"--complete"),
])
def test_bad_usage_is_one_line_and_exit_2(
    servers: tuple[LoopbackServer, ...], spec: str, extra: tuple[str, ...], words: bytes
) -> None:
    result = ask(servers, *extra, "--compare", spec, "hi")
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert result.stderr.count(b"\n") == 1 and b"\x1b" not in result.stderr and "\u202e".encode() not in result.stderr
    assert result.stdout == b""
    assert_clean_stderr(result.stderr)
    assert all(server.requests == [] for server in servers)


def test_a_target_without_its_key_is_bad_usage(servers: tuple[LoopbackServer, ...]) -> None:
    env = env_of(servers)
    del env["ANTHROPIC_API_KEY"], env["ANTHROPIC_BASE_URL"]  # api.anthropic.com needs a key (never reached)
    result = subprocess.run([sys.executable, "-m", "llmchat", "ask", "--compare", "gpt-x,anthropic:c", "hi"],
                            input=b"", env=env, capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 2 and b"ANTHROPIC_API_KEY" in result.stderr
    assert all(server.requests == [] for server in servers)


def test_dry_run_prints_one_per_target_and_sends_nothing(servers: tuple[LoopbackServer, ...]) -> None:
    result = ask(servers, "--dry-run", "--json", "--compare", THREE, "hi")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["provider"], o["model"]) for o in objects] == [
        ("openai", "gpt-x"), ("anthropic", "claude-x"), ("ollama", "llama3:8b")]
    plain = ask(servers, "--dry-run", "--compare", "gpt-x,ollama:llama3:8b", "hi")
    assert plain.returncode == 0
    blocks = plain.stdout.decode().split("\n\n")
    assert len(blocks) == 2 and blocks[0].startswith("provider: openai") and "model: llama3:8b" in blocks[1]
    assert all(server.requests == [] for server in servers)


def _stalling(servers: tuple[LoopbackServer, ...]) -> list[threading.Event]:
    """Each server sends one token ("A", "B", "C"), then stays silent until the client leaves."""
    sent = [threading.Event() for _ in servers]
    openai, anthropic, ollama = servers
    openai.handler = lambda _r: Reply(parts=[sse(chunk("", role=True), chunk("A"), done=False), sent[0].set, 60.0])
    anthropic.handler = lambda _r: Reply(parts=[anthropic_events(["B"], end=False), sent[1].set, 60.0])
    ollama.handler = lambda _r: Reply(parts=[ollama_lines(["C"], end=False), sent[2].set, 60.0], headers=NDJSON)
    return sent


@pytest.mark.parametrize(("signum", "json_output", "code"), [
    (signal.SIGINT, False, 130), (signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_ctrl_c_exits_130_with_every_partial_reply_flushed(
    servers: tuple[LoopbackServer, ...], signum: int, json_output: bool, code: int
) -> None:
    sent = _stalling(servers)
    args = ["--json"] if json_output else []
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", *args, "--compare", THREE, "hi"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_of(servers))
    try:
        for event, server in zip(sent, servers):
            assert event.wait(TIMEOUT), "a request never arrived"
            wait_until_read_and_idle(proc.pid, server.port, TIMEOUT)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, stderr
    assert_clean_stderr(stderr)
    if json_output:
        objects = [json.loads(line) for line in stdout.splitlines()]
        assert [(o["content"], o["finish_reason"]) for o in objects] == [
            ("A", "cancelled"), ("B", "cancelled"), ("C", "cancelled")]
    else:
        assert stdout == b"A\n\nB\n\nC"
    for server in servers:
        assert server.disconnected.wait(10), "a server never saw the client go away"


def test_plain_ask_does_not_load_compare(servers: tuple[LoopbackServer, ...]) -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('LOADED ' + ' '.join(sorted(m for m in sys.modules\n"
        "    if m in ('llmchat.chat.compare', 'llmchat.chat.targets', 'llmchat.ask_compare', 'llmchat.cli_compare')))"
        " + '\\n'))\n"
        "sys.argv = ['llmchat', 'ask', 'hi']\n"
        "from llmchat.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=b"", env=env_of(servers), capture_output=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello world"
    assert b"LOADED \n" in result.stderr


def test_a_closed_pipe_is_quiet(servers: tuple[LoopbackServer, ...]) -> None:
    parts: list[Any] = [sse(chunk("", role=True), done=False)]
    for _ in range(1000):  # over 20 s: far longer than llmchat may take to notice
        parts += [sse(chunk("xxxxxxxx"), done=False), 0.02]
    servers[0].handler = lambda _r: Reply(parts=[*parts, sse(chunk(finish="stop"))])
    command = f"{sys.executable} -m llmchat ask --compare {THREE} hi | head -c 3"
    result = subprocess.run(["bash", "-c", command], input=b"", env=env_of(servers), capture_output=True,
                            timeout=TIMEOUT)
    assert result.stdout == b"xxx"
    assert_clean_stderr(result.stderr)
    assert servers[0].disconnected.wait(10)
