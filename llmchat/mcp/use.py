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
    from llmchat.mcp.oauth import SignIn


def load_config(file: str | Path | None = None) -> McpConfig:
    """``mcp.json`` from the config directory, or `file` (``--mcp-config FILE``).

    Raises:
        ConfigError: the file is broken, or `file` does not exist.
    """
    if file is not None:
        return load_mcp_config(Path(file).expanduser(), required=True)
    return load_mcp_config(paths.mcp_config_file())


def servers(
    configs: Sequence[ServerConfig], log_dir: Path | None = None, sign_in: SignIn | None = None
) -> McpServers:
    """An (unstarted) :class:`~llmchat.mcp.client.McpServers`; imports the SDK.

    Args:
        configs: the servers.
        log_dir: where their logs go (default: ``paths.mcp_log_dir()``).
        sign_in: tells the user to sign in to a remote server (OAuth); default: a line on
            stderr with the URL, and the browser opened when there is one.
    """
    from llmchat.mcp.client import McpServers

    if sign_in is None:
        from llmchat.mcp.oauth import open_in_browser
        from llmchat.safety import note

        async def sign_in(server: str, url: str) -> None:
            await open_in_browser(server, url, lambda line: note(line, width=8000))  # the whole URL

    return McpServers(configs, log_dir or paths.mcp_log_dir(), sign_in=sign_in, key_file=paths.keys_file())


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
