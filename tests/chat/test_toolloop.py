"""The tool loop against each provider's wire protocol on a real loopback server.

For OpenAI-compatible servers, Anthropic and Ollama, the server first answers with tool calls
(one; two in parallel; arguments in tiny fragments; invalid JSON arguments) and then with text.
The second request must carry the assistant's calls and the results in that provider's own
format. Then: usage summed over rounds, the round limit, a denied call, and Escape during a
slow command tool (its processes killed). The FakeProvider covers event order, cancellation
mid-stream, provider errors and the conversation's wire shape.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmchat.chat.models import Conversation, Message, ToolCall
from llmchat.chat.toolloop import (
    ConversationApprovals,
    LoopEvent,
    LoopFinished,
    ReplyFinished,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolLoop,
    ToolResult,
    approve_all,
    run_tool_loop,
    sum_usage,
)
from llmchat.chat.tools import CommandTool, Tool, ToolRegistry
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import Provider
from llmchat.providers.errors import ServerError
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta, Usage
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.chat.test_tools import SLEEPER, alive, wait_for_file, wait_gone
from tests.fakes import FakeProvider
from tests.loopback import LoopbackServer, Reply, Request, chunk, split_every, sse

QUESTION = "What's the weather?"
FINAL = "It is sunny."


@dataclass
class Call:
    """A tool call as the server streams it: argument JSON in pieces."""

    id: str
    name: str
    fragments: list[str]

    @property
    def arguments(self) -> str:
        return "".join(self.fragments)

    def arguments_object(self) -> dict[str, Any]:
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


# --- each provider's wire format --------------------------------------------------------------


class OpenAIWire:
    name = "openai"
    content_type = "text/event-stream"

    def provider(self, client: httpx.AsyncClient, server: LoopbackServer) -> Provider:
        return OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))

    def call_id(self, call: Call, index: int) -> str:
        return call.id

    def tool_reply(self, text: str, calls: list[Call], usage: tuple[int, int]) -> bytes:
        objs = [chunk("", role=True)] + [chunk(piece) for piece in _halves(text)]
        for i, call in enumerate(calls):  # id and name only in the first fragment
            objs.append(chunk(tool_calls=[{"index": i, "id": call.id, "type": "function",
                                           "function": {"name": call.name, "arguments": ""}}]))
        longest = max(len(c.fragments) for c in calls)
        for n in range(longest):  # parallel calls interleave by index
            for i, call in enumerate(calls):
                if n < len(call.fragments):
                    objs.append(chunk(tool_calls=[{"index": i, "function": {"arguments": call.fragments[n]}}]))
        objs.append(chunk(finish="tool_calls"))
        objs.append(_openai_usage(usage))
        return sse(*objs)

    def text_reply(self, text: str, usage: tuple[int, int]) -> bytes:
        objs = [chunk("", role=True)] + [chunk(p) for p in _halves(text)] + [chunk(finish="stop")]
        return sse(*objs, _openai_usage(usage))

    def check_followup(self, body: dict[str, Any], text: str, calls: list[Call], results: list[str],
                       registry: ToolRegistry) -> None:
        assert body["tools"] == registry.definitions()
        messages = body["messages"]
        assert messages[0] == {"role": "user", "content": QUESTION}
        assert messages[1] == {
            "role": "assistant",
            "content": text or None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ],
        }
        assert messages[2:] == [
            {"role": "tool", "tool_call_id": c.id, "content": r} for c, r in zip(calls, results)
        ]


class AnthropicWire:
    name = "anthropic"
    content_type = "text/event-stream"

    def provider(self, client: httpx.AsyncClient, server: LoopbackServer) -> Provider:
        return AnthropicProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                                 api_key="k", policy=StreamPolicy(retries=0))

    def call_id(self, call: Call, index: int) -> str:
        return call.id

    def _start(self, usage: tuple[int, int]) -> list[dict[str, Any]]:
        return [
            {"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "content": [],
                "model": "claude-test", "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": usage[0], "output_tokens": 1}}},
            {"type": "ping"},
        ]

    def _text_blocks(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        return [
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
              for p in _halves(text)),
            {"type": "content_block_stop", "index": 0},
        ]

    def _end(self, stop_reason: str, usage: tuple[int, int]) -> list[dict[str, Any]]:
        return [
            {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": usage[1]}},
            {"type": "message_stop"},
        ]

    def tool_reply(self, text: str, calls: list[Call], usage: tuple[int, int]) -> bytes:
        objs = self._start(usage) + self._text_blocks(text)
        first = 1 if text else 0
        for i, call in enumerate(calls, start=first):
            objs.append({"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": call.id, "name": call.name, "input": {}}})
            objs += [{"type": "content_block_delta", "index": i,
                      "delta": {"type": "input_json_delta", "partial_json": f}} for f in call.fragments]
            objs.append({"type": "content_block_stop", "index": i})
        return _anthropic_sse(objs + self._end("tool_use", usage))

    def text_reply(self, text: str, usage: tuple[int, int]) -> bytes:
        return _anthropic_sse(self._start(usage) + self._text_blocks(text) + self._end("end_turn", usage))

    def check_followup(self, body: dict[str, Any], text: str, calls: list[Call], results: list[str],
                       registry: ToolRegistry) -> None:
        assert body["tools"] == [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in registry
        ]
        messages = body["messages"]
        assert messages[0] == {"role": "user", "content": QUESTION}
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments_object()}
                   for c in calls]
        assert messages[1] == {"role": "assistant", "content": blocks}
        assert messages[2] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c.id, "content": r}
            | ({"is_error": True} if r.startswith("Error:") else {})  # a failed call
            for c, r in zip(calls, results)
        ]}
        assert len(messages) == 3


class OllamaWire:
    name = "ollama"
    content_type = "application/x-ndjson"

    def provider(self, client: httpx.AsyncClient, server: LoopbackServer) -> Provider:
        return OllamaProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                              policy=StreamPolicy(retries=0))

    def call_id(self, call: Call, index: int) -> str:
        return f"call_{index}"  # Ollama sends no ids; the provider numbers the calls

    def _line(self, content: str = "", **message: Any) -> str:
        return json.dumps({"model": "qwen3", "created_at": "2025-05-27T22:54:57Z",
                           "message": {"role": "assistant", "content": content, **message},
                           "done": False}) + "\n"

    def _done(self, usage: tuple[int, int]) -> str:
        return json.dumps({"model": "qwen3", "created_at": "2025-05-27T22:54:58Z",
                           "message": {"role": "assistant", "content": ""}, "done": True,
                           "done_reason": "stop", "prompt_eval_count": usage[0],
                           "eval_count": usage[1]}) + "\n"

    def tool_reply(self, text: str, calls: list[Call], usage: tuple[int, int]) -> bytes:
        lines = [self._line(p) for p in _halves(text)]
        ollama_calls = []
        for call in calls:  # complete calls; invalid JSON arrives as a string
            try:
                arguments: Any = json.loads(call.arguments)
            except ValueError:
                arguments = call.arguments
            ollama_calls.append({"function": {"name": call.name, "arguments": arguments}})
        lines.append(self._line(tool_calls=ollama_calls))
        return "".join(lines + [self._done(usage)]).encode()

    def text_reply(self, text: str, usage: tuple[int, int]) -> bytes:
        return "".join([self._line(p) for p in _halves(text)] + [self._done(usage)]).encode()

    def check_followup(self, body: dict[str, Any], text: str, calls: list[Call], results: list[str],
                       registry: ToolRegistry) -> None:
        assert body["tools"] == registry.definitions()
        messages = body["messages"]
        assert messages[0] == {"role": "user", "content": QUESTION}
        assert messages[1] == {
            "role": "assistant",
            "content": text,
            "tool_calls": [
                {"function": {"name": c.name, "arguments": c.arguments_object()}, "id": f"call_{i}"}
                for i, c in enumerate(calls)
            ],
        }
        assert messages[2:] == [
            {"role": "tool", "tool_call_id": f"call_{i}", "content": r, "tool_name": c.name}
            for i, (c, r) in enumerate(zip(calls, results))
        ]


Wire = OpenAIWire | AnthropicWire | OllamaWire
WIRES = [OpenAIWire(), AnthropicWire(), OllamaWire()]


def _halves(text: str) -> list[str]:
    return [p for p in (text[: len(text) // 2], text[len(text) // 2 :]) if p]


def _openai_usage(usage: tuple[int, int]) -> dict[str, Any]:
    return chunk(empty_choices=True, usage={"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                            "total_tokens": sum(usage)})


def _anthropic_sse(objs: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {o['type']}\ndata: {json.dumps(o)}\n\n" for o in objs).encode()


def scripted(wire: Wire, replies: list[bytes], piece: int | None = None) -> Callable[[Request], Reply]:
    """Answer the n-th request with replies[n] (the last one repeats), cut in `piece` bytes."""
    requests = 0

    def handler(request: Request) -> Reply:
        nonlocal requests
        body = replies[min(requests, len(replies) - 1)]
        requests += 1
        parts = split_every(body, piece) if piece else [body]
        return Reply(parts=parts, headers={"content-type": wire.content_type})

    return handler


# --- tools used by the tests -------------------------------------------------------------------


def weather_registry() -> ToolRegistry:
    async def weather(arguments: dict[str, Any]) -> str:
        return f"sunny in {arguments['city']}"

    return ToolRegistry([Tool(
        "weather", "The weather in a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        handler=weather, read_only=True,
    )])


def body(server: LoopbackServer, n: int) -> dict[str, Any]:
    return json.loads(server.requests[n].body)


SCENARIOS: dict[str, tuple[str, list[Call], int | None]] = {
    "single": ("Let me look.", [Call("call_a", "weather", ['{"city": "Paris"}'])], None),
    "parallel": ("", [Call("call_a", "weather", ['{"city": ', '"Paris"}']),
                      Call("call_b", "weather", ['{"city"', ': "Tokyo"}'])], None),
    "fragments": ("Checking…", [Call("toolu_01", "weather", list('{"city": "Zürich"}'))], 7),
    "invalid_json": ("", [Call("call_x", "weather", ['{"city": ', '"Par'])], None),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
async def test_tool_round_then_text(server: LoopbackServer, wire: Wire, scenario: str) -> None:
    text, calls, piece = SCENARIOS[scenario]
    server.handler = scripted(wire, [wire.tool_reply(text, calls, (10, 5)), wire.text_reply(FINAL, (20, 7))], piece)
    registry = weather_registry()
    conversation = Conversation(messages=[Message("user", QUESTION)])
    events: list[LoopEvent] = []
    async with httpx.AsyncClient() as client:
        outcome = await run_tool_loop(
            wire.provider(client, server), conversation, "m", {"temperature": 0}, registry,
            approve=approve_all, on_event=events.append,
        )

    results = [e.output.text for e in events if isinstance(e, ToolResult)]
    if scenario == "invalid_json":
        assert results[0].startswith("Error: weather: the arguments are not valid JSON")
    else:
        assert results == [f"sunny in {json.loads(c.arguments)['city']}" for c in calls]
    assert len(server.requests) == 2
    assert body(server, 0)["tools"] == body(server, 1)["tools"]
    wire.check_followup(body(server, 1), text, calls, results, registry)

    assert outcome.content == "\n\n".join(t for t in (text, FINAL) if t)
    assert outcome.usage == Usage(30, 12, 42)
    assert (outcome.rounds, outcome.finish_reason, outcome.round_limit_reached) == (2, "stop", False)
    assert [(c.name, c.arguments) for c in outcome.tool_calls] == [(c.name, c.arguments) for c in calls]
    assert [m.role for m in conversation.messages] == ["user", "assistant", *["tool"] * len(calls), "assistant"]
    assert conversation.messages[-1].content == FINAL
    assert list(outcome.messages) == conversation.messages[1:]
    ids = [wire.call_id(c, i) for i, c in enumerate(calls)]
    assert [m.tool_call_id for m in conversation.messages if m.role == "tool"] == ids
    assert isinstance(events[-1], LoopFinished) and events[-1].outcome == outcome


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
async def test_round_limit(server: LoopbackServer, wire: Wire) -> None:
    call = Call("call_a", "weather", ['{"city": "Paris"}'])
    server.handler = scripted(wire, [wire.tool_reply("Again.", [call], (10, 5))])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    events: list[LoopEvent] = []
    async with httpx.AsyncClient() as client:
        outcome = await run_tool_loop(
            wire.provider(client, server), conversation, "m", None, weather_registry(),
            approve=approve_all, max_rounds=3, on_event=events.append,
        )
    assert len(server.requests) == 3
    assert outcome.rounds == 3 and outcome.round_limit_reached
    assert outcome.finish_reason == "tool_calls"
    assert outcome.usage == Usage(30, 15, 45)
    assert [e for e in events if isinstance(e, RoundLimitReached)] == [RoundLimitReached(3)]
    results = [e.output for e in events if isinstance(e, ToolResult)]
    assert [r.status for r in results] == ["ok", "ok", "skipped"]
    ids = [c.id for c in outcome.tool_calls]
    assert len(set(ids)) == 3  # unique even when the server repeats them (Ollama's call_0)
    assert [e.call.id for e in events if isinstance(e, ToolResult)] == ids
    assert "limit of 3 rounds" in results[-1].text
    # the conversation is whole: every call answered, so it can be sent again
    roles = [m["role"] for m in conversation.wire_messages()]
    assert roles == ["user"] + ["assistant", "tool"] * 3
    assert len(body(server, 2)["messages"]) == 5  # user, then two calls and their results


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
async def test_denied_call_is_not_run_and_the_model_is_told(server: LoopbackServer, wire: Wire) -> None:
    call = Call("call_w", "write_note", ['{"text": "hi"}'])
    server.handler = scripted(wire, [wire.tool_reply("", [call], (10, 5)), wire.text_reply("Ok.", (20, 7))])
    ran: list[dict[str, Any]] = []
    asked: list[tuple[str, dict[str, Any]]] = []

    async def write_note(arguments: dict[str, Any]) -> str:
        ran.append(arguments)
        return "written"

    async def deny(tool: Tool, arguments: dict[str, Any]) -> bool:
        asked.append((tool.name, arguments))
        return False

    registry = ToolRegistry([Tool("write_note", "Writes a note.", handler=write_note)])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    events: list[LoopEvent] = []
    async with httpx.AsyncClient() as client:
        outcome = await run_tool_loop(wire.provider(client, server), conversation, "m", None, registry,
                                      approve=deny, on_event=events.append)
    assert ran == [] and asked == [("write_note", {"text": "hi"})]
    (started,) = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started.needs_approval and started.arguments == {"text": "hi"}
    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert result.output.status == "denied" and "the user denied this call" in result.output.text
    wire.check_followup(body(server, 1), "", [call], [result.output.text], registry)
    assert outcome.content == "Ok."


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
async def test_cancel_during_a_slow_command_tool_kills_it(
    server: LoopbackServer, wire: Wire, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    call = Call("call_s", "slow", ['{"n": 1}'])
    server.handler = scripted(wire, [wire.tool_reply("Running it.", [call], (10, 5)), wire.text_reply("never", (1, 1))])
    tool = CommandTool("slow", "A slow command.", command=[sys.executable, "-c", SLEEPER, str(pid_file)])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    async with httpx.AsyncClient() as client:
        loop = ToolLoop(wire.provider(client, server), conversation, "m", ToolRegistry([tool]), approve=approve_all)

        async def consume() -> None:
            async with aclosing(loop.events()) as events:
                async for _ in events:
                    pass

        task = asyncio.create_task(consume())
        pids = [int(p) for p in (await wait_for_file(pid_file)).split()]
        assert all(alive(pid) for pid in pids)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_gone(pids)
    assert len(server.requests) == 1
    assert loop.cancelled
    outcome = loop.outcome()
    assert outcome.finish_reason == "cancelled" and outcome.usage == Usage(10, 5, 15)
    assert [m.role for m in conversation.messages] == ["user", "assistant", "tool"]
    assert conversation.messages[1].content == "Running it." and conversation.messages[1].finish_reason == "tool_calls"
    assert conversation.messages[2].content == "Error: cancelled by the user while it ran"
    assert [m["role"] for m in conversation.wire_messages()] == ["user", "assistant", "tool"]


# --- the loop with the FakeProvider ----------------------------------------------------------


def tool_script(*calls: tuple[str, str, str], text: str = "", usage: Usage | None = None,
                finish: str = "tool_calls") -> list[object]:
    script: list[object] = [ContentDelta(text)] if text else []
    script += [ToolCallDelta(i, cid, name, args) for i, (cid, name, args) in enumerate(calls)]
    if usage:
        script.append(usage)
    script.append(Finish(finish, finish))  # type: ignore[arg-type]
    return script


async def collect(loop: ToolLoop) -> list[LoopEvent]:
    async with aclosing(loop.events()) as events:
        return [e async for e in events]


async def test_event_order_and_state() -> None:
    provider = FakeProvider(
        tool_script(("c1", "weather", '{"city": "Paris"}'), ("c2", "nope", "{}"), text="Hm.",
                    usage=Usage(3, 2, 5, cached_tokens=1)),
        [ContentDelta("Done."), Usage(4, 1, 5), Finish("stop", "stop")],
    )
    conversation = Conversation(messages=[Message("user", QUESTION)])
    loop = ToolLoop(provider, conversation, "m", weather_registry(), approve=approve_all)
    events = await collect(loop)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "RoundStarted", "ContentDelta", "ToolCallDelta", "ToolCallDelta", "Usage", "Finish", "ReplyFinished",
        "ToolCallStarted", "ToolResult", "ToolCallStarted", "ToolResult",
        "RoundStarted", "ContentDelta", "Usage", "Finish", "ReplyFinished", "LoopFinished",
    ]
    starts = [e for e in events if isinstance(e, RoundStarted)]
    assert [s.round for s in starts] == [1, 2]
    assert [d["function"]["name"] for d in starts[0].request.tools] == ["weather"]  # type: ignore[index]
    unknown = [e for e in events if isinstance(e, ToolCallStarted)][1]
    assert unknown.tool is None and unknown.arguments is None and not unknown.needs_approval
    results = [e.output for e in events if isinstance(e, ToolResult)]
    assert results[0].text == "sunny in Paris" and results[0].duration is not None
    assert results[1].status == "error" and "no tool named 'nope'" in results[1].text
    finished = [e for e in events if isinstance(e, ReplyFinished)]
    assert finished[0].message is conversation.messages[1] and finished[0].message.provider == "fake"
    assert loop.round == 2 and loop.usage == Usage(7, 3, 10, cached_tokens=1)
    assert provider.requests[1].messages[1]["tool_calls"][0]["id"] == "c1"


async def test_stop_with_tool_calls_runs_them_and_missing_ids_are_filled() -> None:
    provider = FakeProvider(
        tool_script(("", "weather", '{"city": "A"}'), ("", "weather", '{"city": "B"}'), finish="stop"),
        [ContentDelta("ok"), Finish("stop")],
    )
    conversation = Conversation(messages=[Message("user", QUESTION)])
    outcome = await run_tool_loop(provider, conversation, "m", None, weather_registry(), approve=approve_all)
    ids = [c.id for c in conversation.messages[1].tool_calls]
    assert all(i.startswith("call_") for i in ids) and len(set(ids)) == 2
    assert [m.tool_call_id for m in conversation.messages[2:4]] == ids
    assert outcome.rounds == 2 and outcome.content == "ok"


async def test_length_with_tool_calls_stops() -> None:
    provider = FakeProvider(tool_script(("c1", "weather", '{"ci'), finish="length"))
    conversation = Conversation(messages=[Message("user", QUESTION)])
    outcome = await run_tool_loop(provider, conversation, "m", None, weather_registry(), approve=approve_all)
    assert outcome.rounds == 1 and outcome.finish_reason == "length"
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    assert conversation.wire_messages() == [{"role": "user", "content": QUESTION}]


async def test_cancel_mid_stream_keeps_the_partial_reply() -> None:
    never = asyncio.Event()
    provider = FakeProvider([ContentDelta("Let me"), ToolCallDelta(0, "c1", "weather", '{"ci'), never])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    loop = ToolLoop(provider, conversation, "m", weather_registry(), approve=approve_all)
    seen = asyncio.Event()

    async def consume() -> None:
        async with aclosing(loop.events()) as events:
            async for event in events:
                if isinstance(event, ToolCallDelta):
                    seen.set()

    task = asyncio.create_task(consume())
    await seen.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.closed == 1
    (_, reply) = conversation.messages
    assert reply.content == "Let me" and reply.finish_reason == "cancelled"
    assert reply.tool_calls == [ToolCall("c1", "weather", '{"ci')]
    assert loop.outcome().finish_reason == "cancelled" and loop.cancelled
    # the unanswered call is not sent back; the partial text is
    assert conversation.wire_messages() == [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Let me"}]


async def test_closing_the_generator_between_calls_answers_the_open_calls() -> None:
    provider = FakeProvider(tool_script(("c1", "weather", '{"city": "A"}'), ("c2", "weather", '{"city": "B"}')))
    conversation = Conversation(messages=[Message("user", QUESTION)])
    loop = ToolLoop(provider, conversation, "m", weather_registry(), approve=approve_all)
    async with aclosing(loop.events()) as events:
        async for event in events:
            if isinstance(event, ToolResult):
                break  # the consumer stops after the first result
    assert [m.content for m in conversation.messages[2:]] == ["sunny in A", "Error: not run: the user cancelled"]
    assert loop.outcome().finish_reason == "cancelled"
    assert [m["role"] for m in conversation.wire_messages()] == ["user", "assistant", "tool", "tool"]


async def test_cancel_while_approval_is_pending() -> None:
    provider = FakeProvider(tool_script(("c1", "write", "{}")))
    asking = asyncio.Event()

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        asking.set()
        await asyncio.Event().wait()
        return True

    conversation = Conversation(messages=[Message("user", QUESTION)])
    registry = ToolRegistry([Tool("write", "w", handler=lambda a: "never")])
    task = asyncio.create_task(run_tool_loop(provider, conversation, "m", None, registry, approve=approve))
    await asking.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert conversation.messages[-1].content == "Error: cancelled by the user while it ran"


async def test_provider_error_in_the_second_round_keeps_everything() -> None:
    provider = FakeProvider(
        tool_script(("c1", "weather", '{"city": "A"}'), usage=Usage(1, 1, 2)),
        [ContentDelta("par"), ServerError("overloaded", status=529, provider="fake")],
    )
    conversation = Conversation(messages=[Message("user", QUESTION)])
    loop = ToolLoop(provider, conversation, "m", weather_registry(), approve=approve_all)
    with pytest.raises(ServerError):
        await collect(loop)
    assert [m.role for m in conversation.messages] == ["user", "assistant", "tool", "assistant"]
    last = conversation.messages[-1]
    assert last.content == "par" and last.finish_reason == "error" and "overloaded" in (last.error or "")
    outcome = loop.outcome()
    assert outcome.finish_reason == "error" and outcome.error == last.error and outcome.usage == Usage(1, 1, 2)


async def test_approval_errors_deny_and_async_on_event_is_awaited() -> None:
    provider = FakeProvider(tool_script(("c1", "write", "{}")), [ContentDelta("ok"), Finish("stop")])

    async def broken(tool: Tool, arguments: dict[str, Any]) -> bool:
        raise RuntimeError("no screen")

    seen: list[str] = []

    async def on_event(event: LoopEvent) -> None:
        await asyncio.sleep(0)
        seen.append(type(event).__name__)

    registry = ToolRegistry([Tool("write", "w", handler=lambda a: "never")])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    await run_tool_loop(provider, conversation, "m", None, registry, approve=broken, on_event=on_event)
    assert "could not be approved: no screen" in conversation.messages[2].content
    assert seen[-1] == "LoopFinished"


async def test_conversation_approvals_remember_always() -> None:
    answers = ["once", "always", "deny"]
    asked: list[str] = []

    async def ask(tool: Tool, arguments: dict[str, Any]) -> Any:
        asked.append(tool.name)
        return answers.pop(0)

    approvals = ConversationApprovals(ask)
    a, b = Tool("a", "a"), Tool("b", "b")
    assert await approvals(a, {}) is True  # once
    assert await approvals(a, {}) is True  # always
    assert await approvals(a, {}) is True  # remembered, not asked
    assert await approvals(b, {}) is False  # deny
    assert asked == ["a", "a", "b"] and approvals.always == {"a"}


def test_max_rounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ToolLoop(FakeProvider([]), Conversation(), "m", ToolRegistry(), approve=approve_all, max_rounds=0)


async def test_a_loop_runs_once() -> None:
    loop = ToolLoop(FakeProvider([Finish("stop")]), Conversation(), "m", ToolRegistry(), approve=approve_all)
    await collect(loop)
    with pytest.raises(RuntimeError):
        await collect(loop)


def test_sum_usage() -> None:
    assert sum_usage([]) is None
    assert sum_usage([Usage(1, 2, 3), Usage(4, 5, 9, reasoning_tokens=2)]) == Usage(5, 7, 12, None, 2)


# --- the conversation's wire shape ----------------------------------------------------------


def test_to_wire_carries_tool_calls_and_results() -> None:
    call = ToolCall("c1", "weather", '{"city": "Paris"}')
    assert Message("assistant", "", tool_calls=[call]).to_wire() == {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}],
    }
    assert Message("assistant", "Hm.", tool_calls=[call]).to_wire()["content"] == "Hm."
    assert Message("tool", "sunny", tool_call_id="c1").to_wire() == {
        "role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert Message("user", "hi").to_wire() == {"role": "user", "content": "hi"}
    assert Message("tool", "Error: x", tool_call_id="c1", is_error=True).to_wire() == {
        "role": "tool", "tool_call_id": "c1", "content": "Error: x", "is_error": True}
    block = {"type": "redacted_thinking", "data": "EmwK"}
    assert Message("assistant", "", tool_calls=[call], thinking_blocks=[block]).to_wire()[
        "thinking_blocks"] == [block]
    assert "thinking_blocks" not in Message("user", "hi", thinking_blocks=[block]).to_wire()


def test_wire_messages_pair_calls_with_results() -> None:
    a, b = ToolCall("a", "t", "{}"), ToolCall("b", "t", "{}")
    conversation = Conversation(messages=[
        Message("user", "q"),
        Message("assistant", "", tool_calls=[a, b], finish_reason="tool_calls"),
        Message("tool", "ra", tool_call_id="a"),  # b was never answered
        Message("assistant", "", tool_calls=[ToolCall("a", "t", "{}")], finish_reason="tool_calls"),
        Message("tool", "again", tool_call_id="a"),  # same id as an earlier call (Ollama's call_0)
        Message("tool", "orphan", tool_call_id="zzz"),
        Message("assistant", "done"),
        Message("tool", "late", tool_call_id="a"),  # not after a call: left out
        Message("user", "more"),
    ])
    wire = conversation.wire_messages()
    assert [(m["role"], m.get("tool_call_id") or m["content"]) for m in wire] == [
        ("user", "q"), ("assistant", None), ("tool", "a"), ("assistant", None), ("tool", "a"),
        ("assistant", "done"), ("user", "more"),
    ]
    assert [c["id"] for c in wire[1]["tool_calls"]] == ["a"]


def test_request_carries_tools() -> None:
    registry = weather_registry()
    request = Conversation(messages=[Message("user", "q")]).request(
        "m", tools=registry.definitions(), temperature=0.5)
    assert list(request.tools) == registry.definitions()
    assert dict(request.options) == {"temperature": 0.5}


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: w.name)
async def test_a_reply_that_ends_in_the_last_allowed_round_is_not_cut(server: LoopbackServer, wire: Wire) -> None:
    """The other side of the round limit: tools in rounds 1 and 2, text in round 3 of 3."""
    call = Call("call_a", "weather", ['{"city": "Paris"}'])
    tool = wire.tool_reply("Checking.", [call], (10, 5))
    server.handler = scripted(wire, [tool, tool, wire.text_reply(FINAL, (10, 5))])
    conversation = Conversation(messages=[Message("user", QUESTION)])
    events: list[LoopEvent] = []
    async with httpx.AsyncClient() as client:
        outcome = await run_tool_loop(
            wire.provider(client, server), conversation, "m", None, weather_registry(),
            approve=approve_all, max_rounds=3, on_event=events.append,
        )
    assert len(server.requests) == 3
    assert (outcome.rounds, outcome.round_limit_reached, outcome.finish_reason) == (3, False, "stop")
    assert not any(isinstance(e, RoundLimitReached) for e in events)
    assert [e.output.status for e in events if isinstance(e, ToolResult)] == ["ok", "ok"]
    assert conversation.messages[-1].content == FINAL
