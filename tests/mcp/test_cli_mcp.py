"""``llmchat mcp list|tools`` and ``llmchat ask --mcp`` as real subprocesses, with the test MCP
server over stdio and Streamable HTTP and a loopback LLM server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Reply, completion
from tests.mcp.conftest import pid_alive, stdio_entry, wait_for, write_mcp_json
from tests.test_cli import TIMEOUT, assert_clean_stderr, cli_env
from tests.test_cli_tools import scripted, tool_call_reply


def config_dir() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat"


def llmchat(*args: str, server: LoopbackServer | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llmchat", *args], env=cli_env(server),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)


@pytest.fixture
def mcp_json(work: Path, shared_http_url: str) -> Path:
    """mcp.json in the config directory: the test server over stdio and over HTTP, and a
    server that cannot start."""
    return write_mcp_json(config_dir() / "mcp.json", {
        "test": stdio_entry(work),
        "web": {"url": shared_http_url, "headers": {"X-Token": "${LLMCHAT_TEST_TOKEN:-none}"}},
        "broken": {"command": "llmchat-no-such-command"},
    })


def test_mcp_list_shows_servers_transports_and_tool_counts(mcp_json: Path) -> None:
    result = llmchat("mcp", "list", "--json")
    assert result.returncode == 1, result.stderr  # a server did not start: a runtime failure
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["test"] == {**rows["test"], "transport": "stdio", "started": True, "tools": 6, "error": None}
    assert rows["web"] == {**rows["web"], "transport": "http", "started": True, "tools": 6}
    assert rows["broken"]["started"] is False and "llmchat-no-such-command" in rows["broken"]["error"]
    plain = llmchat("mcp", "list")
    assert b"started  6 tools" in plain.stdout and b"broken" in plain.stdout
    assert_clean_stderr(plain.stderr)


def test_mcp_tools_lists_schemas_and_names(mcp_json: Path) -> None:
    result = llmchat("mcp", "tools", "web", "--json")
    assert result.returncode == 0, result.stderr
    tools = {t["name"]: t for t in json.loads(result.stdout)}
    assert tools["echo"]["llm_name"] == "web__echo" and tools["echo"]["read_only"] is True
    assert tools["echo"]["input_schema"]["properties"]["text"]["type"] == "string"
    assert tools["write_note"]["read_only"] is False


@pytest.mark.parametrize(("args", "code", "message"), [
    (("mcp", "tools", "nope"), 2, b"no MCP server named 'nope'"),
    (("mcp", "tools", "broken"), 1, b"did not start: command not found: llmchat-no-such-command"),
])
def test_mcp_tools_on_a_missing_or_broken_server_is_one_line(
    mcp_json: Path, args: tuple[str, ...], code: int, message: bytes
) -> None:
    result = llmchat(*args)
    assert result.returncode == code
    assert message in result.stderr and result.stderr.count(b"\n") == 1, result.stderr
    assert_clean_stderr(result.stderr)


@pytest.mark.parametrize("text", ["{not json", '{"mcpServers": 3}', "[]"])
def test_a_broken_mcp_json_is_a_config_error(text: str) -> None:
    (config_dir()).mkdir(parents=True, exist_ok=True)
    (config_dir() / "mcp.json").write_text(text)
    for args in (("mcp", "list"), ("mcp", "tools", "x"), ("ask", "--mcp", "x", "hi")):
        result = llmchat(*args)
        assert result.returncode == 2 and result.stderr.startswith(b"llmchat: error: "), result.stderr
        assert result.stderr.count(b"\n") == 1


def test_ask_mcp_runs_the_tool_loop(server: LoopbackServer, mcp_json: Path) -> None:
    server.handler = scripted(tool_call_reply("test__echo", '{"text": "pelican"}'),
                              Reply(parts=[completion(["The tool said pelican."])]))
    result = llmchat("ask", "--mcp", "test", "--json", "Use the tool", server=server)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["content"] == "The tool said pelican."
    first, second = (r.json() for r in server.requests)
    assert {t["function"]["name"] for t in first["tools"]} == {
        f"test__{n}" for n in ("echo", "add", "write_note", "fail", "picture", "slow")}
    tool_message = second["messages"][-1]
    assert tool_message == {"role": "tool", "tool_call_id": "call_1", "content": "echo: pelican"}
    assert_clean_stderr(result.stderr)


def test_ask_mcp_beside_tools_and_an_error_result(server: LoopbackServer, mcp_json: Path) -> None:
    server.handler = scripted(tool_call_reply("web__fail", '{"reason": "no disk"}'),
                              Reply(parts=[completion(["ok"])]))
    result = llmchat("ask", "--mcp", "web", "-T", "read_file", "go", server=server)
    assert result.returncode == 0, result.stderr
    names = {t["function"]["name"] for t in server.requests[0].json()["tools"]}
    assert "read_file" in names and "web__echo" in names and "test__echo" not in names
    sent = server.requests[1].json()["messages"][-1]
    assert sent["content"].startswith("Error:") and "no disk" in sent["content"]


def test_ask_mcp_tools_that_are_not_read_only_need_yes(
    server: LoopbackServer, mcp_json: Path, work: Path
) -> None:
    server.handler = scripted(tool_call_reply("test__write_note", '{"text": "hello"}'),
                              Reply(parts=[completion(["ok"])]))
    denied = llmchat("ask", "--mcp", "test", "go", server=server)
    assert denied.returncode == 0 and b"denied" in denied.stderr
    assert not (work / "note.txt").exists()
    server.handler = scripted(tool_call_reply("test__write_note", '{"text": "hello"}'),
                              Reply(parts=[completion(["ok"])]))
    allowed = llmchat("ask", "--mcp", "test", "--yes", "go", server=server)
    assert allowed.returncode == 0, allowed.stderr
    assert (work / "note.txt").read_text() == "hello"


def test_ask_mcp_problems(server: LoopbackServer, mcp_json: Path) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    missing = llmchat("ask", "--mcp", "nope", "hi", server=server)
    assert missing.returncode == 2 and b"no MCP server named 'nope'" in missing.stderr
    broken = llmchat("ask", "--mcp", "broken", "hi", server=server)
    assert broken.returncode == 1 and b"did not start" in broken.stderr
    assert server.requests == []  # nothing was sent
    every = llmchat("ask", "--mcp", "all", "hi", server=server)  # the rest goes on
    assert every.returncode == 0 and every.stdout == b"ok"
    assert b"warning: MCP server 'broken' did not start" in every.stderr
    assert {t["function"]["name"] for t in server.requests[-1].json()["tools"]} >= {"test__echo", "web__echo"}


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_no_server_outlives_ask(server: LoopbackServer, work: Path, how: str) -> None:
    """Ctrl-C or SIGTERM during a tool call cancels it on the server and stops the server;
    a crash (SIGKILL) closes the server's stdin, and the server exits."""
    path = write_mcp_json(work.parent / "servers.json", {"test": stdio_entry(work)})
    server.handler = scripted(tool_call_reply("test__slow", '{"seconds": 60}'), Reply(parts=[completion(["x"])]))
    proc = subprocess.Popen([sys.executable, "-m", "llmchat", "ask", "--mcp-config", str(path), "--mcp", "test", "go"],
                            env=cli_env(server), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for((work / "slow-started").exists, what="the tool call to start")
        pid = int((work / "pid").read_text())
        proc.send_signal(getattr(signal, how))
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(lambda: not pid_alive(pid), what="the MCP server to exit")
    if how != "SIGKILL":
        assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143}[how]
        assert (work / "slow-cancelled").exists()  # notifications/cancelled arrived first
        assert_clean_stderr(stderr)


def test_the_session_checks_mcp_before_it_starts(mcp_json: Path) -> None:
    """``llmchat --mcp NAME`` with an unknown name, or a broken --mcp-config, is one line and
    exit 2 before the full-screen session starts."""
    unknown = llmchat("--mcp", "nope")
    assert unknown.returncode == 2 and b"no MCP server named 'nope'" in unknown.stderr
    broken = config_dir() / "broken.json"
    broken.write_text("{")
    bad = llmchat("--mcp-config", str(broken))
    assert bad.returncode == 2 and b"not valid JSON" in bad.stderr and bad.stderr.count(b"\n") == 1
