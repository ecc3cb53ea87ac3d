"""`llmchat ask` with the Responses and Gemini providers, and the answering model in --json:
a real subprocess against the loopback server (shared/DESIGN.md, "More wire formats")."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse
from tests.streams import (
    GEMINI_MODEL,
    RESPONSES_MODEL,
    gemini_models,
    gemini_stream,
    gemini_usage,
    responses_stream,
    responses_usage,
)
from tests.test_cli import JSON_KEYS, ask, assert_clean_stderr


def responses_env(server: LoopbackServer, **extra: str) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", **extra}


def test_ask_openai_responses_json(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[responses_stream(
        ["Hé", "llo"], reasoning=["thinking"], usage=responses_usage(20, 2, cached=16, reasoning=5))])
    result = ask(server, "-p", "openai-responses", "--json", "-s", "sys", "hi", env=responses_env(server))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert JSON_KEYS <= set(obj)
    assert obj["provider"] == "openai-responses"
    assert obj["model"] == RESPONSES_MODEL  # the answering model, not the gpt-4o-mini asked for
    assert (obj["content"], obj["reasoning"], obj["finish_reason"]) == ("Héllo", "thinking", "stop")
    assert obj["usage"] == {"input_tokens": 20, "output_tokens": 2, "total_tokens": 22}
    request = server.requests[0]
    assert request.path == "/v1/responses"
    assert request.json()["instructions"] == "sys" and request.json()["model"] == "gpt-4o-mini"
    assert_clean_stderr(result.stderr)


def test_ask_openai_responses_continues_a_chat_completions_conversation(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/chat/completions"):
            return Reply(parts=[sse(chunk("first answer"), chunk(finish="stop"))])
        return Reply(parts=[responses_stream(["second"])])

    server.handler = handler
    env = responses_env(server)
    assert ask(server, "question one", env=env).returncode == 0
    result = ask(server, "-p", "openai-responses", "-c", "question two", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"second"
    assert server.requests[-1].json()["input"] == [
        {"role": "user", "content": "question one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "question two"},
    ]


def test_ask_openai_responses_truncated_stream_exits_1_keeping_the_text(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[responses_stream(["part", "ial"], terminal="none")])
    result = ask(server, "-p", "openai-responses", "hi", env=responses_env(server))
    assert result.returncode == 1
    assert result.stdout == b"partial"
    assert result.stderr.count(b"\n") == 1 and b"interrupted" in result.stderr
    assert_clean_stderr(result.stderr)


def test_complete_is_refused_for_the_responses_api(server: LoopbackServer) -> None:
    result = ask(server, "-p", "openai-responses", "--complete", "Once upon", env=responses_env(server))
    assert result.returncode == 2
    assert b"--complete" in result.stderr
    assert server.requests == []


def test_json_model_is_the_requested_one_when_the_stream_names_none(server: LoopbackServer) -> None:
    def nameless(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k != "model"}

    server.handler = lambda r: Reply(parts=[sse(nameless(chunk("x")), nameless(chunk(finish="stop")))])
    result = ask(server, "-m", "asked-for", "--json", "hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "asked-for"


def test_models_lists_the_responses_providers_models(server: LoopbackServer) -> None:
    import subprocess
    import sys

    server.handler = lambda r: json_reply(200, {"data": [{"id": "gpt-5"}, {"id": "o4-mini"}]})
    result = subprocess.run([sys.executable, "-m", "llmchat", "models", "-p", "openai-responses"],
                            env=responses_env(server), capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [b"gpt-5", b"o4-mini"]


# --- gemini ------------------------------------------------------------------------------


def gemini_env(server: LoopbackServer, **extra: str) -> dict[str, str]:
    return {**os.environ, "GEMINI_BASE_URL": f"http://127.0.0.1:{server.port}", "GOOGLE_API_KEY": "g-test-key",
            "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", **extra}


def test_ask_gemini_json_with_google_api_key(server: LoopbackServer) -> None:
    server.handler = lambda r: Reply(parts=[gemini_stream(
        ["Bon", "jour"], thoughts=["hmm"], usage=gemini_usage(10, 2, thoughts=6, cached=4))])
    result = ask(server, "-p", "gemini", "--json", "hi", env=gemini_env(server))
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert (obj["provider"], obj["model"], obj["content"], obj["reasoning"]) == ("gemini", GEMINI_MODEL, "Bonjour", "hmm")
    assert obj["usage"] == {"input_tokens": 10, "output_tokens": 8, "total_tokens": 18}
    request = server.requests[0]
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == "g-test-key"
    assert_clean_stderr(result.stderr)


def test_ask_gemini_continues_an_openai_conversation_and_refuses_complete(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/chat/completions"):
            return Reply(parts=[sse(chunk("first answer"), chunk(finish="stop"))])
        return Reply(parts=[gemini_stream(["second"])])

    server.handler = handler
    env = gemini_env(server)
    assert ask(server, "question one", env=env).returncode == 0
    result = ask(server, "-p", "gemini", "-c", "question two", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"second"
    assert server.requests[-1].json()["contents"] == [
        {"role": "user", "parts": [{"text": "question one"}]},
        {"role": "model", "parts": [{"text": "first answer"}]},
        {"role": "user", "parts": [{"text": "question two"}]},
    ]
    refused = ask(server, "-p", "gemini", "--complete", "Once", env=env)
    assert refused.returncode == 2 and b"--complete" in refused.stderr


def test_gemini_profile_and_models(server: LoopbackServer) -> None:
    import subprocess
    import sys
    from pathlib import Path

    server.handler = lambda r: json_reply(200, gemini_models())
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[providers.g]\nkind = "gemini"\nbase_url = "http://127.0.0.1:%d"\n'
                      'api_key_env = "MY_GEMINI_KEY"\n' % server.port)
    env = {**os.environ, "MY_GEMINI_KEY": "mine-123456"}
    result = subprocess.run([sys.executable, "-m", "llmchat", "models", "-p", "g"],
                            env=env, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [b"gemini-2.5-flash"]  # the embedding model cannot generateContent
    assert server.requests[0].headers["x-goog-api-key"] == "mine-123456"


def test_gemini_without_a_key_names_both_variables() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    result = ask(None, "-p", "gemini", "hi", env=env)
    assert result.returncode == 2
    assert b"GEMINI_API_KEY" in result.stderr and b"GOOGLE_API_KEY" in result.stderr
