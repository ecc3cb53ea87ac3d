"""mcp.json parsing (llmchat.mcp.config) and tool naming (llmchat.mcp.tools.tool_names)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmchat.errors import ConfigError
from llmchat.mcp.config import load_mcp_config
from llmchat.mcp.tools import tool_names

CLAUDE_DESKTOP = {
    "mcpServers": {
        "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"], "env": {}},
        "remote": {"url": "https://host/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "legacy": {"url": "https://host/v1/sse?x=1"},
        "typed": {"type": "sse", "url": "https://host/events"},
        "http": {"type": "http", "url": "https://host/sse-not-really/mcp"},
        "off": {"command": "x", "disabled": True},
        "cline": {"command": "uvx", "args": ["srv"], "autoApprove": [], "timeout": 60},
    }
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_claude_desktop_file_is_read_as_is(tmp_path: Path) -> None:
    config = load_mcp_config(write(tmp_path, CLAUDE_DESKTOP), {"TOKEN": "s3cret"})
    servers = config.servers
    assert servers["everything"].transport == "stdio" and servers["everything"].command == "npx"
    assert servers["everything"].args == ("-y", "@modelcontextprotocol/server-everything")
    assert servers["remote"].transport == "http"
    assert servers["remote"].headers == {"Authorization": "Bearer s3cret"}
    assert servers["legacy"].transport == "sse" and servers["typed"].transport == "sse"
    assert servers["http"].transport == "http"
    assert servers["cline"].timeout == 60
    assert config.disabled == ("off",) and "off" not in servers
    assert config.problems == {}
    assert [s.name for s in config.select(["all"])] == list(servers)


def test_variables_expand_with_defaults_and_a_missing_one_breaks_only_its_server(tmp_path: Path) -> None:
    data = {"mcpServers": {
        "a": {"command": "${HOME}/bin/srv", "args": ["--key=${KEY:-dflt}"], "env": {"T": "${T}"}},
        "b": {"url": "https://h/mcp", "headers": {"Authorization": "Bearer ${MISSING}"}},
    }}
    config = load_mcp_config(write(tmp_path, data), {"HOME": "/home/u", "T": "tok"})
    a = config.servers["a"]
    assert (a.command, a.args, dict(a.env)) == ("/home/u/bin/srv", ("--key=dflt",), {"T": "tok"})
    assert "MISSING" in config.problems["b"] and "b" not in config.servers
    with pytest.raises(ConfigError, match="MISSING"):
        config.select(["b"])
    with pytest.raises(ConfigError, match="no MCP server named 'c'"):
        config.select(["c"])


@pytest.mark.parametrize("text", ["{oops", "[]", '{"mcpServers": []}', '{"other": {}}', "\udcff"])
def test_a_broken_file_is_one_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError) as info:
        load_mcp_config(path, {})
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "needs a \"command\""),
    ({"command": 3}, "needs a \"command\""),
    ({"command": "x", "args": "a b"}, "args must be a list"),
    ({"command": "x", "env": {"A": 1}}, "env must be an object of strings"),
    ({"url": "file:///etc/passwd"}, "must start with http"),
    ({"url": "https://h", "headers": ["x"]}, "headers must be an object"),
    ({"url": "https://h", "type": "carrier-pigeon"}, "type must be one of"),
    ({"command": "x", "timeout": -1}, "timeout must be a positive"),
    ("just a string", "must be an object"),
])
def test_a_broken_server_is_reported_and_the_others_stay(tmp_path: Path, spec: object, message: str) -> None:
    config = load_mcp_config(write(tmp_path, {"mcpServers": {"bad": spec, "good": {"command": "ok"}}}), {})
    assert message in config.problems["bad"]
    assert list(config.servers) == ["good"]


def test_a_missing_file_means_no_servers_unless_it_was_named(tmp_path: Path) -> None:
    assert load_mcp_config(tmp_path / "nope.json", {}).names == []
    with pytest.raises(ConfigError, match="no such MCP config file"):
        load_mcp_config(tmp_path / "nope.json", {}, required=True)


OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_tool_names_are_valid_everywhere_unique_and_stable() -> None:
    pairs = [
        ("files", "read"), ("my server", "get.thing"), ("a", "b__c"), ("a__b", "c"),
        ("x" * 40, "y" * 40), ("x" * 40, "y" * 39 + "z"), ("ü", "🚀"), ("files", "read"),
    ]
    names = tool_names(pairs)
    assert all(OPENAI_NAME.match(n) for n in names), names
    assert len(set(names)) == len(names)
    assert names[0] == "files__read" and names[1] == "my_server__get_thing"
    assert len(names[4]) == 64 and names[4] != names[5]
    assert tool_names(pairs) == names  # the same config gives the same names every run


def test_prompt_arguments_from_the_command_line() -> None:
    from mcp_types import PromptArgument

    from llmchat.mcp.prompts import McpPromptError, prompt_arguments

    args = [PromptArgument(name="repo", required=True), PromptArgument(name="message")]
    assert prompt_arguments("git.commit", args, "llmchat fix the parser") == {
        "repo": "llmchat", "message": "fix the parser"}
    assert prompt_arguments("git.commit", args, "message=hi repo=x") == {"message": "hi", "repo": "x"}
    assert prompt_arguments("git.commit", args, "'my repo'") == {"repo": "my repo"}
    with pytest.raises(McpPromptError, match=r"missing repo: use /git.commit REPO \[MESSAGE\]"):
        prompt_arguments("git.commit", args, "")
    with pytest.raises(McpPromptError, match="takes no arguments"):
        prompt_arguments("x.y", [], "extra")
    assert prompt_arguments("x.y", [], "  ") == {}
