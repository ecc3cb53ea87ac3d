"""A hostile MCP server over HTTP cannot fill memory: a JSON reply that never ends, a
compressed one that expands without end, or an event that never ends fails that one request
with one line, and the server answers the next call (llmchat.mcp.bounded).

The server is the loopback HTTP server speaking just enough Streamable HTTP (MCP spec
2025-06-18, basic/transports): JSON-RPC over POST, answered with ``application/json`` or
``text/event-stream``; the GET listen stream and DELETE refused with 405, as the spec allows.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmchat.mcp.bounded import MAX_MESSAGE_BYTES
from llmchat.mcp.client import McpServerError, McpServers
from llmchat.mcp.config import ServerConfig
from tests.loopback import LoopbackServer, Reply, Request

TOOLS = [{"name": name, "inputSchema": {"type": "object"}} for name in ("echo", "flood", "bomb", "endless_event")]
BLOCK = b"a" * 65536


def reply(message_id: Any, result: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}).encode()


def json_reply(body: Any, **headers: str) -> Reply:
    return Reply(parts=body if not isinstance(body, bytes) else [body],
                 headers={"content-type": "application/json", **headers})


def gzip_bomb(head: bytes) -> Iterator[bytes]:
    """A gzip body that starts with `head` and goes on with zeros for ever (about 1 KB on the
    wire per MiB decoded)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield packer.compress(head)
    zeros = bytes(1 << 20)
    while True:
        yield packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH)


def hostile(initialize: str = "ok"):
    """A Streamable HTTP MCP server whose tools (and, with `initialize` "flood", whose
    ``initialize`` answer) misbehave as their names say."""

    def handle(request: Request) -> Reply:
        if request.method != "POST":
            return Reply(status=405, parts=[], headers={"content-type": "text/plain"})
        message = request.json()
        method, message_id = message.get("method"), message.get("id")
        if message_id is None:  # a notification
            return Reply(status=202, parts=[], headers={})
        if method == "initialize":
            if initialize == "flood":
                return json_reply(itertools.chain([b'{"jsonrpc": "2.0", "id": 0, "result": "'], itertools.repeat(BLOCK)))
            return json_reply(reply(message_id, {
                "protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1"}}))
        if method == "tools/list":
            return json_reply(reply(message_id, {"tools": TOOLS}))
        name = message["params"]["name"]
        head = b'{"jsonrpc": "2.0", "id": %s, "result": {"content": [{"type": "text", "text": "' % json.dumps(message_id).encode()
        if name == "flood":
            return json_reply(itertools.chain([head], itertools.repeat(BLOCK)))
        if name == "bomb":
            return json_reply(gzip_bomb(head), **{"content-encoding": "gzip"})
        if name == "endless_event":
            return Reply(parts=itertools.chain([b"data: " + head], itertools.repeat(BLOCK)))
        return json_reply(reply(message_id, {"content": [{"type": "text", "text": "still here"}]}))

    return handle


async def test_an_endless_json_answer_to_initialize_fails_the_server_with_one_line(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.handler = hostile(initialize="flood")
    config = ServerConfig("flood", "http", url=f"{server.base_url}/mcp")
    async with McpServers([config], tmp_path / "logs") as servers:
        [mcp] = await servers.start()
    assert mcp.state == "failed"
    assert mcp.error and "\n" not in mcp.error
    assert f"the reply passed {MAX_MESSAGE_BYTES // 2**20} MiB" in mcp.error  # the cap, not the start timeout
    assert server.disconnected.is_set()  # llmchat stopped reading


@pytest.mark.parametrize(("tool", "says"), [
    ("flood", f"the reply passed {MAX_MESSAGE_BYTES // 2**20} MiB"),
    ("bomb", f"the reply passed {MAX_MESSAGE_BYTES // 2**20} MiB"),
])
async def test_a_reply_past_the_cap_fails_that_call_and_the_server_answers_the_next(
    server: LoopbackServer, tmp_path: Path, tool: str, says: str
) -> None:
    server.handler = hostile()
    config = ServerConfig("hostile", "http", url=f"{server.base_url}/mcp")
    async with McpServers([config], tmp_path / "logs") as servers:
        [mcp] = await servers.start()
        assert mcp.state == "running", mcp.error
        with pytest.raises(McpServerError) as failed:
            await mcp.call_tool(tool, {})
        message = str(failed.value)
        assert message.startswith("MCP server 'hostile': ") and says in message, message
        assert "\n" not in message
        result = await mcp.call_tool("echo", {})
        assert mcp.state == "running"
        assert result.content[0].text == "still here"


async def test_requests_ask_only_for_encodings_decoded_in_bounded_pieces(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.handler = hostile()
    config = ServerConfig("hostile", "http", url=f"{server.base_url}/mcp", headers={"X-Token": "t"})
    async with McpServers([config], tmp_path / "logs") as servers:
        [mcp] = await servers.start()
        assert mcp.state == "running", mcp.error
    posts = [r for r in server.requests if r.method == "POST"]
    assert posts and all("zstd" not in r.headers["accept-encoding"] for r in posts)
    assert all(r.headers["x-token"] == "t" for r in posts)  # the config's headers still go


async def test_an_endless_event_fails_the_call_with_one_line(server: LoopbackServer, tmp_path: Path) -> None:
    """The SDK cuts the event stream at the cap and reports the request's connection as
    closed, so the server is marked failed, with that reason."""
    server.handler = hostile()
    config = ServerConfig("hostile", "http", url=f"{server.base_url}/mcp")
    async with McpServers([config], tmp_path / "logs") as servers:
        [mcp] = await servers.start()
        assert mcp.state == "running", mcp.error
        with pytest.raises(McpServerError) as failed:
            await mcp.call_tool("endless_event", {})
    message = str(failed.value)
    assert message.startswith("MCP server 'hostile': ") and "\n" not in message
    assert f"exceeded the {MAX_MESSAGE_BYTES} byte limit" in message, message
    assert mcp.error and f"exceeded the {MAX_MESSAGE_BYTES} byte limit" in mcp.error
