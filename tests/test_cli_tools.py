"""`llmchat ask` with tools, SIGTERM and --debug — real subprocesses, loopback server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.loopback import LoopbackServer, Reply, chunk, completion, sse
from tests.test_cli import TIMEOUT, assert_clean_stderr, cli_env


def tool_call_reply(name: str, arguments: str) -> Reply:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return Reply(parts=[sse(chunk(None, role=True, tool_calls=[call]), chunk(finish="tool_calls"))])


def run(server: LoopbackServer, cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llmchat", "ask", *args], cwd=cwd, env=cli_env(server),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)


def scripted(*replies: Reply):
    queue = list(replies)
    return lambda _request: queue.pop(0)


def test_read_file_tool_round_trip(server: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("The secret word is pelican.\n")
    server.handler = scripted(tool_call_reply("read_file", '{"path": "notes.txt"}'),
                              Reply(parts=[completion(["The word is ", "pelican."])]))
    result = run(server, tmp_path, "-T", "read_file", "--json", "What is the word?")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["content"] == "The word is pelican." and out["finish_reason"] == "stop"
    second = server.requests[1].json()
    assert [t["function"]["name"] for t in second["tools"]] == ["read_file"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert "pelican" in tool_message["content"]
    assert b"llmchat: tool read_file" in result.stderr
    assert_clean_stderr(result.stderr)


def test_tools_are_off_without_a_flag(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["plain"])])
    assert run(server, tmp_path, "hi").stdout == b"plain"
    assert "tools" not in server.requests[-1].json()


def test_a_tool_that_is_not_read_only_needs_yes(server: LoopbackServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat"
    config_dir.mkdir(parents=True, exist_ok=True)
    script = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('yes'); print('done')"
    (config_dir / "config.toml").write_text(
        "[tools.touch]\ndescription = \"Touch a file\"\n"
        f"command = {json.dumps([sys.executable, '-c', script])}\n"
        "parameters = { type = \"object\", properties = {} }\n"
    )
    server.handler = scripted(tool_call_reply("touch", "{}"), Reply(parts=[completion(["ok"])]))
    denied = run(server, tmp_path, "-T", "touch", "go")
    assert denied.returncode == 0 and not marker.exists()
    assert b"denied" in denied.stderr
    assert "denied" in server.requests[1].json()["messages"][-1]["content"]

    server.handler = scripted(tool_call_reply("touch", "{}"), Reply(parts=[completion(["ok"])]))
    allowed = run(server, tmp_path, "-T", "touch", "--yes", "go")
    assert allowed.returncode == 0, allowed.stderr
    assert marker.read_text() == "yes"


def test_unknown_tool_name_is_a_usage_error(server: LoopbackServer, tmp_path: Path) -> None:
    result = run(server, tmp_path, "-T", "nope", "hi")
    assert result.returncode == 2 and b"nope" in result.stderr
    assert server.requests == []


def test_sigterm_keeps_what_arrived_and_closes_the_stream(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("partial answer"), done=False), 30.0])
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", "hi"], cwd=tmp_path, env=cli_env(server),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.read(14) == b"partial answer"
        proc.send_signal(signal.SIGTERM)
        rest, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and rest == b""
    assert b"terminated" in stderr
    assert_clean_stderr(stderr)
    assert server.disconnected.wait(5)


def test_debug_log_is_written_without_the_key(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    result = run(server, tmp_path, "--debug", "hi")
    assert result.returncode == 0 and result.stdout == b"ok"
    logs = list((Path(os.environ["XDG_STATE_HOME"]) / "llmchat").glob("debug-*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "chat/completions" in text and "sk-test" not in text




def test_tool_output_is_cut_to_the_configured_size(server: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 5000)
    config_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.toml").write_text("tool_output_chars = 300\n")
    server.handler = scripted(tool_call_reply("read_file", '{"path": "big.txt"}'), Reply(parts=[completion(["ok"])]))
    result = run(server, tmp_path, "-T", "read_file", "read it")
    assert result.returncode == 0, result.stderr
    sent = server.requests[1].json()["messages"][-1]["content"]
    assert sent.count("x") <= 300 and len(sent) < 600


def test_tool_calls_survive_in_the_history_and_are_sent_back(server: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("pelican\n")
    server.handler = scripted(tool_call_reply("read_file", '{"path": "notes.txt"}'),
                              Reply(parts=[completion(["It says pelican."])]))
    assert run(server, tmp_path, "-T", "read_file", "What does notes.txt say?").returncode == 0
    server.handler = lambda _r: Reply(parts=[completion(["Yes."])])
    again = run(server, tmp_path, "-c", "Sure?")
    assert again.returncode == 0, again.stderr
    sent = server.requests[-1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    call = sent[1]["tool_calls"][0]
    assert (call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "call_1", "read_file", {"path": "notes.txt"})
    assert sent[2]["tool_call_id"] == "call_1" and "pelican" in sent[2]["content"]


def test_tool_call_notes_on_stderr_are_made_safe(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = scripted(tool_call_reply("read_file", "{\"path\": \"\x1b]52;c;ZXZpbA==\x07x\"}"),
                              Reply(parts=[completion(["ok"])]))
    result = run(server, tmp_path, "-T", "read_file", "go")
    assert result.returncode == 0, result.stderr
    assert b"llmchat: tool read_file(" in result.stderr
    assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr
