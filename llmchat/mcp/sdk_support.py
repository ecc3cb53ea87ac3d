"""What :mod:`llmchat.mcp.client` needs around the SDK's session: paginated listings, one
line for an exception, log file names, and the SDK's own log records kept off the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import mcp_types
from mcp import ClientSession
from mcp.shared.exceptions import MCPError


def describe(exc: BaseException) -> str:
    """One line for an exception, looking inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        lines = exc.message.strip().splitlines()
        return lines[0] if lines else f"error {exc.code}"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"command not found: {exc.filename}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    if isinstance(exc, httpx2.ConnectError):
        return f"cannot connect: {exc}" if str(exc) else "cannot connect"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def all_tools(session: ClientSession) -> list[mcp_types.Tool]:
    """Every tool of the server (``tools/list``, all pages)."""
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        tools.extend(result.tools)
        cursor = result.next_cursor
        if not cursor or len(tools) > 10_000:
            return tools


async def all_prompts(session: ClientSession) -> list[mcp_types.Prompt]:
    """The server's prompts ([] when it has none or the listing fails)."""
    capabilities = session.server_capabilities
    if capabilities is None or capabilities.prompts is None:
        return []
    try:
        return list((await session.list_prompts()).prompts)
    except MCPError:
        return []


async def all_resources(session: ClientSession) -> list[mcp_types.Resource]:
    """The server's resources ([] when it has none or the listing fails)."""
    capabilities = session.server_capabilities
    if capabilities is None or capabilities.resources is None:
        return []
    try:
        return list((await session.list_resources()).resources)
    except MCPError:
        return []


def log_file_name(name: str) -> str:
    """A server name made safe as a file name (letters, digits, ``-_.``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "server"


_captured: set[str] = set()


def capture_sdk_logging(log_dir: Path) -> None:
    """Send the SDK's own log records to ``log_dir/sdk.log`` instead of the terminal (with no
    handler, Python would print warnings over the TUI or into ``ask``'s stderr)."""
    logger = logging.getLogger("mcp")
    if str(log_dir) in _captured:
        return
    _captured.add(str(log_dir))
    logger.propagate = False
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_dir / "sdk.log", encoding="utf-8", delay=True)
    except OSError:
        handler = logging.NullHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
