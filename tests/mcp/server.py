"""An MCP server for the tests, written with the official SDK's server API (MCPServer).

    python -m tests.mcp.server                          # stdio
    python -m tests.mcp.server --transport http --port N  # Streamable HTTP at /mcp
    python -m tests.mcp.server --transport sse --port N   # legacy SSE at /sse

With ``MCP_TEST_DIR`` set, it writes its pid to ``pid`` there at start, ``write_note`` writes
``note.txt``, and ``slow`` writes ``slow-started`` when it starts and ``slow-cancelled`` when
the client cancels it. It says hello on stderr at start (for the log capture tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import mcp_types
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

DIR = Path(os.environ["MCP_TEST_DIR"]) if os.environ.get("MCP_TEST_DIR") else None
READ_ONLY = mcp_types.ToolAnnotations(read_only_hint=True)


def _mark(name: str, text: str = "") -> None:
    if DIR is not None:
        (DIR / name).write_text(text)


def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


def add(a: int, b: int) -> dict[str, int]:
    """Add two numbers (a structured result)."""
    return {"sum": a + b}


def write_note(text: str) -> str:
    """Write a note to a file (not read-only)."""
    _mark("note.txt", text)
    return "written"


def fail(reason: str = "it broke") -> str:
    """Always fails."""
    raise ToolError(reason)


def picture() -> Image:
    """A tiny PNG image."""
    return Image(data=b"\x89PNG\r\n\x1a\n" + b"\0" * 16, format="png")


async def slow(seconds: float = 30.0) -> str:
    """Sleep, then answer; marks its start and a cancellation."""
    _mark("slow-started")
    try:
        await asyncio.sleep(seconds)
    except BaseException:
        _mark("slow-cancelled")
        raise
    return "slept"


def readme() -> str:
    """The project's notes."""
    return "The secret word is heron."


def greet(name: str) -> str:
    """Greet someone."""
    return f"Say hello to {name}."


def build(**options: Any) -> MCPServer:
    """The server with its tools and prompt; `options` go to MCPServer (e.g. OAuth)."""
    server = MCPServer("llmchat-test", **options)
    for tool in (echo, add, fail, picture, slow):
        server.tool(annotations=READ_ONLY)(tool)
    server.tool()(write_note)  # no readOnlyHint: it needs approval
    server.prompt()(greet)
    server.resource("note://readme", name="readme", mime_type="text/plain")(readme)
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", action="store_true", help="require OAuth (tests/mcp/auth_server.py)")
    args = parser.parse_args()
    options: dict[str, Any] = {}
    if args.auth:
        from tests.mcp.auth_server import ApproveAll, auth_settings

        options = {"auth_server_provider": ApproveAll(), "auth": auth_settings(args.port)}
    server = build(**options)
    _mark("pid", str(os.getpid()))
    print(f"test server starting ({args.transport})", file=sys.stderr, flush=True)
    if args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "http":
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run("sse", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
