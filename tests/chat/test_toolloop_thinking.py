"""The tool loop with Anthropic extended thinking, against a loopback server that checks what
the Messages API checks ("Extended thinking with tool use", "Preserving thinking blocks"):

- the assistant message that opens the turn in progress (the one answered with tool results)
  starts with its thinking blocks, each exactly as the server sent it (signature, data);
- a request that breaks the rule gets the API's 400 answer, so the loop fails.

Then ``tool_result.is_error`` for a failed call, and a conversation that goes on with an
OpenAI-compatible server or Ollama after such a round: their bodies carry no unknown keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmchat.chat.models import Conversation, Message, ToolCall
from llmchat.chat.toolloop import approve_all, run_tool_loop
from llmchat.chat.tools import Tool, ToolError, ToolRegistry
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.errors import BadRequestError
from llmchat.providers.policy import StreamPolicy
from tests.chat.test_toolloop import Call, OllamaWire, OpenAIWire
from tests.loopback import LoopbackServer, Reply, Request, json_reply, split_every
from tests.providers.test_anthropic_wire import (
    MESSAGE_STOP,
    block_start,
    block_stop,
    delta,
    json_delta,
    message_delta,
    message_start,
    stream,
    text_delta,
    text_start,
    tool_start,
)

SIGNATURE = "EuYBCkQYAiJAgCs1le6/Pol5Z4/JMomVOouGrWdhYNsH3ukzUECbB6iWrSQtsQuRHJID6lWV+Zw=="
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDJ5Ifq+h4G0gXz+Z"
THOUGHT = "Two cities: call the tool for each. Zürich → 🌤?"
QUESTION = "Weather in Paris and Atlantis?"
THINKING_ON = {"thinking_budget": 2048}


# --- a Messages API stand-in ----------------------------------------------------------------


class FakeMessagesAPI:
    """Answers ``/v1/messages`` with `replies` in turn and checks each request's thinking
    blocks as the API does; a request that breaks a rule gets the API's 400 answer."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.bodies: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.issued: list[dict[str, Any]] = []
        """The thinking blocks the server sent, as a client must send them back."""
        self._issued_keys: set[str] = set()

    def issue(self, *blocks: dict[str, Any]) -> None:
        self.issued += blocks
        self._issued_keys |= {json.dumps(b, sort_keys=True) for b in blocks}

    def problem(self, body: dict[str, Any]) -> str | None:
        messages = body["messages"]
        turn = 0
        for i, message in enumerate(messages):
            content = message["content"]
            if message["role"] == "user" and not (
                isinstance(content, list) and any(b["type"] == "tool_result" for b in content)
            ):
                turn = i + 1
        for i, message in enumerate(messages):
            if message["role"] != "assistant" or isinstance(message["content"], str):
                continue
            for j, block in enumerate(message["content"]):
                if block["type"] in ("thinking", "redacted_thinking") and (
                    json.dumps(block, sort_keys=True) not in self._issued_keys
                ):
                    return f"messages.{i}.content.{j}: `thinking` or `redacted_thinking` blocks " \
                           "in the latest assistant message cannot be modified."
        opening = next((i for i in range(turn, len(messages)) if messages[i]["role"] == "assistant"), None)
        if "thinking" in body and opening is not None:
            first = messages[opening]["content"]
            kind = "text" if isinstance(first, str) else first[0]["type"]
            if kind not in ("thinking", "redacted_thinking"):
                return (f"messages.{opening}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                        f"but found `{kind}`. When `thinking` is enabled, a final `assistant` message "
                        "must start with a thinking block.")
        return None

    def __call__(self, request: Request) -> Reply:
        body = request.json()
        self.bodies.append(body)
        problem = self.problem(body)
        if problem:
            self.rejected.append(problem)
            return json_reply(400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": problem}})
        reply = self.replies[min(len(self.bodies) - 1, len(self.replies) - 1)]
        return Reply(parts=split_every(reply, 7))  # signatures and JSON cut across reads


def thinking_events(index: int, thought: str, signature: str) -> list[dict[str, Any]]:
    """A thinking block as it streams: text, then the signature in pieces."""
    third = len(signature) // 3
    return [
        block_start(index, {"type": "thinking", "thinking": "", "signature": ""}),
        *(delta(index, type="thinking_delta", thinking=p) for p in (thought[:10], thought[10:])),
        *(delta(index, type="signature_delta", signature=p)
          for p in (signature[:third], signature[third : 2 * third], signature[2 * third :])),
        block_stop(index),
    ]


def tool_blocks(first: int, calls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, (id_, city) in enumerate(calls, start=first):
        arguments = json.dumps({"city": city})
        out += [tool_start(index, id_, "weather"), json_delta(index, arguments[:5]),
                json_delta(index, arguments[5:]), block_stop(index)]
    return out


def tool_reply(*blocks: dict[str, Any]) -> bytes:
    return stream(message_start(), *blocks, message_delta("tool_use", 30), MESSAGE_STOP)


def text_reply(text: str, *blocks: dict[str, Any]) -> bytes:
    first = len([b for b in blocks if b["type"] == "content_block_start"])
    return stream(message_start(), *blocks, text_start(first), text_delta(first, text),
                  block_stop(first), message_delta("end_turn", 9), MESSAGE_STOP)


def weather_registry() -> ToolRegistry:
    async def weather(arguments: dict[str, Any]) -> str:
        if arguments["city"] == "Atlantis":
            raise ToolError("no such city")
        return f"sunny in {arguments['city']}"

    return ToolRegistry([Tool(
        "weather", "The weather in a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        handler=weather, read_only=True,
    )])


def anthropic(client: httpx.AsyncClient, server: LoopbackServer) -> AnthropicProvider:
    return AnthropicProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                             api_key="k", policy=StreamPolicy(retries=0))


def tool_use(id_: str, city: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": "weather", "input": {"city": city}}


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.timeout(180)
async def test_thinking_blocks_go_back_with_the_tool_results(server: LoopbackServer) -> None:
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    redacted = {"type": "redacted_thinking", "data": REDACTED}
    api = FakeMessagesAPI([
        tool_reply(*thinking_events(0, THOUGHT, SIGNATURE), block_start(1, redacted), block_stop(1),
                   text_start(2), text_delta(2, "Let me check."), block_stop(2),
                   *tool_blocks(3, [("toolu_P", "Paris"), ("toolu_A", "Atlantis")])),
        text_reply("Sunny in Paris; Atlantis is unknown."),
    ])
    api.issue(thinking, redacted)
    server.handler = api
    conversation = Conversation(messages=[Message("user", QUESTION)])
    async with httpx.AsyncClient() as client:
        outcome = await run_tool_loop(anthropic(client, server), conversation, "claude", THINKING_ON,
                                      weather_registry(), approve=approve_all)

    assert api.rejected == []
    assert outcome.rounds == 2 and outcome.finish_reason == "stop"
    second = api.bodies[1]
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert second["messages"][1] == {"role": "assistant", "content": [
        thinking, redacted, {"type": "text", "text": "Let me check."},
        tool_use("toolu_P", "Paris"), tool_use("toolu_A", "Atlantis"),
    ]}
    assert second["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_P", "content": "sunny in Paris"},
        {"type": "tool_result", "tool_use_id": "toolu_A", "content": "Error: no such city", "is_error": True},
    ]}
    reply, ok, failed, final = conversation.messages[1:]
    assert reply.thinking_blocks == [thinking, redacted] and reply.reasoning == THOUGHT
    assert (ok.is_error, failed.is_error) == (False, True)
    assert final.thinking_blocks == []


@pytest.mark.timeout(180)
async def test_the_turn_keeps_its_opening_thinking_and_the_next_turn_drops_it(server: LoopbackServer) -> None:
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    later = {"type": "thinking", "thinking": "Done: answer.", "signature": SIGNATURE[::-1]}
    api = FakeMessagesAPI([
        tool_reply(*thinking_events(0, THOUGHT, SIGNATURE), *tool_blocks(1, [("toolu_1", "Paris")])),
        tool_reply(*tool_blocks(0, [("toolu_2", "Rome")])),  # no thinking: not interleaved
        text_reply("Sunny in both.", *thinking_events(0, later["thinking"], later["signature"])),
        text_reply("You're welcome."),
    ])
    api.issue(thinking, later)
    server.handler = api
    conversation = Conversation(messages=[Message("user", QUESTION)])
    async with httpx.AsyncClient() as client:
        provider = anthropic(client, server)
        outcome = await run_tool_loop(provider, conversation, "claude", THINKING_ON,
                                      weather_registry(), approve=approve_all)
        assert outcome.rounds == 3
        conversation.messages.append(Message("user", "Thanks!"))
        await run_tool_loop(provider, conversation, "claude", THINKING_ON,
                            weather_registry(), approve=approve_all)

    assert api.rejected == []
    third = api.bodies[2]["messages"]
    assert third[1]["content"] == [thinking, tool_use("toolu_1", "Paris")]
    assert third[3]["content"] == [tool_use("toolu_2", "Rome")]
    final = conversation.messages[5]  # a reply without calls ends the turn: only its text is kept
    assert final.reasoning == later["thinking"] and final.thinking_blocks == []
    fourth = api.bodies[3]["messages"]  # a new turn: no thinking block is needed, none is sent
    blocks = [b for m in fourth if isinstance(m["content"], list) for b in m["content"]]
    assert not [b for b in blocks if b["type"] == "thinking"]
    assert fourth[-2:] == [{"role": "assistant", "content": "Sunny in both."},
                           {"role": "user", "content": "Thanks!"}]


@pytest.mark.timeout(180)
async def test_the_stand_in_rejects_a_turn_without_its_thinking(server: LoopbackServer) -> None:
    # the check the tests above rely on: the API's 400 when the thinking is not sent back
    api = FakeMessagesAPI([text_reply("unused")])
    server.handler = api
    conversation = Conversation(messages=[
        Message("user", QUESTION),
        Message("assistant", "", tool_calls=[ToolCall("toolu_1", "weather", '{"city": "Paris"}')],
                finish_reason="tool_calls"),  # its thinking blocks lost
        Message("tool", "sunny", tool_call_id="toolu_1"),
    ])
    async with httpx.AsyncClient() as client:
        with pytest.raises(BadRequestError, match="Expected `thinking` or `redacted_thinking`"):
            await run_tool_loop(anthropic(client, server), conversation, "claude", THINKING_ON,
                                weather_registry(), approve=approve_all)
    assert len(api.rejected) == 1


CHAT_KEYS = {"role", "content", "tool_calls", "tool_call_id", "name"}
"""The message keys of Chat Completions that llmchat sends."""
OLLAMA_KEYS = {"role", "content", "images", "tool_calls", "tool_name", "tool_call_id", "thinking"}


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("wire", "path", "keys"),
    [(OpenAIWire(), "/v1/chat/completions", CHAT_KEYS), (OllamaWire(), "/api/chat", OLLAMA_KEYS)],
    ids=["openai", "ollama"],
)
async def test_another_provider_after_a_thinking_round_gets_no_unknown_keys(
    server: LoopbackServer, wire: OpenAIWire | OllamaWire, path: str, keys: set[str]
) -> None:
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    api = FakeMessagesAPI([
        tool_reply(*thinking_events(0, THOUGHT, SIGNATURE), *tool_blocks(1, [("toolu_A", "Atlantis")])),
        text_reply("Atlantis is unknown."),
    ])
    api.issue(thinking)
    other = [wire.tool_reply("", [Call("call_r", "weather", ['{"city": "Rome"}'])], (10, 5)),
             wire.text_reply("Sunny in Rome.", (20, 7))]
    other_bodies: list[dict[str, Any]] = []

    def handler(request: Request) -> Reply:
        if request.path.endswith("/v1/messages"):
            return api(request)
        assert request.path == path
        other_bodies.append(request.json())
        body = other[min(len(other_bodies) - 1, 1)]
        return Reply(parts=[body], headers={"content-type": wire.content_type})

    server.handler = handler
    conversation = Conversation(messages=[Message("user", QUESTION)])
    async with httpx.AsyncClient() as client:
        await run_tool_loop(anthropic(client, server), conversation, "claude", THINKING_ON,
                            weather_registry(), approve=approve_all)
        assert conversation.messages[1].thinking_blocks == [thinking]
        assert conversation.messages[2].is_error
        conversation.messages.append(Message("user", "And Rome?"))  # the user switched provider
        switch: Callable[[httpx.AsyncClient, LoopbackServer], Any] = wire.provider
        await run_tool_loop(switch(client, server), conversation, "m", THINKING_ON,
                            weather_registry(), approve=approve_all)

    assert api.rejected == [] and len(other_bodies) == 2
    for body in other_bodies:
        assert [m["role"] for m in body["messages"]][:4] == ["user", "assistant", "tool", "assistant"]
        for message in body["messages"]:
            assert message.keys() <= keys, message
        assert "Error: no such city" in [m["content"] for m in body["messages"]]
