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

import mcp_types
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("llmchat-test")
DIR = Path(os.environ["MCP_TEST_DIR"]) if os.environ.get("MCP_TEST_DIR") else None
READ_ONLY = mcp_types.ToolAnnotations(read_only_hint=True)


def _mark(name: str, text: str = "") -> None:
    if DIR is not None:
        (DIR / name).write_text(text)


@server.tool(annotations=READ_ONLY)
def echo(text: str) -> str:
    """Echo the text back."""
    return f"echo: {text}"


@server.tool(annotations=READ_ONLY)
def add(a: int, b: int) -> dict[str, int]:
    """Add two numbers (a structured result)."""
    return {"sum": a + b}


@server.tool()
def write_note(text: str) -> str:
    """Write a note to a file (not read-only)."""
    _mark("note.txt", text)
    return "written"


@server.tool(annotations=READ_ONLY)
def fail(reason: str = "it broke") -> str:
    """Always fails."""
    raise ToolError(reason)


@server.tool(annotations=READ_ONLY)
def picture() -> Image:
    """A tiny PNG image."""
    return Image(data=b"\x89PNG\r\n\x1a\n" + b"\0" * 16, format="png")


@server.tool(annotations=READ_ONLY)
async def slow(seconds: float = 30.0) -> str:
    """Sleep, then answer; marks its start and a cancellation."""
    _mark("slow-started")
    try:
        await asyncio.sleep(seconds)
    except BaseException:
        _mark("slow-cancelled")
        raise
    return "slept"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Say hello to {name}."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
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
