"""llmchat.mcp.client and .tools against real MCP servers (the SDK's server API) over stdio,
Streamable HTTP and SSE on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from llmchat.chat.tools import ToolRegistry
from llmchat.mcp.client import McpServers
from llmchat.mcp.config import ServerConfig
from llmchat.mcp.tools import McpTool, mcp_tools
from tests.loopback import LoopbackServer, Reply
from tests.mcp.conftest import pid_alive, wait_for

EXPECTED = {"echo", "add", "write_note", "fail", "picture", "slow"}


async def wait_async(condition, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def by_remote(tools: list[McpTool]) -> dict[str, McpTool]:
    return {t.remote_name: t for t in tools}


async def check_round_trip(config: ServerConfig, tmp_path: Path) -> None:
    async with McpServers([config], tmp_path / "logs") as servers:
        [server] = await servers.start()
        assert server.state == "running", server.error
        tools = by_remote(mcp_tools(servers))
        assert set(tools) == EXPECTED
        assert tools["echo"].name == "test__echo" and tools["echo"].read_only
        assert not tools["write_note"].read_only  # no readOnlyHint: needs approval
        registry = ToolRegistry(tools.values())
        out = await registry.call("test__echo", '{"text": "hi"}')
        assert (out.status, out.text) == ("ok", "echo: hi")
        out = await registry.call("test__add", '{"a": 2, "b": 3}')
        assert out.status == "ok" and '"sum": 5' in out.text
        out = await registry.call("test__fail", '{"reason": "disk on fire"}')
        assert out.status == "error" and "disk on fire" in out.text and out.text.startswith("Error:")
        out = await registry.call("test__picture", "{}")
        assert out.status == "ok" and "image (image/png, 24 bytes)" in out.text
        assert [mime for mime, _ in out.images] == ["image/png"]  # for providers that take images
    assert server.state == "stopped"


async def test_stdio_round_trip(stdio_config: ServerConfig, tmp_path: Path, work: Path) -> None:
    await check_round_trip(stdio_config, tmp_path)
    pid = int((work / "pid").read_text())
    wait_for(lambda: not pid_alive(pid), what="the stdio server to exit")


async def test_streamable_http_round_trip(http_url: str, tmp_path: Path) -> None:
    await check_round_trip(ServerConfig("test", "http", url=http_url), tmp_path)


async def test_legacy_sse_round_trip(sse_url: str, tmp_path: Path) -> None:
    await check_round_trip(ServerConfig("test", "sse", url=sse_url), tmp_path)


async def test_cancelling_a_call_tells_the_server(stdio_config: ServerConfig, tmp_path: Path, work: Path) -> None:
    async with McpServers([stdio_config], tmp_path / "logs") as servers:
        await servers.start()
        slow = by_remote(mcp_tools(servers))["slow"]
        task = asyncio.create_task(slow.run({"seconds": 60}))
        await wait_async((work / "slow-started").exists, "the slow tool to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # notifications/cancelled reached the server, which stopped the tool's task
        await wait_async((work / "slow-cancelled").exists, "the server to see the cancellation")
        echo = by_remote(mcp_tools(servers))["echo"]
        assert await echo.run({"text": "still up"}) == "echo: still up"


async def test_a_server_that_cannot_start_is_reported_and_the_others_run(
    stdio_config: ServerConfig, tmp_path: Path
) -> None:
    broken = ServerConfig("broken", "stdio", command="llmchat-no-such-command")
    exits = ServerConfig("exits", "stdio", command=sys.executable, args=("-c", "import sys; print('bye', file=sys.stderr)"))
    nobody = ServerConfig("nobody", "http", url="http://127.0.0.1:9/mcp")
    async with McpServers([broken, stdio_config, exits, nobody], tmp_path / "logs") as servers:
        started = await servers.start()
        states = {s.name: (s.state, s.error) for s in started}
        assert states["test"] == ("running", None)
        assert states["broken"] == ("failed", "command not found: llmchat-no-such-command")
        assert states["exits"][0] == "failed" and states["exits"][1]
        assert states["nobody"][0] == "failed" and states["nobody"][1]
        assert [t.remote_name for t in mcp_tools(servers) if t.remote_name == "echo"] == ["echo"]
        assert "bye" in servers.get("exits").read_log()  # its stderr went to its log


async def test_a_server_that_dies_fails_its_calls_with_a_reason(
    stdio_config: ServerConfig, tmp_path: Path, work: Path
) -> None:
    async with McpServers([stdio_config], tmp_path / "logs") as servers:
        [server] = await servers.start()
        echo = by_remote(mcp_tools(servers))["echo"]
        os.kill(int((work / "pid").read_text()), 9)
        out = await ToolRegistry([echo]).invoke(echo, {"text": "x"})
        assert out.status == "error" and "test" in out.text
        assert server.state == "failed" and server.error


async def test_stderr_goes_to_the_log_not_the_terminal(
    stdio_config: ServerConfig, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async with McpServers([stdio_config], tmp_path / "logs") as servers:
        [server] = await servers.start()
    assert "test server starting (stdio)" in server.read_log()
    assert server.log_path == tmp_path / "logs" / "test.log"
    captured = capfd.readouterr()
    assert "test server starting" not in captured.err + captured.out


async def test_hostile_servers_fail_with_one_line_each(tmp_path: Path, server: LoopbackServer) -> None:
    """A server that dies at start says why (its last stderr line); one that writes garbage,
    an SSE endpoint that never names its message URL and an HTTP endpoint that answers with
    something else fail within the start timeout, each with one line, and the test server
    started beside them runs."""
    server.handler = lambda request: Reply(parts=[b"data: {\"not\": \"mcp\"}\n\n", 60.0])
    configs = [
        ServerConfig("dies", "stdio", command=sys.executable,
                     args=("-c", "import sys; print('old line', file=sys.stderr); print('missing API key', file=sys.stderr); sys.exit(3)")),
        ServerConfig("garbage", "stdio", command=sys.executable,
                     args=("-c", "import time; print('hello, not json', flush=True); time.sleep(60)")),
        ServerConfig("stalls", "sse", url=f"{server.base_url}/sse"),
        ServerConfig("notmcp", "http", url=f"{server.base_url}/mcp"),
    ]
    async with McpServers(configs, tmp_path / "logs", start_timeout=10) as servers:
        started = await servers.start()
        errors = {s.name: s.error or "" for s in started}
        assert all(s.state == "failed" for s in started), errors
        assert errors["dies"].endswith("(its stderr: missing API key)")
        assert errors["garbage"] == "no answer within 10 seconds"
        assert errors["stalls"] == "no answer within 10 seconds"
        assert all("\n" not in e and e for e in errors.values())
        assert "protocol error" in servers.get("garbage").read_log()
