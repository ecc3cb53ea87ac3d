"""Helpers for the attachment tests: one loopback handler that answers every provider's
protocol by path, and the environment that points each built-in provider at it."""

from __future__ import annotations

import json
from typing import Any

from tests.loopback import LoopbackServer, Reply, Request, chunk, sse
from tests.streams import gemini_stream, named_sse, responses_stream

PROVIDERS = ("openai", "openai-responses", "anthropic", "ollama", "gemini")

_ANTHROPIC = named_sse([
    {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
        "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "seen"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
    {"type": "message_stop"},
])


def any_provider(request: Request) -> Reply:
    """Answer "seen" in the protocol the request's path belongs to."""
    path = request.path
    if path.endswith("/chat/completions"):
        return Reply(parts=[sse(chunk("seen"), chunk(finish="stop"))])
    if path.endswith("/responses"):
        return Reply(parts=[responses_stream(["seen"])])
    if path.endswith("/messages"):
        return Reply(parts=[_ANTHROPIC])
    if path == "/api/chat":
        lines = [{"model": "m", "message": {"role": "assistant", "content": "seen"}, "done": False},
                 {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1}]
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        return Reply(parts=[body], headers={"content-type": "application/x-ndjson"})
    return Reply(parts=[gemini_stream(["seen"])])


def provider_env(server: LoopbackServer, base: dict[str, str]) -> dict[str, str]:
    """`base` with every built-in provider of :data:`PROVIDERS` pointed at `server`."""
    root = f"http://127.0.0.1:{server.port}"
    return {**base, "OPENAI_BASE_URL": f"{root}/v1", "OPENAI_API_KEY": "sk-test",
            "ANTHROPIC_BASE_URL": f"{root}/v1", "ANTHROPIC_API_KEY": "sk-ant-test",
            "OLLAMA_HOST": f"127.0.0.1:{server.port}", "GEMINI_BASE_URL": root, "GEMINI_API_KEY": "g-test"}


def user_turns(provider: str, body: dict[str, Any]) -> list[Any]:
    """The user messages (or turns) of a request body of `provider`, in its own shape."""
    if provider == "openai-responses":
        return [item for item in body["input"] if item.get("role") == "user"]
    if provider == "gemini":
        return [turn for turn in body["contents"] if turn["role"] == "user"]
    return [m for m in body["messages"] if m["role"] == "user"]
