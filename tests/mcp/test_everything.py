"""The protocol's reference test server, @modelcontextprotocol/server-everything, over stdio.

Opt-in (it needs npx and the package, which may mean a download): set
``LLMCHAT_TEST_MCP_EVERYTHING=1``. It is skipped with the reason otherwise, and when the
server cannot start (no npx, no network and nothing cached).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from llmchat.chat.tools import ToolRegistry
from llmchat.mcp.client import McpServers
from llmchat.mcp.config import ServerConfig
from llmchat.mcp.tools import mcp_tools

pytestmark = [
    pytest.mark.skipif(os.environ.get("LLMCHAT_TEST_MCP_EVERYTHING") != "1",
                       reason="opt-in: set LLMCHAT_TEST_MCP_EVERYTHING=1 (runs npx)"),
    pytest.mark.skipif(shutil.which("npx") is None, reason="npx is not installed"),
    pytest.mark.timeout(180),
]


async def test_server_everything_tools(tmp_path: Path) -> None:
    config = ServerConfig("everything", "stdio", command="npx",
                          args=("-y", "@modelcontextprotocol/server-everything"))
    async with McpServers([config], tmp_path / "logs") as servers:
        [server] = await servers.start()
        if server.state != "running":
            pytest.skip(f"server-everything did not start: {server.error}")
        tools = {t.remote_name: t for t in mcp_tools(servers)}
        assert "echo" in tools, sorted(tools)
        registry = ToolRegistry(tools.values())
        out = await registry.call(tools["echo"].name, '{"message": "pelican"}')
        assert out.status == "ok" and "pelican" in out.text
        image = next((t for name, t in tools.items() if "image" in name.lower()), None)
        if image is not None:
            out = await registry.call(image.name, "{}")
            assert out.status == "ok" and "image (image/png" in out.text
