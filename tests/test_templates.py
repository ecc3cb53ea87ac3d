"""Reusable prompts (issue 17): [templates.NAME] in the config, `ask -t NAME`, `llmchat
templates`, and `/template NAME` in the session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmchat.config import load_settings
from llmchat.errors import ConfigError
from llmchat.templates import PromptTemplate
from tests.loopback import LoopbackServer, Reply, completion
from tests.test_cli import TIMEOUT, ask, cli_env

CONFIG = '''
[templates.commit]
description = "A commit message for a diff"
system = "You write terse commit messages."
model = "commit-model"
options = { temperature = 0.2 }
prompt = "Write a commit message for this diff:\\n\\n$input"

[templates.terse]
system = "Answer in one line."
'''


def write_config(text: str = CONFIG) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_render() -> None:
    assert PromptTemplate("t", prompt="Fix: $input (cost $$5)").render("bug") == "Fix: bug (cost $5)"
    assert PromptTemplate("t", prompt="Summarize.").render("text") == "Summarize.\n\ntext"
    assert PromptTemplate("t").render("as is") == "as is"


@pytest.mark.parametrize("text", ['[templates.x]\nprompt = 3\n', '[templates.x]\nsytem = "typo"\n',
                                  'templates = "x"\n', '[templates.x]\noptions = { temperature = 9 }\n'])
def test_a_bad_template_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="templates"):
        load_settings(path, {})


def test_ask_with_a_template(server: LoopbackServer) -> None:
    write_config()
    server.handler = lambda _r: Reply(parts=[completion(["Fix the parser"])])
    result = ask(server, "-t", "commit", stdin=b"--- a/x\n+++ b/x\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Fix the parser"
    body = server.requests[-1].json()
    assert body["model"] == "commit-model" and body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "You write terse commit messages."},
        {"role": "user", "content": "Write a commit message for this diff:\n\n--- a/x\n+++ b/x\n"},
    ]
    flagged = ask(server, "--template", "terse", "-m", "other", "-s", "mine", "hi")  # flags win
    assert flagged.returncode == 0, flagged.stderr
    body = server.requests[-1].json()
    assert body["model"] == "other" and body["messages"][0] == {"role": "system", "content": "mine"}


def test_an_unknown_template_is_a_usage_error(server: LoopbackServer) -> None:
    write_config()
    result = ask(server, "-t", "nope", "hi")
    assert result.returncode == 2 and b"unknown template 'nope'" in result.stderr and b"commit, terse" in result.stderr
    assert server.requests == []


def test_templates_are_listed() -> None:
    write_config()
    result = subprocess.run([sys.executable, "-m", "llmchat", "templates"], env=cli_env(None),
                            capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines[0].split() [:1] == ["commit"] and "A commit message for a diff" in lines[0]
    assert lines[1].startswith("terse") and "system: Answer in one line." in lines[1]


async def test_slash_template_in_the_session(tmp_path: Path) -> None:
    from llmchat.providers.events import ContentDelta, Finish
    from tests.fakes import FakeProvider
    from tests.tui.helpers import SIZE, make_app, send, wait_until

    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(path, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    provider = FakeProvider([ContentDelta("ok"), Finish("stop", "stop")])
    app = make_app(provider, settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await send(pilot, "/template commit the diff")
        await wait_until(pilot, lambda: len(provider.requests) == 1 and not screen.streaming)
        request = provider.requests[0]
        assert request.model == "commit-model" and request.system == "You write terse commit messages."
        assert request.messages[-1]["content"] == "Write a commit message for this diff:\n\nthe diff"
        assert request.options["temperature"] == 0.2
        await send(pilot, "/template terse")
        await wait_until(pilot, lambda: screen.conversation.system == "Answer in one line.")
