"""Command tools get a minimal environment, not llmchat's keys (issue 20)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from llmchat.chat.process import minimal_environment
from llmchat.chat.tools import CommandTool, tools_from_config
from llmchat.errors import ConfigError

DUMP = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"OPENAI_API_KEY": "sk-live", "ANTHROPIC_API_KEY": "sk-ant", "GITHUB_TOKEN": "ghp_x",
                        "AWS_SECRET_ACCESS_KEY": "aws", "SSH_AUTH_SOCK": "/tmp/agent", "MY_SETTING": "1",
                        "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TERM": "xterm"}.items():
        monkeypatch.setenv(name, value)


async def environment_of(**settings: Any) -> dict[str, str]:
    tool = CommandTool(name="dump", description="env", command=DUMP, read_only=True, **settings)
    return json.loads(await tool.run({}))


async def test_the_command_gets_a_minimal_environment() -> None:
    env = await environment_of()
    assert env["LLMCHAT_TOOL"] == "dump"
    assert {"PATH", "HOME", "LANG", "LC_ALL", "TERM"} <= set(env)
    for secret in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SSH_AUTH_SOCK",
                   "MY_SETTING"):
        assert secret not in env
    assert "sk-live" not in json.dumps(env)


async def test_the_config_passes_named_variables_or_everything() -> None:
    env = await environment_of(env=("GITHUB_TOKEN", "NOT_SET_ANYWHERE"))
    assert env["GITHUB_TOKEN"] == "ghp_x" and "NOT_SET_ANYWHERE" not in env and "OPENAI_API_KEY" not in env
    env = await environment_of(inherit_env=True)
    assert env["OPENAI_API_KEY"] == "sk-live" and env["MY_SETTING"] == "1" and env["LLMCHAT_TOOL"] == "dump"


def test_minimal_environment_reads_the_given_source() -> None:
    source = {"PATH": "/bin", "LC_CTYPE": "C", "XYZ_API_KEY": "k", "EXTRA": "e"}
    assert minimal_environment(source=source) == {"PATH": "/bin", "LC_CTYPE": "C"}
    assert minimal_environment(["EXTRA"], source) == {"PATH": "/bin", "LC_CTYPE": "C", "EXTRA": "e"}


def test_env_settings_from_the_config() -> None:
    [tool] = tools_from_config({"t": {"command": "x", "env": ["GITHUB_TOKEN"], "inherit_env": False}})
    assert isinstance(tool, CommandTool) and tool.env == ("GITHUB_TOKEN",) and not tool.inherit_env
    for spec, message in [({"env": "GITHUB_TOKEN"}, "'env' must be a list"), ({"env": ["A B"]}, "'env' must be a list"),
                          ({"env": [5]}, "'env' must be a list"), ({"inherit_env": "yes"}, "'inherit_env' must be true")]:
        with pytest.raises(ConfigError, match=message):
            tools_from_config({"t": {"command": "x", **spec}})
