"""`llmchat ask` flags beyond the basics: reasoning, text completions, generation options, and
`llmchat models` — as real subprocesses against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.loopback import LoopbackServer, Reply, chunk, json_reply, sse
from tests.test_cli import assert_clean_stderr, ask, cli_env, last_body

REASONING_STREAM = sse(chunk(None, role=True, reasoning_content="Think"), chunk(None, reasoning_content="ing."),
                       chunk("The answer."), chunk(finish="stop"))


def test_reasoning_never_reaches_piped_stdout(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[REASONING_STREAM])
    plain = ask(server, "q")
    assert plain.returncode == 0
    assert plain.stdout == b"The answer."
    assert b"Thinking" not in plain.stderr

    shown = ask(server, "--reasoning", "q")
    assert shown.stdout == b"The answer."
    assert shown.stderr.startswith(b"Thinking.\n")

    as_json = json.loads(ask(server, "--json", "q").stdout)
    assert (as_json["reasoning"], as_json["content"]) == ("Thinking.", "The answer.")


def test_complete_streams_a_text_completion(server: LoopbackServer) -> None:
    text = {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": " there lived", "finish_reason": None}]}
    end = {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": " a fox.", "finish_reason": "stop"}]}
    server.handler = lambda _r: Reply(parts=[sse(text, end)])
    result = ask(server, "--complete", "-m", "base-model", "Once upon a time")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b" there lived a fox."
    assert server.requests[-1].path == "/v1/completions"
    body = last_body(server)
    assert body["prompt"] == "Once upon a time" and "messages" not in body and body["model"] == "base-model"


def test_generation_option_flags_reach_the_body(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("ok"), chunk(finish="stop"))])
    result = ask(server, "--temperature", "0.25", "--top-p", "0.5", "--max-tokens", "64", "--stop", "END",
                 "--stop", "STOP", "--seed", "3", "--reasoning-effort", "low", "hi")
    assert result.returncode == 0, result.stderr
    body = last_body(server)
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop", "seed", "reasoning_effort")} == {
        "temperature": 0.25, "top_p": 0.5, "max_tokens": 64, "stop": ["END", "STOP"], "seed": 3,
        "reasoning_effort": "low"}


def test_options_from_the_config_file(server: LoopbackServer) -> None:
    env = cli_env(server)
    config = f"{env['XDG_CONFIG_HOME']}/llmchat"
    os.makedirs(config, exist_ok=True)
    with open(f"{config}/config.toml", "w") as f:
        f.write("[options]\ntemperature = 0.1\nmax_tokens = 9\n")
    server.handler = lambda _r: Reply(parts=[sse(chunk("ok"), chunk(finish="stop"))])
    result = ask(server, "--max-tokens", "12", "hi", env=env)
    assert result.returncode == 0, result.stderr
    body = last_body(server)
    assert (body["temperature"], body["max_tokens"]) == (0.1, 12)


def test_models_lists_the_server_models(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"object": "list", "data": [{"id": "b-model"}, {"id": "a-model"}]})
    run = lambda *a: subprocess.run([sys.executable, "-m", "llmchat", "models", *a], env=cli_env(server),  # noqa: E731
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    result = run()
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"a-model\nb-model\n"
    assert server.requests[-1].path == "/v1/models"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-test"
    assert json.loads(run("--json").stdout) == ["a-model", "b-model"]
    server.handler = lambda _r: json_reply(401, {"error": {"message": "bad key"}})
    failed = run()
    assert failed.returncode == 1
    assert b"401" in failed.stderr and b"bad key" in failed.stderr
    assert_clean_stderr(failed.stderr)


def test_hosted_builtin_profile_without_its_key() -> None:
    env = cli_env(None, OPENAI_API_KEY="sk-openai")
    result = subprocess.run([sys.executable, "-m", "llmchat", "ask", "-p", "groq", "hi"], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"GROQ_API_KEY" in result.stderr
    assert_clean_stderr(result.stderr)
