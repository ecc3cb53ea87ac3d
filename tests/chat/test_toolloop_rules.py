"""The tool loop's side paths, written against the mutants that lived (`python tools/mutation.py
chat.toolloop --sample N`): what ToolCallStarted says about a call that cannot run, a denied
call's result, a broken approval prompt's status, and the message of a loop run twice."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from llmchat.chat.models import Conversation, Message, ToolCall
from llmchat.chat.toolloop import (
    ConversationApprovals,
    LoopEvent,
    ToolCallStarted,
    ToolLoop,
    ToolResult,
    approve_all,
    deny_all,
    run_tool_loop,
    sum_usage,
    wants_tools,
)
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta, Usage
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
    results = [e for e in seen if isinstance(e, ToolResult)]
    assert [(r.round, r.index, r.call.id, r.output.status) for r in results] == [
        (1, 0, "c1", "skipped"), (1, 1, "c2", "skipped")]
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


# --- mappings and boundaries, table by table --------------------------------------------------

@pytest.mark.parametrize(("finish", "with_calls", "wanted"), [
    ("tool_calls", True, True), ("stop", True, True), ("length", True, False), ("content_filter", True, False),
    ("error", True, False), ("cancelled", True, False), (None, True, False),
    ("tool_calls", False, False), ("stop", False, False),
])
def test_which_finished_replies_ask_for_their_calls_to_run(finish: Any, with_calls: bool, wanted: bool) -> None:
    message = Message("assistant", "", tool_calls=[ToolCall("c", "weather", "{}")] if with_calls else [],
                      finish_reason=finish)
    assert wants_tools(message) is wanted
    loop = ToolLoop(FakeProvider([]), Conversation(), "m", registry(), approve=approve_all)
    assert loop.goes_on(message) is wanted
    assert ToolLoop(FakeProvider([]), Conversation(), "m", ToolRegistry(), approve=approve_all).goes_on(message) is False


async def test_calls_to_tools_nobody_offered_end_the_turn() -> None:
    provider = FakeProvider(calls(("c1", "weather", "{}")))
    conversation = Conversation(messages=[Message("user", "go")])
    loop = ToolLoop(provider, conversation, "m", ToolRegistry(), approve=approve_all)
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    assert not [e for e in seen if isinstance(e, (ToolCallStarted, ToolResult))]
    assert loop.round == 1 and [m.role for m in conversation.messages] == ["user", "assistant"]
    assert not provider.requests[0].tools


@pytest.mark.parametrize(("max_rounds", "tool_rounds", "limited"), [(1, 1, True), (2, 1, False), (2, 2, True),
                                                                     (3, 2, False), (3, 3, True)])
async def test_the_round_limit_on_both_sides(max_rounds: int, tool_rounds: int, limited: bool) -> None:
    script = [calls((f"c{n}", "weather", '{"city": "A"}')) for n in range(tool_rounds)]
    provider = FakeProvider(*script, [ContentDelta("done"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", registry(),
                    approve=approve_all, max_rounds=max_rounds)
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    statuses = [e.output.status for e in seen if isinstance(e, ToolResult)]
    assert loop.round_limit_reached is limited and loop.outcome().round_limit_reached is limited
    if limited:
        assert loop.round == max_rounds and statuses == ["ok"] * (tool_rounds - 1) + ["skipped"]
        last = [e for e in seen if isinstance(e, ToolResult)][-1].output.text
        assert last == (f"Error: not run: the limit of {max_rounds} rounds of tool calls was reached; answer with "
                        "what you have, or ask the user to continue")
    else:
        assert loop.round == tool_rounds + 1 and statuses == ["ok"] * tool_rounds
        assert loop.outcome().finish_reason == "stop"


def test_the_default_round_limit_is_eight() -> None:
    """README: ``max_tool_rounds = 8`` (requests per turn)."""
    loop = ToolLoop(FakeProvider([]), Conversation(), "m", registry(), approve=approve_all)
    assert loop.max_rounds == 8
    assert ToolLoop(FakeProvider([]), Conversation(), "m", registry(), approve=approve_all, max_rounds=1).max_rounds == 1


@pytest.mark.parametrize(("answers", "results", "asked"), [
    (["once", "once"], [True, True], 2),
    (["always"], [True, True], 1),
    (["deny", "deny"], [False, False], 2),
    (["deny", "always"], [False, True], 2),
    (["maybe", "once"], [False, True], 2),  # anything else denies
])
async def test_conversation_approvals_for_a_tool_that_writes(answers: list[str], results: list[bool], asked: int) -> None:
    queue = list(answers)

    async def ask(tool: Tool, arguments: dict[str, Any]) -> Any:
        return queue.pop(0)

    approvals = ConversationApprovals(ask)
    write = registry().get("write")
    assert write is not None
    got = [await approvals(write, {"path": "a"}), await approvals(write, {"path": "b"})]  # "always" covers any arguments
    assert got == results and len(answers) - len(queue) == asked


async def test_always_for_a_read_only_call_covers_those_arguments_only() -> None:
    asked: list[dict[str, Any]] = []

    async def ask(tool: Tool, arguments: dict[str, Any]) -> Any:
        asked.append(arguments)
        return "always"

    approvals = ConversationApprovals(ask)
    reader = registry().get("weather")
    assert reader is not None
    assert await approvals(reader, {"city": "A", "unit": "C"})
    assert await approvals(reader, {"unit": "C", "city": "A"})  # the same arguments in another order
    assert await approvals(reader, {"city": "B"})
    assert asked == [{"city": "A", "unit": "C"}, {"city": "B"}]
    assert approvals.always == {'weather {"city": "A", "unit": "C"}', 'weather {"city": "B"}'}


async def test_approve_all_and_deny_all() -> None:
    write = registry().get("write")
    assert write is not None
    assert await approve_all(write, {}) is True and await deny_all(write, {}) is False


def test_sum_usage_adds_each_field_and_keeps_unreported_ones_none() -> None:
    usages = [Usage(1, 2, 3, cached_tokens=4, reasoning_tokens=None, cache_write_tokens=6),
              Usage(10, 20, 30, cached_tokens=None, reasoning_tokens=7, cache_write_tokens=None),
              Usage(100, 200, 300, cached_tokens=40, reasoning_tokens=70, cache_write_tokens=60)]
    assert sum_usage(usages) == Usage(111, 222, 333, cached_tokens=44, reasoning_tokens=77, cache_write_tokens=66)
    assert sum_usage([Usage(1, 1, 2)]) == Usage(1, 1, 2, None, None, None)
    assert sum_usage([Usage(0, 0, 0, 0, 0, 0)]) == Usage(0, 0, 0, 0, 0, 0)  # a reported 0 is not None


async def test_a_denied_read_of_a_secret_names_what_it_reads() -> None:
    def secret(arguments: dict[str, Any]) -> str | None:
        return "SSH keys (.ssh)"

    async def read(arguments: dict[str, Any]) -> str:
        return "key material"

    tools = ToolRegistry([Tool("peek", "reads", handler=read, read_only=True, sensitive=secret),
                          Tool("write", "writes", handler=lambda a: "written")])
    provider = FakeProvider(calls(("c1", "peek", "{}"), ("c2", "write", "{}")), [ContentDelta("ok"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", tools, approve=deny_all)
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    started = [e for e in seen if isinstance(e, ToolCallStarted)]
    assert [(s.needs_approval, s.reason) for s in started] == [(True, "SSH keys (.ssh)"), (True, "it is not read-only")]
    texts = [e.output.text for e in seen if isinstance(e, ToolResult)]
    assert texts == ["Error: the user denied this call (it reads SSH keys (.ssh)); do not try it again unless asked",
                     "Error: the user denied this call; do not try it again unless asked"]


def test_a_loop_not_yet_run_has_no_usage_and_an_empty_outcome() -> None:
    loop = ToolLoop(FakeProvider([]), Conversation(), "m", registry(), approve=approve_all)
    assert loop.usage is None and loop.accumulator is None
    outcome = loop.outcome()
    assert (outcome.messages, outcome.rounds, outcome.finish_reason, outcome.round_limit_reached) == ((), 0, None, False)


async def test_the_message_of_a_loop_run_twice_in_full() -> None:
    loop = ToolLoop(FakeProvider([ContentDelta("a"), Finish("stop")]), Conversation(messages=[Message("user", "go")]),
                    "m", registry(), approve=approve_all)
    async with aclosing(loop.events()) as events:
        [e async for e in events]
    with pytest.raises(RuntimeError) as info:
        async with aclosing(loop.events()) as events:
            [e async for e in events]
    assert str(info.value) == "a ToolLoop runs once; make a new one for the next turn"


async def test_a_refused_call_is_started_in_its_round() -> None:
    from llmchat.chat.toollimits import ToolLimits

    provider = FakeProvider(calls(("c1", "weather", '{"city": "A"}')),
                            calls(("c2", "weather", '{"city": "B"}'), ("c3", "weather", '{"city": "C"}')),
                            [ContentDelta("ok"), Finish("stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", registry(),
                    approve=approve_all, limits=ToolLimits(max_calls=1))
    async with aclosing(loop.events()) as events:
        seen = [e async for e in events]
    started = [(e.round, e.index, e.call.id, e.refused) for e in seen if isinstance(e, ToolCallStarted)]
    assert started == [(1, 0, "c1", False), (2, 0, "c2", False), (2, 1, "c3", True)]
