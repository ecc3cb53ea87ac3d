"""The tool loop (ChatSession) over the Responses and Gemini providers against the loopback
server: the second request carries what each API requires back (Responses reasoning items
with their ids; Gemini's model turn with its thought signature) and the tool result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from llmchat.chat.engine import ChatSession, TurnFinished
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.gemini import GeminiProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.responses import ResponsesProvider
from tests.loopback import LoopbackServer, Reply
from tests.streams import data_sse, gemini_chunk, gemini_stream, gemini_usage, responses_stream


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def registry(seen: list[dict[str, Any]]) -> ToolRegistry:
    def weather(arguments: dict[str, Any]) -> str:
        seen.append(arguments)
        return "sunny"

    return ToolRegistry([Tool("weather", "The weather in a city.", handler=weather)])


async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
    return True


async def run_turn(session: ChatSession, prompt: str) -> TurnFinished:
    async with aclosing(session.send(prompt)) as events:
        collected = [event async for event in events]
    last = collected[-1]
    assert isinstance(last, TurnFinished)
    return last


async def test_responses_tool_loop_sends_reasoning_items_back(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    replies = [responses_stream([], reasoning=["Need the weather."], calls=[("call_9", "weather", ['{"city":', '"Oslo"}'])]),
               responses_stream(["Sunny."])]
    server.handler = lambda r: Reply(parts=[replies[len(server.requests) - 1]])
    seen: list[dict[str, Any]] = []
    provider = ResponsesProvider(client=client, base_url=server.base_url, api_key="k", policy=StreamPolicy(retries=0))
    session = ChatSession(provider, "o4-mini", tools=registry(seen), approve=approve)
    finished = await run_turn(session, "Weather in Oslo?")
    assert seen == [{"city": "Oslo"}]
    assert (finished.outcome.rounds, finished.outcome.content) == (2, "Sunny.")
    second = server.requests[1].json()
    assert [item.get("type", item.get("role")) for item in second["input"]] == [
        "user", "reasoning", "function_call", "function_call_output"]
    reasoning, call, output = second["input"][1:]
    assert reasoning["id"] == "rs_6876cf02" and reasoning["encrypted_content"] == "gAAAAABo"
    assert (call["id"], call["call_id"], call["arguments"]) == ("fc_call_9", "call_9", '{"city":"Oslo"}')
    assert output == {"type": "function_call_output", "call_id": "call_9", "output": "sunny"}
    assert second["tools"] == [{"type": "function", "name": "weather", "description": "The weather in a city.",
                                "parameters": session.tools.definitions()[0]["function"]["parameters"]}]


async def test_gemini_tool_loop_sends_the_signed_turn_back(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    call = gemini_chunk({"text": "Checking.", "thought": True},
                        {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}, "thoughtSignature": "U0lH"},
                        finish="STOP", usage=gemini_usage(20, 5))
    replies = [data_sse([call]), gemini_stream(["Sunny."])]
    server.handler = lambda r: Reply(parts=[replies[len(server.requests) - 1]])
    seen: list[dict[str, Any]] = []
    provider = GeminiProvider(client=client, base_url=f"http://127.0.0.1:{server.port}", api_key="k",
                              policy=StreamPolicy(retries=0))
    session = ChatSession(provider, "gemini-2.5-flash", tools=registry(seen), approve=approve)
    finished = await run_turn(session, "Weather in Oslo?")
    assert seen == [{"city": "Oslo"}]
    assert (finished.outcome.rounds, finished.outcome.content, finished.outcome.reasoning)[:2] == (2, "Sunny.")
    second = server.requests[1].json()
    assert second["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Oslo?"}]},
        {"role": "model", "parts": [{"text": "Checking.", "thought": True},
                                    {"functionCall": {"name": "weather", "args": {"city": "Oslo"}},
                                     "thoughtSignature": "U0lH"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"result": "sunny"}}}]},
    ]
