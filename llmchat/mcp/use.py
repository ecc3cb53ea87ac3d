"""What the front-ends (``ask``, ``llmchat mcp``, the session) share to use MCP servers.

Reading the config never imports the SDK; starting servers does (lazily, here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from llmchat import paths
from llmchat.mcp.config import McpConfig, ServerConfig, load_mcp_config

if TYPE_CHECKING:
    from llmchat.chat.tools import Tool
    from llmchat.mcp.client import McpServers


def load_config(file: str | Path | None = None) -> McpConfig:
    """``mcp.json`` from the config directory, or `file` (``--mcp-config FILE``).

    Raises:
        ConfigError: the file is broken, or `file` does not exist.
    """
    if file is not None:
        return load_mcp_config(Path(file).expanduser(), required=True)
    return load_mcp_config(paths.mcp_config_file())


def servers(configs: Sequence[ServerConfig], log_dir: Path | None = None) -> McpServers:
    """An (unstarted) :class:`~llmchat.mcp.client.McpServers`; imports the SDK."""
    from llmchat.mcp.client import McpServers

    return McpServers(configs, log_dir or paths.mcp_log_dir())


class ServerFailed(Exception):
    """A server named on the command line could not start; the message is one line."""


async def open_tools(
    stack: AsyncExitStack,
    configs: Sequence[ServerConfig],
    *,
    strict: bool,
    warn: Callable[[str], None],
    log_dir: Path | None = None,
) -> list[Tool]:
    """Start `configs` in parallel (stopped when `stack` closes) and return their tools.

    Args:
        stack: the servers are stopped when it closes.
        configs: the servers to start.
        strict: a server that fails raises :class:`ServerFailed` (``--mcp NAME``); else it is
            reported through `warn` and left out (``--mcp all``).
        warn: called with one line per problem.

    Raises:
        ServerFailed: `strict` and a server did not start.
    """
    from llmchat.mcp.tools import mcp_tools

    group = await stack.enter_async_context(servers(configs, log_dir))
    started = await group.start()
    for server in started:
        if server.state != "running":
            line = f"MCP server {server.name!r} did not start: {server.error} (log: {server.log_path})"
            if strict:
                raise ServerFailed(line)
            warn(line)
    return list(mcp_tools(started))
