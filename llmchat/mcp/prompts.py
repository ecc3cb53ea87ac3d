"""MCP prompts as slash commands: ``/SERVER.PROMPT args`` (spec: server/prompts).

The arguments come from the text after the command: ``key=value`` words set the named
arguments; otherwise the words fill the prompt's arguments in order and the last one takes
the rest of the text (``/git.commit fix the parser`` -> ``{"message": "fix the parser"}``).
The prompt's messages become the text of one user message.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import mcp_types


class McpPromptError(Exception):
    """A prompt command cannot run; the message is one line (with the usage when it helps)."""


def usage(command: str, arguments: Sequence[mcp_types.PromptArgument]) -> str:
    """``/server.prompt NAME [OTHER]``: required arguments bare, optional ones bracketed."""
    words = [a.name.upper() if a.required else f"[{a.name.upper()}]" for a in arguments]
    return " ".join([f"/{command}", *words])


def prompt_arguments(command: str, arguments: Sequence[mcp_types.PromptArgument], text: str) -> dict[str, str]:
    """The arguments of ``prompts/get`` from the text after the command.

    Raises:
        McpPromptError: a required argument is missing, or a ``key=`` names no argument.
    """
    names = [a.name for a in arguments]
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    values: dict[str, str] = {}
    if words and all("=" in w and w.split("=", 1)[0] in names for w in words):
        values = dict(w.split("=", 1) for w in words)
    elif words and names:
        for name, word in zip(names, words, strict=False):
            values[name] = word
        if len(words) > len(names):  # the last argument takes the rest of the text
            values[names[-1]] = " ".join(words[len(names) - 1:])
    elif text.strip():
        raise McpPromptError(f"/{command} takes no arguments")
    missing = [a.name for a in arguments if a.required and not values.get(a.name)]
    if missing:
        raise McpPromptError(f"missing {', '.join(missing)}: use {usage(command, arguments)}")
    return values


def resource_block(item: mcp_types.TextResourceContents | mcp_types.BlobResourceContents) -> str:
    """A resource's contents as text for a message: the URI, then a fenced block (text), or
    a note (binary)."""
    if isinstance(item, mcp_types.TextResourceContents):
        fence = "````" if "```" in item.text else "```"
        return f"{item.uri}:\n{fence}\n{item.text}\n{fence}"
    return f"{item.uri}: [{item.mime_type or 'binary'} resource, not included]"


def prompt_text(result: mcp_types.GetPromptResult) -> str:
    """The prompt's messages as the text of one user message (text parts joined by a blank
    line; other content named in a short note)."""
    parts: list[str] = []
    for message in result.messages:
        content: Any = message.content
        if isinstance(content, mcp_types.TextContent):
            parts.append(content.text)
        elif isinstance(content, mcp_types.EmbeddedResource) and isinstance(
            content.resource, mcp_types.TextResourceContents
        ):
            parts.append(f"[resource {content.resource.uri}]\n{content.resource.text}")
        else:
            parts.append(f"[{getattr(content, 'type', 'content')} from the prompt: not included]")
    return "\n\n".join(p for p in parts if p.strip())
