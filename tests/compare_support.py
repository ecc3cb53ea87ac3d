"""Streams of three wire formats for the compare tests (tests/chat/test_compare.py and
tests/test_cli_compare.py): Chat Completions (tests/loopback.py's ``completion``), the
Anthropic Messages API and Ollama's native NDJSON, each for a list of text tokens; and a
server per provider."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.loopback import DROP, Reply, completion


def anthropic_events(tokens: Sequence[str], *, model: str = "claude-x", end: bool = True) -> bytes:
    """An Anthropic Messages stream of `tokens` (usage 9 in / len(tokens) out); `end`: with
    its ``message_delta`` and ``message_stop``."""
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                              "model": model, "usage": {"input_tokens": 9, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in tokens),
    ]
    if end:
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(tokens)}},
            {"type": "message_stop"},
        ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events).encode()


def ollama_lines(tokens: Sequence[str], *, model: str = "llama3:8b", end: bool = True) -> bytes:
    """An Ollama ``/api/chat`` NDJSON stream of `tokens`; `end`: with its ``done: true`` line."""
    lines: list[dict[str, Any]] = [
        {"model": model, "message": {"role": "assistant", "content": t}, "done": False} for t in tokens
    ]
    if end:
        lines.append({"model": model, "message": {"role": "assistant", "content": ""}, "done": True,
                      "done_reason": "stop", "prompt_eval_count": 8, "eval_count": len(tokens)})
    return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)


NDJSON = {"content-type": "application/x-ndjson"}


def openai_reply(*tokens: str) -> Reply:
    return Reply(parts=[completion(list(tokens))])


def anthropic_reply(*tokens: str) -> Reply:
    return Reply(parts=[anthropic_events(tokens)])


def ollama_reply(*tokens: str) -> Reply:
    return Reply(parts=[ollama_lines(tokens)], headers=NDJSON)


def ollama_dropped(*tokens: str) -> Reply:
    """Ollama sends `tokens`, then the connection drops before ``done: true``
    (:class:`~llmchat.providers.errors.StreamInterrupted`)."""
    return Reply(parts=[ollama_lines(tokens, end=False), DROP], headers=NDJSON)


def anthropic_dropped(*tokens: str) -> Reply:
    """Anthropic sends `tokens`, then the connection drops before ``message_stop``."""
    return Reply(parts=[anthropic_events(tokens, end=False), DROP])
