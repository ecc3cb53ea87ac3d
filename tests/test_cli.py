"""`llmchat ask` end to end: a real subprocess against the loopback server.

The contract under test is shared/DESIGN.md, "Command-line contract" and "Environment and files".
Every subprocess gets an explicit stdin (so it never inherits the test runner's) and a timeout.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from llmchat.ask import join_prompt
from tests.loopback import (
    DROP,
    LoopbackServer,
    Reply,
    Request,
    chunk,
    completion,
    json_reply,
    split_every,
    sse,
)
from tests.procwait import wait_until_read_and_idle

TIMEOUT = 120
JSON_KEYS = {"provider", "model", "content", "reasoning", "tool_calls", "finish_reason", "usage", "refusal",
             "conversation_id", "timings", "cost"}


def cli_env(server: LoopbackServer | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if server is not None:
        env["OPENAI_BASE_URL"] = server.base_url
        env["OPENAI_API_KEY"] = "sk-test"
    env.update(extra)
    return env


def ask(
    server: LoopbackServer | None,
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    before_ask: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m llmchat [before_ask] ask ARGS`` with `stdin` piped in."""
    return subprocess.run(
        [sys.executable, "-m", "llmchat", *before_ask, "ask", *args],
        input=stdin,
        env=env if env is not None else cli_env(server),
        capture_output=True,
        timeout=TIMEOUT,
    )


def assert_clean_stderr(stderr: bytes) -> None:
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr


def stream_of(*texts: str, **kw: Any) -> Reply:
    return Reply(parts=[completion(list(texts), **kw)])


def last_body(server: LoopbackServer) -> dict[str, Any]:
    assert server.requests, "the server received no request"
    return server.requests[-1].json()


# -- join_prompt (unit) ----------------------------------------------------------------------


def test_join_prompt_puts_prompt_first_then_a_blank_line_then_stdin() -> None:
    assert join_prompt("Summarize", "line 1\nline 2\n") == "Summarize\n\nline 1\nline 2\n"
    assert join_prompt("only prompt", None) == "only prompt"
    assert join_prompt("only prompt", "") == "only prompt"
    assert join_prompt(None, "only stdin\n") == "only stdin\n"
    assert join_prompt("", "only stdin") == "only stdin"
    assert join_prompt(None, None) == ""


# -- stdout is exactly the content ----------------------------------------------------------


def test_piped_stdout_is_exactly_the_content(server: LoopbackServer) -> None:
    server.handler = lambda r: stream_of("Hello", ",", " world", "!")
    result = ask(server, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert_clean_stderr(result.stderr)
    body = last_body(server)
    assert server.requests[-1].path == "/v1/chat/completions"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-test"
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_piped_stdout_is_byte_exact_for_utf8_markdown_and_trailing_newlines(server: LoopbackServer) -> None:
    tokens = ["# Title\n\n", "héllo 世界 🎉", "\n\n* **bold** and `code`\n", "```py\nx = 1\n```\n", "\n\n"]
    expected = "".join(tokens).encode("utf-8")
    # Cut the wire bytes every 5 bytes so SSE lines and UTF-8 characters arrive split.
    server.handler = lambda r: Reply(parts=split_every(completion(tokens), 5))
    result = ask(server, "write markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert_clean_stderr(result.stderr)


def test_prompt_and_piped_stdin_are_joined_prompt_first(server: LoopbackServer) -> None:
    stdin = "diff --git a/x b/x\n+héllo\n"
    result = ask(server, "Write a commit message", stdin=stdin.encode())
    assert result.returncode == 0, result.stderr
    assert last_body(server)["messages"][-1] == {
        "role": "user",
        "content": "Write a commit message\n\n" + stdin,
    }


def test_stdin_alone_is_the_prompt(server: LoopbackServer) -> None:
    result = ask(server, stdin=b"just the piped text\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert last_body(server)["messages"][-1]["content"] == "just the piped text\n"


def test_prompt_with_terminal_stdin_does_not_read_stdin(server: LoopbackServer) -> None:
    """With a PROMPT and stdin a terminal, llmchat must not wait for stdin."""
    master, slave = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "llmchat", "ask", "from the prompt"],
            stdin=slave,
            env=cli_env(server),
            capture_output=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert last_body(server)["messages"][-1]["content"] == "from the prompt"


def test_no_prompt_and_empty_stdin_is_usage_error(server: LoopbackServer) -> None:
    result = ask(server, stdin=b"")
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"prompt" in result.stderr
    assert_clean_stderr(result.stderr)
    assert server.requests == []


# -- --json -----------------------------------------------------------------------------------


def test_json_prints_exactly_one_object(server: LoopbackServer) -> None:
    server.handler = lambda r: stream_of("héllo", " 世界\n", "🎉")
    result = ask(server, "--json", "hi")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == 1  # one line, one object
    obj = json.loads(text)
    assert set(obj) == JSON_KEYS
    assert obj["provider"] == "openai"
    assert obj["model"] == "test-model"  # the model the server says answered (the chunks' `model`)
    assert obj["content"] == "héllo 世界\n🎉"
    assert obj["reasoning"] == ""
    assert obj["tool_calls"] == []
    assert obj["finish_reason"] == "stop"
    assert obj["usage"] == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert obj["refusal"] is None
    assert_clean_stderr(result.stderr)


def test_json_usage_is_null_when_the_server_sent_none(server: LoopbackServer) -> None:
    server.handler = lambda r: stream_of("no", " usage", usage=False)
    result = ask(server, "--json", "hi")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["content"] == "no usage"
    assert obj["usage"] is None  # never invented zeros


def test_json_reports_tool_calls_and_refusal(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        return Reply(parts=[sse(
            chunk("", role=True),
            chunk(refusal="I can't help with that."),
            chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "lookup", "arguments": '{"q":'}}]),
            chunk(tool_calls=[{"index": 0, "function": {"arguments": ' "x"}'}}]),
            chunk(finish="tool_calls"),
        )])

    server.handler = handler
    result = ask(server, "--json", "hi")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["refusal"] == "I can't help with that."
    assert obj["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}]
    assert obj["finish_reason"] == "tool_calls"


def test_refusal_goes_to_stderr_in_plain_mode(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[sse(
        chunk("", role=True), chunk(refusal="I must decline."), chunk(finish="stop"))])
    result = ask(server, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert b"I must decline." in result.stderr


def test_length_finish_exits_0_with_warning_on_stderr_only(server: LoopbackServer) -> None:
    server.handler = lambda r: stream_of("cut", " off", finish="length")
    result = ask(server, "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"cut off"
    assert b"length" in result.stderr
    assert_clean_stderr(result.stderr)


# -- options reach the request -----------------------------------------------------------------


def test_model_and_system_flags_reach_the_request(server: LoopbackServer) -> None:
    result = ask(server, "-m", "my-model", "-s", "You are terse.", "hi")
    assert result.returncode == 0, result.stderr
    body = last_body(server)
    assert body["model"] == "my-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
    ]


def test_long_options_and_json_model(server: LoopbackServer) -> None:
    result = ask(server, "--model", "other-model", "--system", "Be brief.", "--json", "hi")
    assert result.returncode == 0, result.stderr
    body = last_body(server)
    assert body["model"] == "other-model"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert json.loads(result.stdout)["model"] == "test-model"  # the server answered with its own


def test_options_before_the_subcommand_are_shared(server: LoopbackServer) -> None:
    result = ask(server, "hi", before_ask=("-m", "parent-model", "-s", "parent system"))
    assert result.returncode == 0, result.stderr
    body = last_body(server)
    assert body["model"] == "parent-model"
    assert body["messages"][0] == {"role": "system", "content": "parent system"}


# -- exit statuses ----------------------------------------------------------------------------


def _unauthorized(request: Request) -> Reply:
    return json_reply(401, {"error": {"message": "Incorrect API key provided: sk-te***",
                                      "type": "invalid_request_error", "code": "invalid_api_key"}})


def test_http_401_exits_1_with_one_clear_line(server: LoopbackServer) -> None:
    server.handler = _unauthorized
    result = ask(server, "hi")
    assert result.returncode == 1
    assert result.stdout == b""
    assert_clean_stderr(result.stderr)
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "openai" in lines[0]
    assert "401" in lines[0]
    assert "Incorrect API key provided" in lines[0]


def test_http_401_with_json_still_prints_the_object(server: LoopbackServer) -> None:
    server.handler = _unauthorized
    result = ask(server, "--json", "hi")
    assert result.returncode == 1
    obj = json.loads(result.stdout)
    assert set(obj) == JSON_KEYS
    assert obj["finish_reason"] == "error"
    assert obj["content"] == ""
    assert obj["usage"] is None
    assert "401" in result.stderr.decode()
    assert_clean_stderr(result.stderr)


def _dropped(request: Request) -> Reply:
    return Reply(parts=[sse(chunk("", role=True), chunk("partial "), chunk("answer"), done=False), 0.05, DROP])


def test_stream_dropped_mid_content_exits_1_keeping_partial_output(server: LoopbackServer) -> None:
    server.handler = _dropped
    result = ask(server, "hi")
    assert result.returncode == 1
    assert result.stdout == b"partial answer"
    assert_clean_stderr(result.stderr)
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert b"interrupted" in result.stderr or b"lost" in result.stderr


def test_stream_dropped_with_json_prints_partial_object(server: LoopbackServer) -> None:
    server.handler = _dropped
    result = ask(server, "--json", "hi")
    assert result.returncode == 1
    obj = json.loads(result.stdout)
    assert set(obj) == JSON_KEYS
    assert obj["content"] == "partial answer"
    assert obj["finish_reason"] == "error"
    assert_clean_stderr(result.stderr)


def test_unknown_option_is_usage_error(server: LoopbackServer) -> None:
    result = ask(server, "--no-such-option", "hi")
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"no-such-option" in result.stderr
    assert_clean_stderr(result.stderr)
    assert server.requests == []


def test_unknown_provider_is_usage_error(server: LoopbackServer) -> None:
    result = ask(server, "-p", "no-such-provider", "hi")
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"no-such-provider" in result.stderr
    assert_clean_stderr(result.stderr)
    assert server.requests == []


def test_missing_credentials_exits_2_naming_openai_api_key() -> None:
    env = cli_env(None)
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    result = ask(None, "hi", env=env)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"OPENAI_API_KEY" in result.stderr
    assert_clean_stderr(result.stderr)


# -- Ctrl-C and closed pipes ------------------------------------------------------------------


def _paused(request: Request) -> Reply:
    """Sends some content, then stays silent far longer than any test waits."""
    return Reply(parts=[
        sse(chunk("", role=True), chunk("first "), chunk("part"), done=False),
        30.0,
        sse(chunk(" never sent"), chunk(finish="stop")),
    ])


def test_sigint_exits_130_keeping_partial_output_and_closing_the_stream(server: LoopbackServer) -> None:
    server.handler = _paused
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmchat", "ask", "hi"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(server),
    )
    try:
        received = b""
        deadline = time.monotonic() + TIMEOUT
        while received != b"first part" and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            data = os.read(proc.stdout.fileno(), 1024)
            if not data:
                break
            received += data
        assert received == b"first part"
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert received + rest == b"first part"
    assert_clean_stderr(stderr)
    assert server.disconnected.wait(5), "the server never saw the client go away"


def test_sigint_with_json_prints_partial_object_cancelled(server: LoopbackServer) -> None:
    sent = threading.Event()
    server.handler = lambda request: Reply(parts=[*_paused(request).parts[:1], sent.set, 30.0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmchat", "ask", "--json", "hi"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(server),
    )
    try:
        assert sent.wait(TIMEOUT), "no request arrived"
        # --json shows nothing until the end: wait until the client has read and handled the chunk.
        wait_until_read_and_idle(proc.pid, server.port, TIMEOUT)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    obj = json.loads(stdout)
    assert obj["content"] == "first part"
    assert obj["finish_reason"] == "cancelled"
    assert_clean_stderr(stderr)
    assert server.disconnected.wait(5)


def test_closed_pipe_is_quiet_and_stops_the_stream(server: LoopbackServer) -> None:
    tokens = [f"tok{i:04d} " for i in range(1000)]  # 8 bytes each, over 20 s: far longer than `ask` may take
    parts: list[Any] = [sse(chunk("", role=True), done=False)]
    for tok in tokens:
        parts += [sse(chunk(tok), done=False), 0.02]
    parts.append(sse(chunk(finish="stop")))
    server.handler = lambda request: Reply(parts=parts)
    command = f"{shlex.quote(sys.executable)} -m llmchat ask hi | head -c 20"
    result = subprocess.run(
        ["bash", "-c", command], stdin=subprocess.DEVNULL, env=cli_env(server),
        capture_output=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0
    assert result.stdout == "".join(tokens).encode()[:20]
    assert result.stderr == b"", result.stderr  # no traceback, no "Exception ignored"
    # `disconnected` is set only when the client leaves before the reply's end (20 s of tokens),
    # and `ask` has exited (subprocess.run returned): it stopped the stream, not the server.
    assert server.disconnected.wait(5), "the server never saw the client go away"


def test_closed_pipe_with_json_exits_0_quietly(server: LoopbackServer) -> None:
    # A JSON object far larger than a pipe buffer, read by a consumer that stops early.
    server.handler = lambda r: stream_of(*["x" * 1000] * 300)
    command = (
        f"{shlex.quote(sys.executable)} -m llmchat ask --json hi | head -c 5; "
        'echo " status=${PIPESTATUS[0]}"'
    )
    result = subprocess.run(
        ["bash", "-c", command], stdin=subprocess.DEVNULL, env=cli_env(server),
        capture_output=True, timeout=TIMEOUT,
    )
    assert result.stdout == b'{"pro status=0\n'
    assert result.stderr == b"", result.stderr


@pytest.mark.parametrize("status", [429, 500])
def test_other_http_errors_exit_1_with_the_server_message(server: LoopbackServer, status: int) -> None:
    reply = json_reply(status, {"error": {"message": f"server says {status}"}})
    reply.headers["retry-after-ms"] = "10"  # retried twice (visibly), quickly
    server.handler = lambda r: reply
    result = ask(server, "hi")
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 3 and len(server.requests) == 3
    assert all(line.startswith("llmchat: retrying in 0.0 s after openai: HTTP") for line in lines[:2])
    assert f"server says {status}" in lines[2] and str(status) in lines[2]
