"""`llmchat ask` flags beyond the basics: reasoning, text completions, generation options, and
`llmchat models` — as real subprocesses against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.loopback import LoopbackServer, Reply, chunk, json_reply, split_every, sse
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
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
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
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert result.returncode == 2
    assert b"GROQ_API_KEY" in result.stderr
    assert_clean_stderr(result.stderr)


ANTHROPIC_STREAM = b"".join(
    f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
    for name, data in [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
            "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "Bonjour "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "🌍"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ]
)


def test_anthropic_through_ask(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=split_every(ANTHROPIC_STREAM, 7))
    env = cli_env(None, ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{server.port}/v1")
    piped = ask(None, "-p", "anthropic", "-m", "claude-x", "hi", env=env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "Bonjour 🌍".encode()
    request = server.requests[-1]
    assert request.path == "/v1/messages" and request.headers["x-api-key"] == "sk-ant-test"
    out = json.loads(ask(None, "-p", "anthropic", "-m", "claude-x", "--json", "hi", env=env).stdout)
    timings = out.pop("timings")
    assert set(timings) == {"ttft_s", "duration_s"}
    assert isinstance(out.pop("conversation_id"), str)
    assert out == {"provider": "anthropic", "model": "claude-x", "content": "Bonjour 🌍", "reasoning": "Hmm.",
                   "tool_calls": [], "finish_reason": "stop",
                   "usage": {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}, "refusal": None,
                   "cost": None}  # claude-x has no price


def test_ollama_native_through_ask(server: LoopbackServer) -> None:
    lines = [
        {"model": "qwen3", "message": {"role": "assistant", "content": "", "thinking": "Let me see."}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": "Hé"}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": "llo"}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
         "prompt_eval_count": 11, "eval_count": 4},
    ]
    body = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    server.handler = lambda _r: Reply(parts=split_every(body, 3), headers={"content-type": "application/x-ndjson"})
    env = cli_env(None, OLLAMA_HOST=f"127.0.0.1:{server.port}")
    out = json.loads(ask(None, "-p", "ollama", "-m", "qwen3", "--json", "hi", env=env).stdout)
    assert (out["content"], out["reasoning"], out["finish_reason"]) == ("Héllo", "Let me see.", "stop")
    assert out["usage"] == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
    assert server.requests[-1].path == "/api/chat"
