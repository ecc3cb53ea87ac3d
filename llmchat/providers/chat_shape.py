"""Reading the Chat Completions shaped input that the other wire protocols translate.

Requests reach every provider as Chat Completions messages and tools (OpenAI API reference,
"Chat Completions": ``content`` a string or a list of ``{"type": "text" | "image_url" |
"file", ...}`` parts; a tool call's ``function.arguments`` a JSON string; a tool
``{"type": "function", "function": {"name", "description", "parameters"}}``). The Anthropic,
Gemini and Responses request builders read them with these helpers, each writing its own
shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def text_of(content: Any) -> str:
    """The text of a message's `content`: the string itself, or its ``text`` parts joined
    (other parts left out); "" for None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
    )


def arguments_object(arguments: Any) -> dict[str, Any]:
    """A tool call's ``function.arguments`` (a JSON string, or already a mapping) as a JSON
    object; {} when it is empty, not valid JSON, or JSON of another type (the Messages API's
    ``tool_use.input`` and Gemini's ``functionCall.args`` must be objects)."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        parsed = json.loads(arguments) if arguments else {}
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def data_url(url: str) -> tuple[str, str] | None:
    """``(media type, base64 data)`` of a base64 ``data:`` URL (RFC 2397,
    ``data:image/png;base64,...``), or None for any other URL."""
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return media_type, data
    return None


def function_tool(tool: Mapping[str, Any]) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """For a Chat Completions function tool: its ``{"name": ..., "description": ...}`` (no
    ``description`` key when it has none) to build the provider's tool on, and its
    ``function`` object (for ``parameters`` and the like). None for any other tool (already
    in the provider's shape, or a server tool), which the caller passes through unchanged."""
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, Mapping):
        return None
    declared: dict[str, Any] = {"name": function.get("name", "")}
    if function.get("description"):
        declared["description"] = function["description"]
    return declared, function
