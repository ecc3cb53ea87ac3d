"""First run for every provider (issue 17): with only another provider's key (or a key in
the key file, or a local Ollama), `llmchat ask` uses it instead of asking for an OpenAI key;
several are listed; a provider the user chose is never replaced."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmchat.cli_shared import ensure_credentials
from llmchat.config import load_settings
from llmchat.discovery import LocalServer
from llmchat.first_run import remember_provider
from tests.loopback import LoopbackServer, Reply, Request, json_reply, split_every
from tests.test_cli import ask, assert_clean_stderr, cli_env
from tests.test_cli_options import ANTHROPIC_STREAM

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens there


def test_only_an_anthropic_key_is_used_by_ask(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=split_every(ANTHROPIC_STREAM, 7))
    env = cli_env(None, ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=server.base_url,
                  OLLAMA_HOST=CLOSED)
    result = ask(None, "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Bonjour 🌍".encode()
    assert b"no OpenAI API key" not in result.stderr
    assert b"using anthropic (ANTHROPIC_API_KEY is set)" in result.stderr
    assert server.requests[-1].path == "/v1/messages"
    assert server.requests[-1].headers["x-api-key"] == "sk-ant-test"
    assert_clean_stderr(result.stderr)


def test_a_local_ollama_is_used_through_its_native_api(server: LoopbackServer) -> None:
    line = {"model": "qwen3", "message": {"role": "assistant", "content": "Hi"}, "done": True,
            "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1}

    def handler(request: Request) -> Reply:
        if request.path == "/api/tags":
            return json_reply(200, {"models": [{"name": "qwen3:latest"}, {"name": "llama3.2"}]})
        return Reply(parts=[json.dumps(line).encode() + b"\n"], headers={"content-type": "application/x-ndjson"})

    server.handler = handler
    result = ask(None, "--json", "hi", env=cli_env(None, OLLAMA_HOST=f"127.0.0.1:{server.port}"))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert (obj["provider"], obj["content"]) == ("ollama", "Hi")
    assert [r.path for r in server.requests] == ["/api/tags", "/api/chat"]
    assert server.requests[-1].json()["model"] == "llama3.2"  # the first of the sorted list
    assert b"Ollama at http://127.0.0.1:" in result.stderr


def test_several_are_listed_and_nothing_is_sent_without_a_terminal(server: LoopbackServer) -> None:
    env = cli_env(None, ANTHROPIC_API_KEY="sk-ant", GROQ_API_KEY="gsk", OLLAMA_HOST=CLOSED,
                  ANTHROPIC_BASE_URL=server.base_url)
    result = ask(None, "hi", env=env)
    assert result.returncode == 2 and result.stdout == b""
    err = result.stderr.decode()
    assert "1. anthropic (ANTHROPIC_API_KEY is set)" in err and "2. groq (GROQ_API_KEY is set)" in err
    assert "-p NAME" in err
    assert server.requests == []


def test_a_key_in_the_key_file_counts(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=split_every(ANTHROPIC_STREAM, 7))
    env = cli_env(None, OLLAMA_HOST=CLOSED, ANTHROPIC_BASE_URL=server.base_url)
    subprocess.run([sys.executable, "-m", "llmchat", "keys", "set", "anthropic"], input=b"sk-file\n",
                   env=env, check=True, capture_output=True, timeout=60)
    result = ask(None, "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert b"using anthropic (key in the key file)" in result.stderr
    assert server.requests[-1].headers["x-api-key"] == "sk-file"


def test_a_chosen_provider_is_kept_and_no_base_url_advice(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    async def servers() -> list[LocalServer]:
        return [LocalServer("LM Studio", "http://127.0.0.1:1234/v1", ("m",))]

    monkeypatch.setattr("llmchat.discovery.find_local_servers", servers)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    monkeypatch.setenv("OLLAMA_HOST", CLOSED)
    settings = load_settings(None, {}, provider="groq")
    with pytest.raises(SystemExit) as exit_info:
        ensure_credentials(settings, interactive=False)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "GROQ_API_KEY" in err
    assert "OPENAI_BASE_URL" not in err and "anthropic" not in err


def test_remember_provider_goes_before_the_tables(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "config.toml"  # type: ignore[operator]
    path.write_text('model = "x"\n[options]\ntemperature = 0.5\n')
    assert remember_provider(path, "groq") is None
    settings = load_settings(path, {})
    assert settings.provider.name == "groq" and settings.options == {"temperature": 0.5}
    assert settings.provider_explicit
