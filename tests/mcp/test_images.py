"""An MCP tool's image reaches the model as an image where the provider takes images in tool
results (Anthropic's tool_result), and as a note elsewhere (OpenAI-compatible): the tool loop
against the loopback server, with the test MCP server over stdio."""

from __future__ import annotations

from pathlib import Path

import httpx

from llmchat.chat.models import Conversation, Message
from llmchat.chat.toolloop import ToolLoop, approve_all
from llmchat.chat.tools import ToolRegistry
from llmchat.mcp.client import McpServers
from llmchat.mcp.config import ServerConfig
from llmchat.mcp.tools import mcp_tools
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, completion
from tests.providers.test_anthropic_wire import (
    MESSAGE_STOP, block_stop, json_delta, message_delta, message_start, stream, text_stream, tool_start,
)
from tests.test_cli_tools import tool_call_reply


def scripted(*replies: Reply):
    queue = list(replies)
    return lambda _request: queue.pop(0)


async def run_loop(provider_of, server: LoopbackServer, config: ServerConfig, tmp_path: Path) -> None:
    async with McpServers([config], tmp_path / "logs") as servers, httpx.AsyncClient(timeout=10) as client:
        [mcp] = await servers.start()
        assert mcp.state == "running", mcp.error
        conversation = Conversation(messages=[Message("user", "Show me the picture")])
        loop = ToolLoop(provider_of(client), conversation, "model", ToolRegistry(mcp_tools(servers)),
                        approve=approve_all)
        async for _ in loop.events():
            pass


async def test_anthropic_gets_the_image_in_the_tool_result(
    server: LoopbackServer, stdio_config: ServerConfig, tmp_path: Path
) -> None:
    call = stream(message_start(), tool_start(0, "toolu_1", "test__picture"), json_delta(0, "{}"),
                  block_stop(0), message_delta("tool_use", 5), MESSAGE_STOP)
    server.handler = scripted(Reply(parts=[call]), Reply(parts=[text_stream(["A tiny PNG."])]))
    await run_loop(lambda c: AnthropicProvider(client=c, base_url=f"http://127.0.0.1:{server.port}",
                                               api_key="sk-ant-test"), server, stdio_config, tmp_path)
    result = server.requests[1].json()["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_1"
    text, image = result["content"]
    assert text["type"] == "text" and "image (image/png, 24 bytes)" in text["text"]
    assert image["type"] == "image" and image["source"]["type"] == "base64"
    assert image["source"]["media_type"] == "image/png" and image["source"]["data"].startswith("iVBORw0KGgo")


async def test_openai_gets_a_note_and_no_unknown_key(
    server: LoopbackServer, stdio_config: ServerConfig, tmp_path: Path
) -> None:
    server.handler = scripted(tool_call_reply("test__picture", "{}"), Reply(parts=[completion(["ok"])]))
    await run_loop(lambda c: OpenAIProvider(client=c, base_url=server.base_url, api_key="sk-test"),
                   server, stdio_config, tmp_path)
    message = server.requests[1].json()["messages"][-1]
    assert set(message) == {"role", "tool_call_id", "content"}
    assert "image (image/png, 24 bytes)" in message["content"]
