"""The tool loop's side paths, written against the mutants that lived (`python tools/mutation.py
chat.toolloop --sample N`): what ToolCallStarted says about a call that cannot run, a denied
call's result, a broken approval prompt's status, and the message of a loop run twice."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from llmchat.chat.models import Conversation, Message
from llmchat.chat.toolloop import (
    LoopEvent,
    ToolCallStarted,
    ToolLoop,
    ToolResult,
    approve_all,
    deny_all,
    run_tool_loop,
)
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from tests.fakes import FakeProvider


def registry() -> ToolRegistry:
    async def weather(arguments: dict[str, Any]) -> str:
        return f"sunny in {arguments['city']}"

    return ToolRegistry([
        Tool("weather", "The weather.", {"type": "object", "properties": {"city": {"type": "string"}}},
             handler=weather, read_only=True),
        Tool("write", "Writes.", handler=lambda a: "written"),
    ])


def calls(*items: tuple[str, str, str]) -> list[object]:
    return [*(ToolCallDelta(i, cid, name, args) for i, (cid, name, args) in enumerate(items)),
            Finish("tool_calls", "tool_calls")]


async def run(provider: FakeProvider, approve: Any = approve_all) -> tuple[list[LoopEvent], Conversation]:
    conversation = Conversation(messages=[Message("user", "go")])
    loop = ToolLoop(provider, conversation, "m", registry(), approve=approve)
    async with aclosing(loop.events()) as events:
        return [e async for e in events], conversation


async def test_what_tool_call_started_says_of_each_call() -> None:
    provider = FakeProvider(
        calls(("c1", "weather", '{"city": "Oslo"}'), ("c2", "weather", "{not json"), ("c3", "nope", "{}")),
        [ContentDelta("done"), Finish("stop")],
    )
    events, _ = await run(provider)
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(s.round, s.index, s.call.id) for s in started] == [(1, 0, "c1"), (1, 1, "c2"), (1, 2, "c3")]
    weather = registry().get("weather")
    assert started[0].tool is not None and started[0].tool.name == "weather" and started[0].arguments == {"city": "Oslo"}
    assert started[1].tool is not None and started[1].tool.name == weather.name  # known, but its arguments are not JSON
    assert started[1].arguments is None and started[2].tool is None
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.round, r.index) for r in results] == [(1, 0), (1, 1), (1, 2)]
    assert [r.output.status for r in results] == ["ok", "error", "error"]


async def test_deny_all_denies_a_tool_that_needs_approval() -> None:
    provider = FakeProvider(calls(("c1", "write", "{}"), ("c2", "weather", '{"city": "A"}')),
                            [ContentDelta("ok"), Finish("stop")])
    events, conversation = await run(provider, approve=deny_all)
    results = [e.output for e in events if isinstance(e, ToolResult)]
    assert [r.status for r in results] == ["denied", "ok"]  # a read-only tool is not asked about
    assert conversation.messages[2].content.startswith("Error: the user denied this call")
    assert conversation.messages[2].is_error


async def test_a_broken_approval_prompt_denies_the_call() -> None:
    async def broken(tool: Tool, arguments: dict[str, Any]) -> bool:
        raise RuntimeError("no screen")

    provider = FakeProvider(calls(("c1", "write", "{}")), [ContentDelta("ok"), Finish("stop")])
    events, conversation = await run(provider, approve=broken)
    (result,) = [e.output for e in events if isinstance(e, ToolResult)]
    assert result.status == "denied" and result.text == "Error: the call could not be approved: no screen"


async def test_a_loop_run_twice_says_so() -> None:
    provider = FakeProvider([ContentDelta("a"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", registry(), approve=approve_all)
    async with aclosing(loop.events()) as events:
        [e async for e in events]
    with pytest.raises(RuntimeError, match="runs once; make a new one"):
        async with aclosing(loop.events()) as events:
            [e async for e in events]


async def test_run_tool_loop_returns_the_outcome() -> None:
    provider = FakeProvider(calls(("c1", "weather", '{"city": "B"}')), [ContentDelta("sunny"), Finish("stop")])
    conversation = Conversation(messages=[Message("user", "go")])
    outcome = await run_tool_loop(provider, conversation, "m", {"temperature": 0}, registry(), approve=deny_all)
    assert outcome.rounds == 2 and outcome.content == "sunny" and outcome.finish_reason == "stop"
    assert provider.requests[0].options == {"temperature": 0}


async def test_the_round_limit_names_each_call_it_did_not_run() -> None:
    provider = FakeProvider(calls(("c1", "weather", '{"city": "A"}'), ("c2", "write", "{}")))
    conversation = Conversation(messages=[Message("user", "go")])
    loop = ToolLoop(provider, conversation, "m", registry(), approve=approve_all, max_rounds=1)
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    started = [e for e in seen if isinstance(e, ToolCallStarted)]
    assert [(s.round, s.index, s.call.id, s.tool, s.needs_approval) for s in started] == [
        (1, 0, "c1", None, False), (1, 1, "c2", None, False)]
    assert [e.output.status for e in seen if isinstance(e, ToolResult)] == ["skipped", "skipped"]
    assert loop.round_limit_reached


async def test_the_replies_are_timed_on_the_loops_clock() -> None:
    ticks = iter(range(0, 10**6, 1000))
    provider = FakeProvider([ContentDelta("a"), ContentDelta("b"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", registry(),
                    approve=approve_all, clock=lambda: float(next(ticks)))
    async with aclosing(loop.events()) as events:
        [e async for e in events]
    assert loop.accumulator is not None
    stats = loop.accumulator.stats()
    assert stats.ttft is not None and stats.ttft >= 1000  # thousands of "seconds": the fake clock's


async def test_calls_over_the_limit_are_refused_with_their_index() -> None:
    from llmchat.chat.toollimits import ToolLimits

    provider = FakeProvider(calls(("c1", "weather", '{"city": "A"}'), ("c2", "weather", '{"city": "B"}')),
                            [ContentDelta("ok"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", registry(),
                    approve=approve_all, limits=ToolLimits(max_calls=1))
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    results = [e for e in seen if isinstance(e, ToolResult)]
    assert [(r.index, r.call.id, r.output.status) for r in results] == [(0, "c1", "ok"), (1, "c2", "skipped")]
    refused = [e for e in seen if isinstance(e, ToolCallStarted)][1]
    assert refused.refused and refused.tool is not None and refused.tool.name == "weather"


async def test_a_repeated_call_id_in_one_reply_is_replaced() -> None:
    provider = FakeProvider(calls(("dup", "weather", '{"city": "A"}'), ("dup", "weather", '{"city": "B"}')),
                            [ContentDelta("ok"), Finish("stop")])
    _, conversation = await run(provider)
    ids = [c.id for c in conversation.messages[1].tool_calls]
    assert ids[0] == "dup" and ids[1] != "dup" and ids[1].startswith("call_")
    assert [m.tool_call_id for m in conversation.messages[2:4]] == ids


def test_max_rounds_below_one_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="^max_rounds must be at least 1$"):
        ToolLoop(FakeProvider([]), Conversation(), "m", registry(), approve=approve_all, max_rounds=0)
