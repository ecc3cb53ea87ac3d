"""`llmchat ask` with the Responses and Gemini providers, and the answering model in --json:
a real subprocess against the loopback server (shared/DESIGN.md, "More wire formats")."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse
from tests.streams import RESPONSES_MODEL, responses_stream, responses_usage
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
                            env=responses_env(server), capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [b"gpt-5", b"o4-mini"]
