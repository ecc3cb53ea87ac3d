"""Anthropic extended thinking with tools: thinking blocks captured from the stream (with their
signature) and sent back before the ``tool_use`` blocks; ``tool_result.is_error``; the
Anthropic-only message keys never reach the other wire protocols.

Shapes follow Anthropic "Building with extended thinking" ("Extended thinking with tool use",
"Preserving thinking blocks") and "Streaming Messages" (``signature_delta`` inside a thinking
block, just before its ``content_block_stop``; ``redacted_thinking`` whole in its
``content_block_start``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.anthropic_request import convert_messages
from llmchat.providers.base import WIRE_EXTENSIONS, ChatRequest
from llmchat.providers.events import ReasoningDelta, ThinkingBlock, ToolCallDelta
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, split_every
from tests.providers.test_anthropic_wire import (
    MESSAGE_STOP,
    block_start,
    block_stop,
    collect,
    delta,
    json_delta,
    message_delta,
    message_start,
    reply_with,
    request,
    stream,
    tool_start,
)

SIGNATURE = "EuYBCkQYAiJAgCs1le6/Pol5Z4/JMomVOouGrWdhYNsH3ukzUECbB6iWrSQtsQuRHJID6lWV+Zw=="
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDJ5Ifq+h4G0gXz+Z"
THINKING = {"type": "thinking", "thinking": "Weather: call the tool.", "signature": SIGNATURE}
REDACTED_BLOCK = {"type": "redacted_thinking", "data": REDACTED}
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}


# --- the stream ----------------------------------------------------------------------------


async def test_signature_in_pieces_and_redacted_blocks_come_whole_in_order(server: LoopbackServer) -> None:
    body = stream(
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Weather: "),
        delta(0, type="thinking_delta", thinking="call the tool."),
        delta(0, type="signature_delta", signature=SIGNATURE[:20]),
        delta(0, type="signature_delta", signature=SIGNATURE[20:]),
        block_stop(0),
        block_start(1, REDACTED_BLOCK),
        block_stop(1),
        tool_start(2, "toolu_1", "weather"),
        json_delta(2, '{"city": "Paris"}'),
        block_stop(2),
        message_delta("tool_use", 40),
        MESSAGE_STOP,
    )
    server.handler = reply_with(*split_every(body, 9))  # the signature is cut across reads
    events = await collect(server)
    assert events[:5] == [  # each block is given whole when it ends, in the reply's order
        ReasoningDelta("Weather: "),
        ReasoningDelta("call the tool."),
        ThinkingBlock(THINKING),
        ThinkingBlock(REDACTED_BLOCK),
        ToolCallDelta(2, "toolu_1", "weather", ""),
    ]


async def test_a_block_without_signature_or_cut_off_is_not_given(server: LoopbackServer) -> None:
    body = stream(
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="no signature here"),
        block_stop(0),  # e.g. a compatible server that signs nothing: cannot be sent back
        block_start(1, {"type": "redacted_thinking", "data": ""}),
        block_stop(1),
        block_start(2, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(2, type="thinking_delta", thinking="cut"),
        delta(2, type="signature_delta", signature=SIGNATURE),
        # no content_block_stop: the reply ends without the block
        message_delta("max_tokens", 5),
        MESSAGE_STOP,
    )
    server.handler = reply_with(body)
    events = await collect(server)
    assert not [e for e in events if isinstance(e, ThinkingBlock)]
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta("no signature here"), ReasoningDelta("cut")]


# --- the request ---------------------------------------------------------------------------


def tool_round(*, thinking: list[dict[str, Any]], text: str | None = None,
               error: bool = False) -> list[dict[str, Any]]:
    """Chat Completions messages: a question, a reply with a call, the call's result."""
    result: dict[str, Any] = {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    if error:
        result["is_error"] = True
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": text, "tool_calls": [CALL], "thinking_blocks": thinking},
        result,
    ]


def test_thinking_blocks_go_first_unchanged_then_text_then_tool_use() -> None:
    thinking = [dict(THINKING), dict(REDACTED_BLOCK)]
    messages, _ = convert_messages(tool_round(thinking=thinking, text="Let me check."))
    assert messages[1] == {"role": "assistant", "content": [
        THINKING, REDACTED_BLOCK, {"type": "text", "text": "Let me check."}, TOOL_USE]}
    assert messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}
    assert thinking == [THINKING, REDACTED_BLOCK]  # the message's own blocks are not touched
    assert messages[1]["content"][0] is not thinking[0]


def test_blocks_that_cannot_be_sent_back_are_left_out() -> None:
    thinking = [
        {"type": "thinking", "thinking": "unsigned", "signature": ""},
        {"type": "thinking", "thinking": "no signature key"},
        {"type": "redacted_thinking"},
        THINKING,
    ]
    messages, _ = convert_messages(tool_round(thinking=thinking))
    assert messages[1]["content"] == [THINKING, TOOL_USE]


def test_is_error_marks_the_tool_result() -> None:
    messages, _ = convert_messages(tool_round(thinking=[], error=True))
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny", "is_error": True}]


def test_only_the_turn_in_progress_carries_thinking() -> None:
    later = {**THINKING, "signature": "second-turn"}
    history = [
        *tool_round(thinking=[THINKING]),
        {"role": "assistant", "content": "Sunny.", "thinking_blocks": [{**THINKING, "signature": "final"}]},
        {"role": "user", "content": "And in Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [{**CALL, "id": "toolu_2"}],
         "thinking_blocks": [later]},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "rainy"},
        # a second round of the same turn, without thinking (not interleaved)
        {"role": "assistant", "content": None, "tool_calls": [{**CALL, "id": "toolu_3"}]},
        {"role": "tool", "tool_call_id": "toolu_3", "content": "still rainy"},
    ]
    messages, _ = convert_messages(history)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user",
                                             "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == [TOOL_USE]  # an earlier turn: its blocks are not needed
    assert messages[3]["content"] == "Sunny."
    assert messages[5]["content"][0] == later  # the turn in progress starts with its thinking
    assert messages[7]["content"][0]["type"] == "tool_use"


def test_results_merged_with_a_new_question_keep_the_turn_open() -> None:
    # a loop cancelled mid-turn, then a new question: the API still sees the last tool_use
    # and tool_result blocks and wants that assistant message to start with its thinking
    messages, _ = convert_messages([*tool_round(thinking=[THINKING]), {"role": "user", "content": "Well?"}])
    assert messages[1]["content"][0] == THINKING
    assert messages[2]["content"][-1] == {"type": "text", "text": "Well?"}


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        ({"thinking_budget": 2048}, True),
        ({}, True),  # thinking on by default on some models
        ({"thinking": {"type": "adaptive"}}, True),
        ({"thinking": {"type": "disabled"}}, False),  # the API rejects thinking blocks then
    ],
)
def test_thinking_blocks_follow_the_thinking_option(options: dict[str, Any], sent: bool) -> None:
    provider = AnthropicProvider(client=httpx.AsyncClient(), api_key="k")
    body = provider.build_body(request(messages=tool_round(thinking=[THINKING]), options=options))
    assert (body["messages"][1]["content"][0] == THINKING) is sent
    assert body["messages"][1]["content"][-1] == TOOL_USE


# --- the other wire protocols never see the Anthropic-only keys ------------------------------


def test_openai_and_ollama_bodies_leave_the_anthropic_keys_out() -> None:
    messages = tool_round(thinking=[THINKING], text="Let me check.", error=True)
    req = ChatRequest(model="m", messages=messages)
    client = httpx.AsyncClient()
    openai_body = OpenAIProvider(client=client, base_url="http://127.0.0.1:9/v1").build_body(req)
    ollama_body = OllamaProvider(client=client, base_url="http://127.0.0.1:9").build_body(req)
    for sent in (openai_body["messages"], ollama_body["messages"]):
        assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
        assert not any(WIRE_EXTENSIONS & m.keys() for m in sent)
    assert openai_body["messages"][1]["tool_calls"] == [CALL]
    assert openai_body["messages"][2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    assert "thinking_blocks" in messages[1] and messages[2]["is_error"]  # the request is unchanged
