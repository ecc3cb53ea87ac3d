"""One reply's tool calls are capped in number and in the size of their results (issue 20)."""

from __future__ import annotations

from typing import Any

from llmchat.chat.models import Conversation, Message
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.toolloop import ToolCallStarted, ToolLoop, ToolResult, approve_all
from llmchat.chat.tools import Tool, ToolOutput, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from tests.fakes import FakeProvider


def counting_tool(ran: list[dict[str, Any]], size: int = 10) -> Tool:
    async def run(arguments: dict[str, Any]) -> str:
        ran.append(arguments)
        return "x" * size

    return Tool("grab", "returns x's", handler=run, read_only=True)


async def run_reply(calls: int, tool: Tool, limits: ToolLimits | None = None,
                    max_output_chars: int = 20_000) -> tuple[list[ToolCallStarted], list[ToolResult], ToolLoop]:
    script: list[object] = [ToolCallDelta(i, f"c{i}", tool.name, f'{{"n": {i}}}') for i in range(calls)]
    provider = FakeProvider(script + [Finish("tool_calls", "tool_calls")], [ContentDelta("ok"), Finish("stop", "stop")])
    conversation = Conversation(messages=[Message("user", "go")])
    extra = {} if limits is None else {"limits": limits}
    loop = ToolLoop(provider, conversation, "m", ToolRegistry([tool], max_output_chars=max_output_chars),
                    approve=approve_all, **extra)
    events = [e async for e in loop.events()]
    return ([e for e in events if isinstance(e, ToolCallStarted)], [e for e in events if isinstance(e, ToolResult)], loop)


async def test_at_most_32_calls_of_a_reply_run_by_default() -> None:
    ran: list[dict[str, Any]] = []
    started, results, loop = await run_reply(1000, counting_tool(ran))
    assert len(ran) == 32 and ran[-1] == {"n": 31}
    assert len(started) == len(results) == 1000  # every call is answered: the conversation stays valid
    assert [r.output.status for r in results[:32]] == ["ok"] * 32
    refused = results[32:]
    assert all(r.output.status == "skipped" for r in refused)
    assert "not run: at most 32 tool calls of one reply are run and this reply made 1000" in refused[0].output.text
    tool_messages = [m for m in loop.conversation.messages if m.role == "tool"]
    assert len(tool_messages) == 1000 and tool_messages[-1].is_error


async def test_the_call_cap_is_configurable() -> None:
    ran: list[dict[str, Any]] = []
    _, results, _ = await run_reply(5, counting_tool(ran), ToolLimits(max_calls=2))
    assert len(ran) == 2 and [r.output.status for r in results] == ["ok", "ok", "skipped", "skipped", "skipped"]


async def test_results_of_one_reply_are_capped_with_a_note() -> None:
    ran: list[dict[str, Any]] = []
    tool = counting_tool(ran, size=30_000)
    _, results, loop = await run_reply(6, tool, ToolLimits(max_results_chars=70_000), max_output_chars=40_000)
    texts = [r.output.text for r in results]
    assert len(ran) == 3  # 30k + 30k + 10k of the third; the rest not run
    assert texts[0] == texts[1] == "x" * 30_000
    assert texts[2].startswith("x" * 10_000 + "\n\n[tool results truncated: the results of this reply reached "
                               "the limit of 70000 characters; 20000 of this result's characters were left out]")
    assert results[2].output.truncated and results[2].output.status == "ok"
    assert all("not run: the tool results of this reply reached the limit of 70000" in t for t in texts[3:])
    sent = sum(len(m.content) for m in loop.conversation.messages if m.role == "tool")
    assert sent < 70_000 + 1_000


async def test_the_budget_starts_again_with_each_reply() -> None:
    ran: list[dict[str, Any]] = []
    tool = counting_tool(ran, size=600)
    one = [ToolCallDelta(0, "a", "grab", "{}"), ToolCallDelta(1, "b", "grab", "{}"), Finish("tool_calls", "tool_calls")]
    two = [ToolCallDelta(0, "c", "grab", "{}"), Finish("tool_calls", "tool_calls")]
    provider = FakeProvider(one, two, [ContentDelta("ok"), Finish("stop", "stop")])
    loop = ToolLoop(provider, Conversation(messages=[Message("user", "go")]), "m", ToolRegistry([tool]),
                    approve=approve_all, limits=ToolLimits(max_results_chars=1000))
    results = [e.output for e in [e async for e in loop.events()] if isinstance(e, ToolResult)]
    assert [len(o.text) <= 600 or o.truncated for o in results] == [True, True, True]
    assert results[1].truncated and not results[2].truncated and results[2].text == "x" * 600


def test_limits_fit_and_refusal() -> None:
    limits = ToolLimits(max_calls=3, max_results_chars=10)
    output, used = limits.fit(ToolOutput("abcdef"), 0)
    assert output.text == "abcdef" and used == 6
    output, used = limits.fit(ToolOutput("ghijkl"), used)
    assert output.text.startswith("ghij\n\n[tool results truncated") and used == 10
    assert limits.refusal(0, 5, 0) is None
    assert "at most 3" in (limits.refusal(3, 5, 0) or "")
    assert "reached the limit of 10" in (limits.refusal(1, 5, 10) or "")


def test_a_result_of_exactly_the_room_left_is_whole_one_more_is_cut() -> None:
    limits = ToolLimits(max_results_chars=10)
    output, used = limits.fit(ToolOutput("abcd"), 6)  # exactly the 4 left
    assert (output.text, output.truncated, used) == ("abcd", False, 10)
    output, used = limits.fit(ToolOutput("abcde"), 6)  # one more
    assert output.truncated and used == 10
    assert output.text == ("abcd\n\n[tool results truncated: the results of this reply reached the limit of 10 "
                           "characters; 1 of this result's characters were left out]")


def test_a_result_past_a_spent_budget_keeps_none_of_its_text() -> None:
    output, used = ToolLimits(max_results_chars=10).fit(ToolOutput("abc", status="ok"), 12)
    assert output.text.startswith("\n\n[tool results truncated") and used == 10
    assert output.truncated and output.status == "ok"


def test_the_call_cap_and_the_results_budget_on_both_sides() -> None:
    limits = ToolLimits(max_calls=3, max_results_chars=10)
    assert limits.refusal(2, 9, 0) is None  # the third call (index 2) runs
    assert limits.refusal(3, 9, 0) == (
        "not run: at most 3 tool calls of one reply are run and this reply made 9; make fewer calls, "
        "the most needed first")
    assert limits.refusal(0, 1, 9) is None  # one character left: the call runs
    assert limits.refusal(0, 1, 10) == (
        "not run: the tool results of this reply reached the limit of 10 characters; use what you have "
        "or ask for less at a time")


def test_the_defaults_are_the_documented_ones() -> None:
    """README: ``max_tool_calls = 32``, ``tool_results_chars = 100000``."""
    limits = ToolLimits()
    assert (limits.max_calls, limits.max_results_chars) == (32, 100_000)
    assert limits.refusal(31, 40, 99_999) is None
    assert limits.refusal(32, 40, 0) is not None and limits.refusal(0, 40, 100_000) is not None
