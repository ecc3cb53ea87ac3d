"""`llmchat ask` with tools a prompt injection would abuse (issue 20) — real subprocesses,
loopback server: fetch_url to loopback, secrets through read_file, floods of calls, the
environment of command tools."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Reply, Request, chunk, completion, sse
from tests.test_cli import assert_clean_stderr
from tests.test_cli_tools import run, tool_call_reply


def config_file(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tool_messages(request: Request) -> list[dict[str, object]]:
    return [m for m in request.json()["messages"] if m["role"] == "tool"]


def model_then_local_page(server: LoopbackServer) -> None:
    """The model asks fetch_url for a page on the loopback server itself, then answers."""
    url = f"http://127.0.0.1:{server.port}/internal"

    def handler(request: Request) -> Reply:
        if request.path == "/internal":
            return Reply(parts=[b"internal secret"], headers={"content-type": "text/plain"})
        if sum(r.path.endswith("/chat/completions") for r in server.requests) == 1:
            return tool_call_reply("fetch_url", json.dumps({"url": url}))
        return Reply(parts=[completion(["done"])])

    server.handler = handler


def test_fetch_url_to_loopback_is_refused(server: LoopbackServer, tmp_path: Path) -> None:
    model_then_local_page(server)
    result = run(server, tmp_path, "-T", "fetch_url", "read the page")
    assert result.returncode == 0, result.stderr
    assert [r.path for r in server.requests if r.path == "/internal"] == []
    [answer] = tool_messages(server.requests[-1])
    assert "not a public address (loopback)" in str(answer["content"])
    assert b"fetch_url" in result.stderr and b"-> error" in result.stderr
    assert_clean_stderr(result.stderr)


def test_fetch_url_to_loopback_with_the_config_allowance(server: LoopbackServer, tmp_path: Path) -> None:
    config_file("[tools]\nallow_private_addresses = true\n")
    model_then_local_page(server)
    result = run(server, tmp_path, "-T", "fetch_url", "read the page")
    assert result.returncode == 0, result.stderr
    [answer] = tool_messages(server.requests[-1])
    assert str(answer["content"]).endswith("internal secret")


def home_with_secrets() -> Path:
    """The test's home (XDG_CONFIG_HOME's parent) with a key file, an SSH key and a .env."""
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat"
    config.mkdir(parents=True, exist_ok=True)
    (config / "keys.json").write_text('{"openai": "sk-from-the-key-file"}')
    home = config.parent.parent
    (home / ".ssh").mkdir(exist_ok=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-secret\n")
    return home


def model_reads(server: LoopbackServer, path: str) -> None:
    server.handler = lambda request: (
        tool_call_reply("read_file", json.dumps({"path": path}))
        if len(server.requests) == 1 else Reply(parts=[completion(["done"])]))


def test_read_file_never_sends_llmchat_own_key_file(server: LoopbackServer) -> None:
    home = home_with_secrets()
    model_reads(server, os.path.relpath(Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "keys.json", home))
    result = run(server, home, "-T", "read_file", "--yes", "read it")
    assert result.returncode == 0, result.stderr
    [answer] = tool_messages(server.requests[-1])
    assert "llmchat's own files" in str(answer["content"])
    assert b"sk-from-the-key-file" not in server.requests[-1].body
    assert_clean_stderr(result.stderr)


@pytest.mark.parametrize(("path", "secret"), [(".ssh/id_ed25519", b"PRIVATE KEY"), (".env", b"sk-ant-secret")])
@pytest.mark.parametrize("yes", [False, True])
def test_secret_locations_need_yes(server: LoopbackServer, path: str, secret: bytes, yes: bool) -> None:
    home = home_with_secrets()
    model_reads(server, path)
    result = run(server, home, "-T", "read_file", *(["--yes"] if yes else []), "read it")
    assert result.returncode == 0, result.stderr
    [answer] = tool_messages(server.requests[-1])
    if yes:
        assert secret in server.requests[-1].body
    else:
        assert "the user denied this call" in str(answer["content"]) and secret not in server.requests[-1].body
        assert b"(needs --yes: denied)" in result.stderr


def many_calls(name: str, arguments: str, count: int) -> Reply:
    calls = [{"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
             for i in range(count)]
    return Reply(parts=[sse(chunk(None, role=True, tool_calls=calls), chunk(finish="tool_calls"))])


def test_a_flood_of_tool_calls_runs_32_and_sends_a_bounded_request(server: LoopbackServer, tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("b" * 50_000)
    server.handler = lambda request: (
        many_calls("read_file", '{"path": "big.txt"}', 1000) if len(server.requests) == 1
        else Reply(parts=[completion(["done"])]))
    result = run(server, tmp_path, "-T", "read_file", "read everything")
    assert result.returncode == 0, result.stderr
    answers = [str(m["content"]) for m in tool_messages(server.requests[-1])]
    assert len(answers) == 1000
    assert sum("not run" in a for a in answers) == 1000 - 5  # 100,000 characters: 5 results of 20,000 and a note
    assert "[tool results truncated" not in "".join(answers[:4]) and "[tool results truncated" in answers[4]
    assert "at most 32 tool calls" in answers[-1] and "reached the limit of 100000" in answers[5]
    assert len(server.requests[-1].body) < 1_000_000  # was about 20 MB
    assert_clean_stderr(result.stderr)


def test_the_call_cap_comes_from_the_config(server: LoopbackServer, tmp_path: Path) -> None:
    config_file("max_tool_calls = 3\n")
    (tmp_path / "a.txt").write_text("a")
    server.handler = lambda request: (
        many_calls("read_file", '{"path": "a.txt"}', 10) if len(server.requests) == 1
        else Reply(parts=[completion(["done"])]))
    result = run(server, tmp_path, "-T", "read_file", "go")
    answers = [str(m["content"]) for m in tool_messages(server.requests[-1])]
    assert answers[:3] == ["a", "a", "a"] and all("at most 3 tool calls" in a for a in answers[3:]), result.stderr


def test_a_command_tool_does_not_see_the_api_key(server: LoopbackServer, tmp_path: Path) -> None:
    dump = [sys.executable, "-c", "import json, os; print(json.dumps(sorted(os.environ)))"]
    config_file(f"[tools.envdump]\nread_only = true\ncommand = {json.dumps(dump)}\n")
    server.handler = lambda request: (
        tool_call_reply("envdump", "{}") if len(server.requests) == 1 else Reply(parts=[completion(["done"])]))
    result = run(server, tmp_path, "-T", "envdump", "go")
    assert result.returncode == 0, result.stderr
    [answer] = tool_messages(server.requests[-1])
    names = json.loads(str(answer["content"]))
    assert "PATH" in names and "LLMCHAT_TOOL" in names
    assert "OPENAI_API_KEY" not in names and b"sk-test" not in server.requests[-1].body
