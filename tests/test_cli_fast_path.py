"""`llmchat ask` is parsed without Typer when the command line is plain (llmchat.cli.parse_ask),
with exactly Typer's meaning; anything else still goes through Typer."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from llmchat import cli, cli_app
from llmchat.cli import Choice, parse_ask
from tests.loopback import LoopbackServer, Reply, completion
from tests.test_cli import TIMEOUT, cli_env

DEFAULTS: dict[str, Any] = {
    "prompt": None, "provider": None, "model": None, "system": None, "json_output": False,
    "reasoning": False, "complete": False, "continue_latest": False, "conversation": None,
    "no_log": False, "dry_run": False, "temperature": None, "top_p": None, "max_tokens": None, "stop": None,
    "seed": None, "reasoning_effort": None, "thinking_budget": None, "all_tools": False, "tool": None,
    "yes": False, "debug": False, "mcp": None, "mcp_config": None,
    "attach": None, "template": None, "compare": None,
}

PLAIN = [
    ["hello"],
    [],
    [""],
    ["-m", "gpt-4o", "hello"],
    ["hello", "-m", "gpt-4o"],
    ["--model=gpt-4o", "--provider", "groq", "-s", "Be terse.", "hi"],
    ["--system", "", "hi"],
    ["--json", "--reasoning", "--complete", "-c", "--no-log", "hi"],
    ["--continue", "--conversation", "01ABC", "hi"],
    ["--temperature", "0.7", "--top-p", "1", "--max-tokens", "512", "--seed", "0", "hi"],
    ["--temperature=0", "--thinking-budget", "2048", "--reasoning-effort", "high", "hi"],
    ["--stop", "END", "--stop=###", "--stop", "", "hi"],
    ["-p", "ollama", "-m", "llama3.2", "naïve café 東京 🚀"],
    ["--json", "--json", "hi"],
    ["--tools", "--yes", "-T", "read_file", "--tool=list_directory", "--debug", "hi"],
    ["--mcp", "files", "--mcp=all", "--mcp-config", "servers.json", "hi"],
    ["-a", "shot.png", "--attach", "notes.txt", "--attach=src", "hi"],
    ["-t", "commit", "hi"],
    ["--template=commit", "hi"],
    ["--compare", "gpt-4o-mini,anthropic:claude-3-5-haiku,ollama:llama3:8b", "hi"],
]

NOT_PLAIN = [
    ["-h"],
    ["--help"],
    ["-mgpt-4o", "hi"],
    ["-m=gpt-4o", "hi"],
    ["--", "-x"],
    ["-"],
    ["a", "b"],
    ["-m"],
    ["-m", "-x", "hi"],
    ["--unknown", "hi"],
    ["--json=1", "hi"],
    ["-cm", "x", "hi"],
    ["-m", "a", "-m", "b", "hi"],
    ["--temperature", "abc", "hi"],
    ["--temperature", "1e3", "hi"],
    ["--temperature", ".5", "hi"],
    ["--temperature", "-0.5", "hi"],
    ["--max-tokens", "1.5", "hi"],
    ["--max-tokens", "007", "hi"],
    ["hi\udcff"],
]


def typer_parse(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> dict[str, Any]:
    """What Typer passes to the ask command for ``llmchat ask ARGS``."""
    seen: dict[str, Any] = {}

    def capture(parent: Choice, **kwargs: Any) -> None:
        seen.update(kwargs, parent=parent)

    monkeypatch.setattr(cli_app, "ask_command", capture)
    cli_app.app(["ask", *args], standalone_mode=False)
    return seen


@pytest.mark.parametrize("args", PLAIN, ids=lambda a: " ".join(a) or "(none)")
def test_plain_command_lines_mean_what_they_mean_to_typer(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    fast = parse_ask(args)
    assert fast is not None
    expected = typer_parse(monkeypatch, args)
    assert expected.pop("parent") == Choice()
    got = {**DEFAULTS, **fast}
    assert {k: (v, type(v)) for k, v in got.items()} == {k: (v, type(v)) for k, v in expected.items()}


@pytest.mark.parametrize("args", NOT_PLAIN, ids=lambda a: " ".join(a))
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse_ask(args) is None


def test_cli_app_is_reachable_as_before() -> None:
    assert cli.app is cli_app.app


def test_plain_ask_never_imports_typer_pydantic_rich_textual_or_mcp(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[completion(["Hello"])])
    code = (
        "import atexit, sys\n"
        "heavy = ('typer', 'click', 'pydantic', 'pydantic_core', 'rich', 'textual', 'mcp', 'mcp_types',"
        " 'httpx2')\n"
        "atexit.register(lambda: sys.stderr.write('HEAVY ' + ' '.join(sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] in heavy)) + '\\n'))\n"
        "sys.argv = ['llmchat', 'ask', '-m', 'test-model', '--temperature', '0.5', 'hi']\n"
        "from llmchat.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=b"", env=cli_env(server),
                            capture_output=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello"
    assert b"HEAVY \n" in result.stderr, result.stderr
    assert server.requests[-1].json()["temperature"] == 0.5


def test_help_still_comes_from_typer(server: LoopbackServer) -> None:
    result = subprocess.run([sys.executable, "-m", "llmchat", "ask", "--help"], input=b"",
                            env=cli_env(server), capture_output=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0
    assert b"Ask once and stream the answer to stdout." in result.stdout
    assert b"--temperature" in result.stdout
