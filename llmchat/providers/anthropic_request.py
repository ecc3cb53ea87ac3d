"""Requests to the Anthropic Messages API (``POST /v1/messages``), built from Chat
Completions shaped messages (see :mod:`llmchat.providers.base`).

Follows the Anthropic API reference, "Messages" (request body): :func:`convert_messages` and
:func:`convert_tools` do the translation, :func:`build_body` the whole body. Two keys of those
messages are read by this provider only (:data:`~llmchat.providers.base.WIRE_EXTENSIONS`; the
others drop them): an assistant message's ``thinking_blocks`` and a tool message's ``is_error``.

Extended thinking with tools follows "Building with extended thinking", "Extended thinking
with tool use" / "Preserving thinking blocks": the assistant turn that called the tools is
sent back with its ``thinking`` blocks (with ``signature``) and ``redacted_thinking`` blocks
(with ``data``) unchanged, in their order, before its text and ``tool_use`` blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmchat.providers.base import ChatRequest
from llmchat.providers.chat_shape import arguments_object, data_url, function_tool, text_of

_OPENAI_ONLY = frozenset(
    {
        "seed",
        "reasoning_effort",
        "stream_options",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "n",
        "response_format",
        "parallel_tool_calls",
        "user",
        "think",
    }
)
"""Options of other wire protocols (Chat Completions, Ollama's ``think``) that the Messages
API would reject ("Extra inputs are not permitted")."""

_MAPPED = frozenset(
    {"max_tokens", "max_completion_tokens", "stop", "thinking_budget", "tool_choice"}
)


def convert_messages(
    messages: Sequence[Mapping[str, Any]], *, replay_thinking: bool = True
) -> tuple[list[dict[str, Any]], str]:
    """Translate Chat Completions messages to Messages API ``messages``.

    Follows the Messages API input rules: roles alternate ``user`` / ``assistant`` (runs of
    the same role are merged into one message), ``tool`` results become ``tool_result``
    blocks of a user message (with ``is_error: true`` when the message says so), assistant
    ``tool_calls`` become ``tool_use`` blocks, and empty text blocks (which the API rejects)
    are left out, so an assistant message with no text and no tool calls disappears.

    An assistant message's ``thinking_blocks`` (see
    :data:`~llmchat.providers.base.WIRE_EXTENSIONS`) are put first in its content, unchanged
    and in order, when it belongs to the turn still in progress: the
    assistant messages after the last user message with no tool result in it, which is what
    the API requires to continue a turn with tool results. Earlier turns' blocks are left
    out: the API ignores them and they would only lengthen the request.

    Args:
        messages: Chat Completions shaped messages, oldest first.
        replay_thinking: False leaves every thinking block out (the request disables
            thinking, and the API rejects thinking blocks in the last assistant turn then).

    Returns:
        The converted messages, and the text of any ``system`` / ``developer`` messages
        found among them (joined by blank lines; "" when none), for the ``system`` field.
    """
    out: list[dict[str, Any]] = []
    thinking: list[list[dict[str, Any]]] = []  # per message of `out`: blocks to put first
    system: list[str] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        replay: list[dict[str, Any]] = []
        if role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or ""),
                "content": _tool_result_content(message.get("content")),
            }
            if message.get("is_error"):
                result["is_error"] = True
            images = [i for i in message.get("images") or () if isinstance(i, Mapping)]
            if images:  # a tool's images go in the tool_result with its text
                result["content"] = [*_content_blocks(result["content"]), *(
                    {"type": "image", "source": {"type": "base64", "media_type": str(i.get("media_type")),
                                                 "data": str(i.get("data"))}} for i in images)]
            blocks: list[dict[str, Any]] = [result]
            role = "user"
        elif role == "assistant":
            if replay_thinking:
                replay = [
                    dict(b) for b in message.get("thinking_blocks") or () if replayable(b)
                ]
            blocks = _content_blocks(message.get("content"))
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": str(call.get("id") or ""),
                        "name": str(function.get("name") or ""),
                        "input": arguments_object(function.get("arguments")),
                    }
                )
        else:
            role = "user"
            blocks = _content_blocks(message.get("content"))
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
            thinking[-1].extend(replay)
        else:
            out.append({"role": role, "content": blocks})
            thinking.append(replay)
    turn = 0  # where the turn in progress starts: after the last user message of its own
    for i, message in enumerate(out):
        if message["role"] == "user" and not any(
            b.get("type") == "tool_result" for b in message["content"]
        ):
            turn = i + 1
    for message, replay in zip(out[turn:], thinking[turn:]):
        message["content"][:0] = replay
    for message in out:  # a lone text block is sent as a plain string, as the docs show
        content = message["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            message["content"] = content[0]["text"]
    return out, "\n\n".join(system)


def convert_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Translate Chat Completions tool definitions to Messages API tools.

    ``{"type": "function", "function": {name, description, parameters}}`` becomes
    ``{name, description, input_schema}``; anything else (already Anthropic shaped, or a
    server tool such as ``web_search_20250305``) is passed through unchanged.
    """
    out: list[dict[str, Any]] = []
    for tool in tools:
        found = function_tool(tool)
        if found is None:
            out.append(dict(tool))
            continue
        converted, function = found
        converted["input_schema"] = function.get("parameters") or {
            "type": "object",
            "properties": {},
        }
        out.append(converted)
    return out


def _convert_tool_choice(choice: Any) -> Any:
    """Chat Completions ``tool_choice`` -> Messages API ``tool_choice``."""
    if isinstance(choice, str):
        return {"type": {"required": "any"}.get(choice, choice)}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    return choice


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            inline = data_url(url)
            if inline is not None:
                source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
        elif kind == "file":  # Chat Completions file part (a PDF) -> document block
            inline = data_url(str((part.get("file") or {}).get("file_data", "")))
            if inline is not None:
                blocks.append({"type": "document",
                               "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}})
        else:
            blocks.append(dict(part))  # already a Messages API block
    return blocks


def _tool_result_content(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    return _content_blocks(content)


def replayable(block: Any) -> bool:
    """True for a thinking block that can be sent back: ``thinking`` with a signature, or
    ``redacted_thinking`` with its data."""
    if not isinstance(block, Mapping):
        return False
    kind = block.get("type")
    if kind == "thinking":
        return bool(block.get("signature"))
    return kind == "redacted_thinking" and bool(block.get("data"))


def build_body(request: ChatRequest, *, default_max_tokens: int) -> dict[str, Any]:
    """The JSON body of a streaming Messages request.

    Options: ``max_tokens`` (else `default_max_tokens`), ``temperature``, ``top_p``,
    ``top_k``; ``stop`` (str or list) becomes ``stop_sequences``; ``thinking_budget``
    (int) becomes ``thinking: {"type": "enabled", "budget_tokens": N}`` (and, when
    ``max_tokens`` was not given, raises it above the budget as the API requires);
    ``tool_choice`` is translated; Chat Completions-only options are dropped; anything
    else is passed through as-is (e.g. ``thinking: {"type": "adaptive"}``).

    Thinking blocks of the turn in progress are sent back (see :func:`convert_messages`)
    unless the request disables thinking (a ``thinking`` option of type "disabled").
    """
    options = request.options
    thinking_option = options.get("thinking")
    disabled = isinstance(thinking_option, Mapping) and thinking_option.get("type") == "disabled"
    messages, extra_system = convert_messages(request.messages, replay_thinking=not disabled)
    system = "\n\n".join(s for s in (request.system, extra_system) if s)
    explicit_max = options.get("max_tokens", options.get("max_completion_tokens"))
    max_tokens = int(explicit_max) if explicit_max is not None else default_max_tokens
    body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "stream": True}
    if system:
        body["system"] = system
    body["messages"] = messages
    if request.tools:
        body["tools"] = convert_tools(request.tools)
    if options.get("tool_choice") is not None:
        body["tool_choice"] = _convert_tool_choice(options["tool_choice"])
    stop = options.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    budget = options.get("thinking_budget")
    if budget:
        body["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
        if explicit_max is None and max_tokens <= int(budget):
            body["max_tokens"] = int(budget) + default_max_tokens
    for key, value in options.items():
        if key not in _MAPPED and key not in _OPENAI_ONLY:
            body[key] = value
    body["stream"] = True
    return body
