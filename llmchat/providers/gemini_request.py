"""Requests to the Gemini API (``models/{model}:streamGenerateContent``), built from Chat
Completions shaped messages.

Follows the Gemini API reference, "Generating content" (``GenerateContentRequest``:
``contents`` of ``user`` / ``model`` turns made of ``parts``, ``systemInstruction``,
``tools[].functionDeclarations``, ``toolConfig``, ``generationConfig``), "Function calling"
(``functionCall`` parts answered by ``functionResponse`` parts in the next ``user`` turn) and
"Thought signatures": a model turn that called functions is sent back with its parts as they
came, ``thoughtSignature`` included, which the API requires to go on with the results.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

from llmchat.providers.base import ChatRequest
from llmchat.providers.chat_shape import arguments_object, data_url, function_tool, text_of

CONTENT_BLOCK = "gemini_content"
"""The ``type`` of the :class:`~llmchat.providers.events.ThinkingBlock` that holds a model
turn's parts as they came (``{"type": CONTENT_BLOCK, "parts": [...], "call_ids": [...]}``;
``call_ids`` are the ids given to its ``functionCall`` parts, in order)."""

EFFORT_BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576}
"""``reasoning_effort`` -> ``thinkingBudget`` (tokens) for Gemini 2.x models, as Google's
OpenAI compatibility layer maps it ("Gemini thinking", "OpenAI compatibility")."""

_SCHEMA_KEYS_DROPPED = frozenset({"$schema", "$id", "additionalProperties"})
"""JSON Schema keys that the OpenAPI subset of ``FunctionDeclaration.parameters`` rejects."""


def convert_contents(messages: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Translate Chat Completions messages to Gemini ``contents``.

    ``user`` messages become ``user`` turns (text parts; ``image_url`` data URLs become
    ``inlineData``, other URLs ``fileData``); ``assistant`` messages become ``model`` turns
    (text, then one ``functionCall`` part per tool call, its arguments as an object), or the
    turn's own parts when it carries a :data:`CONTENT_BLOCK` (thought signatures kept; calls
    that were not answered left out); ``tool`` messages become ``functionResponse`` parts
    (``{"name", "response": {"result": ...}}``, ``{"error": ...}`` for a failed call) of a
    ``user`` turn. Consecutive turns of one role are merged, as the API wants them alternating.

    Returns:
        The contents, and the text of any ``system`` / ``developer`` messages (joined by
        blank lines; "" when none), for ``systemInstruction``.
    """
    contents: list[dict[str, Any]] = []
    system: list[str] = []
    names: dict[str, tuple[str, str | None]] = {}  # tool call id -> (function name, Gemini id)
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        if role == "tool":
            call_id = str(message.get("tool_call_id") or "")
            name, gemini_id = names.get(call_id, ("", None))
            key = "error" if message.get("is_error") else "result"
            response: dict[str, Any] = {"name": name, "response": {key: text_of(message.get("content"))}}
            if gemini_id:
                response["id"] = gemini_id
            parts = [{"functionResponse": response}]
            role = "user"
        elif role == "assistant":
            parts = _model_parts(message, names)
            role = "model"
        else:
            parts = _user_parts(message.get("content"))
            role = "user"
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents, "\n\n".join(system)


def _model_parts(message: Mapping[str, Any], names: dict[str, tuple[str, str | None]]) -> list[dict[str, Any]]:
    calls = list(message.get("tool_calls") or ())
    answered = {str(c.get("id") or "") for c in calls}
    block = next((b for b in message.get("thinking_blocks") or ()
                  if isinstance(b, Mapping) and b.get("type") == CONTENT_BLOCK), None)
    if block is not None:
        parts: list[dict[str, Any]] = []
        ids = iter(block.get("call_ids") or ())
        for part in block.get("parts") or ():
            if "functionCall" in part:
                call_id = next(ids, "")
                if call_id not in answered:
                    continue
                call = part["functionCall"]
                names[call_id] = (str(call.get("name") or ""), call.get("id"))
            parts.append(dict(part))
        return parts
    parts = []
    text = text_of(message.get("content"))
    if text:
        parts.append({"text": text})
    for call in calls:
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        names[str(call.get("id") or "")] = (name, None)
        parts.append({"functionCall": {"name": name, "args": arguments_object(function.get("arguments"))}})
    return parts


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            inline = data_url(url)
            if not url:
                continue  # an image part without a URL: nothing to send
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
            else:
                mime = mimetypes.guess_type(url)[0] or "image/jpeg"
                parts.append({"fileData": {"mimeType": mime, "fileUri": url}})
        elif kind == "file":  # Chat Completions file part (a PDF): inline data
            inline = data_url(str((part.get("file") or {}).get("file_data", "")))
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
        else:
            parts.append(dict(part))  # already a Gemini part
    return parts


def convert_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chat Completions tool definitions -> one Gemini tool with ``functionDeclarations``
    (``name``, ``description``, ``parameters``); other tools (``googleSearch``, ...) pass."""
    declarations: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for tool in tools:
        found = function_tool(tool)
        if found is None:
            others.append(dict(tool))
            continue
        declaration, function = found
        parameters = function.get("parameters")
        if isinstance(parameters, Mapping) and parameters.get("properties"):
            declaration["parameters"] = _schema(parameters)
        declarations.append(declaration)
    return ([{"functionDeclarations": declarations}] if declarations else []) + others


def _schema(schema: Any) -> Any:
    if isinstance(schema, Mapping):
        return {k: _schema(v) for k, v in schema.items() if k not in _SCHEMA_KEYS_DROPPED}
    if isinstance(schema, list):
        return [_schema(v) for v in schema]
    return schema


def _tool_config(choice: Any) -> dict[str, Any] | None:
    """Chat Completions ``tool_choice`` -> ``toolConfig.functionCallingConfig``."""
    if isinstance(choice, str):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice)
        return {"functionCallingConfig": {"mode": mode}} if mode else None
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        name = str(choice["function"].get("name") or "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def build_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a ``streamGenerateContent`` request.

    The system prompt (and system messages) go in ``systemInstruction``; options map onto
    ``generationConfig``: ``temperature``, ``top_p`` -> ``topP``, ``top_k`` -> ``topK``,
    ``max_tokens`` -> ``maxOutputTokens``, ``stop`` -> ``stopSequences``, ``seed``;
    ``thinking_budget`` -> ``thinkingConfig.thinkingBudget`` and ``reasoning_effort`` ->
    ``thinkingConfig.thinkingLevel`` (Gemini 2.x models, which take budgets instead: the
    :data:`EFFORT_BUDGETS` of Google's OpenAI-compatible endpoint), both with
    ``includeThoughts`` (thought summaries
    stream as reasoning); ``tool_choice`` -> ``toolConfig``.
    """
    contents, extra_system = convert_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    system = "\n\n".join(s for s in (request.system, extra_system) if s)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = convert_tools(request.tools)
    options = request.options
    config: dict[str, Any] = {}
    for key, field in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
                       ("max_tokens", "maxOutputTokens"), ("seed", "seed")):
        if options.get(key) is not None:
            config[field] = options[key]
    stop = options.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    thinking: dict[str, Any] = {}
    if options.get("thinking_budget") is not None:
        thinking["thinkingBudget"] = int(options["thinking_budget"])
    effort = options.get("reasoning_effort")
    if effort:
        budget = EFFORT_BUDGETS.get(str(effort)) if request.model.startswith(("gemini-2", "models/gemini-2")) else None
        if budget is not None and "thinkingBudget" not in thinking:
            thinking["thinkingBudget"] = budget  # Gemini 2.5 has budgets, not levels
        elif budget is None:
            thinking["thinkingLevel"] = str(effort)
    if thinking:
        config["thinkingConfig"] = {**thinking, "includeThoughts": True}
    if config:
        body["generationConfig"] = config
    tool_config = _tool_config(options.get("tool_choice"))
    if tool_config:
        body["toolConfig"] = tool_config
    return body
