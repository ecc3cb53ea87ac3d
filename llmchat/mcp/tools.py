"""MCP tools as llmchat tools: names every provider accepts, results as text for the model.

A tool ``search`` of server ``web`` is offered as ``web__search``. Characters outside
OpenAI's ``^[a-zA-Z0-9_-]{1,64}$`` become ``_``; a name cut to 64 characters, or one that
collides with another, ends in ``_`` and 8 hex digits of a hash of the server and tool names,
so names are stable from one run to the next and never collide.

Results (spec: server/tools, "Tool Result"): text blocks are joined; a structured result
(``structuredContent``) is sent as JSON when the server sent no text; images go with the
result as image content to providers that take images in tool results (Anthropic) and are
named in a one-line note for every provider; audio and binary resources become a note; a
text resource is sent with its URI; ``isError`` results are errors.

A tool is read-only only when the server annotates it ``readOnlyHint: true``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import mcp_types

from llmchat.chat.tools import Tool, ToolError, ToolText
from llmchat.mcp.client import McpServer, McpServerError

MAX_NAME = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def _digest(server: str, tool: str) -> str:
    return hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]


def tool_names(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The llmchat name of each (server, tool) pair, in order: ``server__tool``, sanitized to
    ``^[a-zA-Z0-9_-]{1,64}$`` and unique (a hash suffix when cut or when it collides)."""
    names: list[str] = []
    used: set[str] = set()
    for server, tool in pairs:
        base = _INVALID.sub("_", f"{server}__{tool}")
        name = base
        if len(base) > MAX_NAME or base in used:
            name = f"{base[: MAX_NAME - 9]}_{_digest(server, tool)}"
        counter = 1
        while name in used:  # two hashes alike: practically never
            counter += 1
            name = f"{base[: MAX_NAME - 12]}_{_digest(server, tool)[:6]}{counter:03d}"[:MAX_NAME]
        used.add(name)
        names.append(name)
    return names


@dataclass
class McpTool(Tool):
    """A tool of an MCP server; :meth:`run` sends ``tools/call``."""

    server: McpServer | None = None
    remote_name: str = ""
    """The tool's name on its server."""
    mcp_tool: mcp_types.Tool | None = None

    async def run(self, arguments: dict[str, Any]) -> str:
        """Call the tool on its server.

        Raises:
            ToolError: the server is down, the call failed, or the tool reported ``isError``.
        """
        assert self.server is not None
        try:
            result = await self.server.call_tool(self.remote_name, arguments)
        except McpServerError as exc:
            raise ToolError(str(exc)) from None
        text = result_text(result)
        if result.is_error:
            raise ToolError(text or f"the tool {self.remote_name!r} failed (no message)")
        return text


def read_only(tool: mcp_types.Tool) -> bool:
    """True only when the server annotates the tool ``readOnlyHint: true``."""
    return bool(tool.annotations and tool.annotations.read_only_hint is True)


def mcp_tools(servers: Iterable[McpServer], *, disabled: set[str] | frozenset[str] = frozenset()) -> list[McpTool]:
    """The tools of every running server, named as :func:`tool_names` says.

    Args:
        servers: the servers (those not running offer nothing).
        disabled: llmchat names of tools left out.
    """
    pairs = [(server, tool) for server in servers if server.state == "running" for tool in server.tools]
    names = tool_names((server.name, tool.name) for server, tool in pairs)
    out: list[McpTool] = []
    for name, (server, tool) in zip(names, pairs, strict=True):
        if name in disabled:
            continue
        schema = dict(tool.input_schema or {})
        if schema.get("type") != "object":  # providers want an object schema
            schema = {"type": "object", "properties": {}}
        description = tool.description or (tool.annotations.title if tool.annotations else None) or tool.name
        out.append(McpTool(
            name=name, description=description, parameters=schema, read_only=read_only(tool),
            timeout=server.config.timeout, source=f"mcp:{server.name}",
            server=server, remote_name=tool.name, mcp_tool=tool,
        ))
    return out


def result_text(result: mcp_types.CallToolResult) -> ToolText:
    """A ``tools/call`` result as the text sent back to the model, with its images."""
    parts: list[str] = []
    images: list[tuple[str, str]] = []
    has_text = False
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
            has_text = True
        elif isinstance(block, mcp_types.ImageContent):
            images.append((block.mime_type, block.data))
            parts.append(f"[image ({block.mime_type}, {_size(block.data)}) returned by the tool: "
                         "attached where the model takes images in tool results]")
        elif isinstance(block, mcp_types.AudioContent):
            parts.append(f"[audio ({block.mime_type}, {_size(block.data)}) returned by the tool: not shown]")
        elif isinstance(block, mcp_types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, mcp_types.TextResourceContents):
                parts.append(f"[resource {resource.uri}]\n{resource.text}")
                has_text = True
            else:
                mime = resource.mime_type or "binary"
                parts.append(f"[resource {resource.uri} ({mime}, {_size(resource.blob)}): not shown]")
        elif isinstance(block, mcp_types.ResourceLink):
            label = f" {block.name}" if block.name and block.name != str(block.uri) else ""
            parts.append(f"[resource link {block.uri}{label}]")
    if result.structured_content is not None and not has_text:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return ToolText("\n\n".join(parts), images)


def _size(data: str) -> str:
    try:
        size = len(base64.b64decode(data, validate=False))
    except ValueError:
        size = len(data)
    return f"{size} bytes"
