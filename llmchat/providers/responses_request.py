"""Requests to the OpenAI Responses API, built from Chat Completions shaped messages.

Follows the OpenAI API reference, "Responses" ("Create a model response": ``instructions``,
``input`` items, function ``tools``, ``max_output_tokens``, ``reasoning``) and "Reasoning
models" ("Keeping reasoning items in context"): a reply with reasoning that called tools is
sent back as its own output items, unchanged and in order (see
:mod:`llmchat.providers.responses`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from llmchat.providers.base import ChatRequest
from llmchat.providers.chat_shape import function_tool, text_of

REPLAYED_ITEMS = frozenset({"reasoning", "message", "function_call"})
"""Output item types sent back verbatim in a tool loop when the reply had reasoning."""

_OPTIONS = frozenset(
    {"temperature", "top_p", "parallel_tool_calls", "store", "include", "text", "truncation",
     "service_tier", "user", "metadata", "max_tool_calls", "top_logprobs", "prompt_cache_key",
     "safety_identifier", "background"}
)
"""Options passed through under their own name; the other neutral options are mapped
(``max_tokens``, ``reasoning_effort``, ``tool_choice``) or have no Responses field (``stop``,
``seed``, ``top_k``, ``thinking_budget``) and are dropped."""


def convert_input(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Translate Chat Completions messages to Responses ``input`` items.

    ``user`` / ``system`` / ``developer`` messages become role messages (text parts as
    ``input_text``, ``image_url`` parts as ``input_image``); an assistant message becomes its
    text as an assistant message plus one ``function_call`` item per tool call (``call_id``,
    ``name``, ``arguments``); a ``tool`` message becomes a ``function_call_output``. An
    assistant message carrying Responses output items in ``thinking_blocks`` (a reply with
    reasoning that called tools) is sent as those items, unchanged and in order, leaving out
    calls that were not answered; blocks of other providers are ignored.
    """
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            items.append({
                "type": "function_call_output",
                "call_id": str(message.get("tool_call_id") or ""),
                "output": text_of(message.get("content")),
            })
        elif role == "assistant":
            items.extend(_assistant_items(message))
        else:
            content = message.get("content")
            role = role if role in ("system", "developer") else "user"
            if isinstance(content, str) or content is None:
                if content:
                    items.append({"role": role, "content": content})
                continue
            parts = _input_parts(content)
            if parts:
                items.append({"role": role, "content": parts})
    return items


def _assistant_items(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    calls = list(message.get("tool_calls") or ())
    call_ids = {str(c.get("id") or "") for c in calls}
    replay = [
        dict(b) for b in message.get("thinking_blocks") or ()
        if isinstance(b, Mapping) and b.get("type") in REPLAYED_ITEMS and b.get("id")
    ]
    items: list[dict[str, Any]] = []
    if any(b["type"] == "reasoning" for b in replay):
        for block in replay:
            if block["type"] == "function_call":
                call_id = str(block.get("call_id") or "")
                if call_id not in call_ids:
                    continue
                call_ids.discard(call_id)  # sent as this item: not again as a plain call
            items.append(block)
        calls = [c for c in calls if str(c.get("id") or "") in call_ids]
    else:
        text = text_of(message.get("content"))
        if text:
            items.append({"role": "assistant", "content": text})
    for call in calls:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        items.append({
            "type": "function_call",
            "call_id": str(call.get("id") or ""),
            "name": str(function.get("name") or ""),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
        })
    return items


def _input_parts(content: Sequence[Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"type": "input_text", "text": str(part["text"])})
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
        elif kind == "file":  # Chat Completions file part (a PDF) -> input_file
            file = part.get("file") or {}
            converted = {"type": "input_file"}
            converted.update({k: file[k] for k in ("filename", "file_data", "file_id") if file.get(k)})
            parts.append(converted)
        else:
            parts.append(dict(part))  # already a Responses part (input_file, ...)
    return parts


def convert_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chat Completions tool definitions -> Responses function tools (``{"type":
    "function", "name", "description", "parameters"}``); other tools pass unchanged."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        found = function_tool(tool)
        if found is None:
            out.append(dict(tool))
            continue
        declared, function = found
        converted: dict[str, Any] = {"type": "function", **declared}
        converted["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        if "strict" in function:
            converted["strict"] = function["strict"]
        out.append(converted)
    return out


def build_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a streaming Responses request.

    The system prompt goes in ``instructions``; ``max_tokens`` becomes
    ``max_output_tokens``; ``reasoning_effort`` becomes ``reasoning: {"effort": ...,
    "summary": "auto"}`` (so reasoning summaries stream); a Chat Completions
    ``tool_choice`` naming a function becomes ``{"type": "function", "name": ...}``.
    """
    body: dict[str, Any] = {"model": request.model}
    if request.system:
        body["instructions"] = request.system
    body["input"] = convert_input(request.messages)
    if request.tools:
        body["tools"] = convert_tools(request.tools)
    options = request.options
    for key, value in options.items():
        if key in _OPTIONS:
            body[key] = value
    max_tokens = options.get("max_tokens", options.get("max_completion_tokens"))
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    if options.get("reasoning_effort"):
        body["reasoning"] = {"effort": options["reasoning_effort"], "summary": "auto"}
    elif isinstance(options.get("reasoning"), Mapping):
        body["reasoning"] = dict(options["reasoning"])
    choice = options.get("tool_choice")
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        body["tool_choice"] = {"type": "function", "name": choice["function"].get("name", "")}
    elif choice is not None:
        body["tool_choice"] = choice
    body["stream"] = True
    return body
