"""Streams shaped like the OpenAI Responses API and the Gemini API send them, for the
loopback server (tests/loopback.py) and the wire tests.

Responses: OpenAI API reference, "Streaming events": ``event: <type>`` + ``data: <json>``
whose ``type`` repeats the name, with a ``sequence_number``; no ``[DONE]``.
Gemini: ``streamGenerateContent?alt=sse``: ``data: <GenerateContentResponse>`` and a CRLF
blank line per chunk; the last chunk carries ``finishReason`` and the final ``usageMetadata``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

RESPONSES_MODEL = "gpt-4o-mini-2024-07-18"
GEMINI_MODEL = "gemini-2.5-flash"


def named_sse(events: Iterable[dict[str, Any]], eol: str = "\n") -> bytes:
    """Serialize typed events as ``event: <type>`` + ``data: <json>`` + blank line."""
    return "".join(
        f"event: {e['type']}{eol}data: {json.dumps(e, ensure_ascii=False)}{eol}{eol}" for e in events
    ).encode()


def data_sse(objs: Iterable[Any], eol: str = "\r\n") -> bytes:
    """Serialize objects as ``data: <json>`` + blank line (Gemini's ``alt=sse``)."""
    return "".join(f"data: {json.dumps(o, ensure_ascii=False)}{eol}{eol}" for o in objs).encode()


# --- Responses ---------------------------------------------------------------------------


def response_object(status: str, output: Sequence[dict[str, Any]] = (), *, model: str = RESPONSES_MODEL,
                    usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "resp_67ccd2bed1ec8190", "object": "response", "created_at": 1741476542,
            "status": status, "error": None, "incomplete_details": None, "model": model,
            "output": list(output), "usage": usage, **extra}


def responses_usage(inp: int = 36, out: int = 87, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {"input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": inp + out}


def responses_events(
    tokens: Sequence[str] = (),
    *,
    reasoning: Sequence[str] = (),
    calls: Sequence[tuple[str, str, Sequence[str]]] = (),
    terminal: str = "completed",
    incomplete_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = RESPONSES_MODEL,
) -> list[dict[str, Any]]:
    """A whole stream: created, in_progress, a reasoning item with one summary part per
    `reasoning` piece, a message item with `tokens`, one function_call item per
    ``(call_id, name, argument pieces)`` in `calls`, then the terminal event."""
    events: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    add("response.created", response=response_object("in_progress", model=model))
    add("response.in_progress", response=response_object("in_progress", model=model))
    if reasoning:
        n = len(output)
        item = {"id": "rs_6876cf02", "type": "reasoning", "summary": []}
        add("response.output_item.added", output_index=n, item=item)
        for s, text in enumerate(reasoning):
            add("response.reasoning_summary_part.added", item_id=item["id"], output_index=n,
                summary_index=s, part={"type": "summary_text", "text": ""})
            add("response.reasoning_summary_text.delta", item_id=item["id"], output_index=n,
                summary_index=s, delta=text)
            add("response.reasoning_summary_text.done", item_id=item["id"], output_index=n,
                summary_index=s, text=text)
        done = {**item, "summary": [{"type": "summary_text", "text": t} for t in reasoning],
                "encrypted_content": "gAAAAABo"}
        add("response.output_item.done", output_index=n, item=done)
        output.append(done)
    if tokens:
        n = len(output)
        item = {"id": "msg_67ccd2bf17f0", "type": "message", "status": "in_progress", "content": [],
                "role": "assistant"}
        add("response.output_item.added", output_index=n, item=item)
        add("response.content_part.added", item_id=item["id"], output_index=n, content_index=0,
            part={"type": "output_text", "annotations": [], "text": ""})
        for token in tokens:
            add("response.output_text.delta", item_id=item["id"], output_index=n, content_index=0,
                delta=token, logprobs=[])
        text = "".join(tokens)
        add("response.output_text.done", item_id=item["id"], output_index=n, content_index=0, text=text)
        part = {"type": "output_text", "annotations": [], "text": text}
        add("response.content_part.done", item_id=item["id"], output_index=n, content_index=0, part=part)
        done = {**item, "status": "completed", "content": [part]}
        add("response.output_item.done", output_index=n, item=done)
        output.append(done)
    for call_id, name, pieces in calls:
        n = len(output)
        item = {"id": f"fc_{call_id}", "type": "function_call", "status": "in_progress",
                "arguments": "", "call_id": call_id, "name": name}
        add("response.output_item.added", output_index=n, item=item)
        for piece in pieces:
            add("response.function_call_arguments.delta", item_id=item["id"], output_index=n, delta=piece)
        add("response.function_call_arguments.done", item_id=item["id"], output_index=n,
            arguments="".join(pieces))
        done = {**item, "status": "completed", "arguments": "".join(pieces)}
        add("response.output_item.done", output_index=n, item=done)
        output.append(done)
    usage = usage if usage is not None else responses_usage(out=len(tokens))
    if terminal == "completed":
        add("response.completed", response=response_object("completed", output, model=model, usage=usage))
    elif terminal == "incomplete":
        add("response.incomplete", response=response_object(
            "incomplete", output, model=model, usage=usage,
            incomplete_details={"reason": incomplete_reason or "max_output_tokens"}))
    elif terminal == "failed":
        add("response.failed", response=response_object(
            "failed", output, model=model, usage=None,
            error={"code": "server_error", "message": "The model failed to generate a response."}))
    return events


def responses_stream(tokens: Sequence[str], **kwargs: Any) -> bytes:
    """:func:`responses_events` as SSE bytes."""
    return named_sse(responses_events(tokens, **kwargs))


# --- Gemini ------------------------------------------------------------------------------


def gemini_usage(prompt: int = 8, candidates: int = 4, *, thoughts: int | None = None,
                 cached: int | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                             "totalTokenCount": prompt + candidates + (thoughts or 0),
                             "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    if cached is not None:
        usage["cachedContentTokenCount"] = cached
    return usage


def gemini_chunk(*parts: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None,
                 model: str = GEMINI_MODEL) -> dict[str, Any]:
    """One GenerateContentResponse with one candidate holding `parts`."""
    candidate: dict[str, Any] = {"content": {"parts": list(parts), "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    obj: dict[str, Any] = {"candidates": [candidate], "modelVersion": model,
                           "responseId": "mP1sZ9rHLsSmz7IP"}
    if usage is not None:
        obj["usageMetadata"] = usage
    return obj


def gemini_stream(tokens: Sequence[str], *, finish: str = "STOP", usage: dict[str, Any] | None = None,
                  thoughts: Sequence[str] = (), model: str = GEMINI_MODEL, eol: str = "\r\n") -> bytes:
    """A whole stream: thought parts, one chunk per token (usage so far on each), and the
    finish reason with the final usage on the last."""
    usage = usage if usage is not None else gemini_usage(candidates=len(tokens))
    objs = [gemini_chunk({"text": t, "thought": True}, model=model) for t in thoughts]
    objs += [gemini_chunk({"text": t}, usage={**usage, "candidatesTokenCount": i + 1}, model=model)
             for i, t in enumerate(tokens[:-1])]
    objs.append(gemini_chunk({"text": tokens[-1] if tokens else ""}, finish=finish, usage=usage, model=model))
    return data_sse(objs, eol)


def gemini_models() -> dict[str, Any]:
    """A ``GET /v1beta/models`` page."""
    return {"models": [
        {"name": f"models/{GEMINI_MODEL}", "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576,
         "outputTokenLimit": 65536, "supportedGenerationMethods": ["generateContent", "countTokens"]},
        {"name": "models/text-embedding-004", "inputTokenLimit": 2048,
         "supportedGenerationMethods": ["embedContent"]},
    ]}
