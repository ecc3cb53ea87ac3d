"""Comparison rules its main tests leave open (llmchat.chat.compare): what a comparison refuses,
each lane's options and recorder, lanes keeping their text whatever the session's own text
policy, an unexpected error's one line, cancel and pick at the edges. Lanes stream from the
loopback server (two OpenAI providers on one server, told apart by model)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from llmchat.chat.compare import CompareEvent, CompareFinished, Comparison, Contender, LaneEnded, LaneEvent, LaneResult
from llmchat.chat.engine import ChatSession, ContentDelta
from llmchat.chat.models import Conversation, Message
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.chat.spy_recorder import SpyRecorder
from tests.fakes import FakeProvider
from tests.loopback import LoopbackServer, Reply, Request, completion


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


def by_model(server: LoopbackServer) -> None:
    """Each model answers with its own name and the question upper-cased."""

    def answer(request: Request) -> Reply:
        body = request.json()
        return Reply(parts=[completion([f"{body['model']}:", body["messages"][-1]["content"].upper()])])

    server.handler = answer


def contender(server: LoopbackServer, client: httpx.AsyncClient, model: str, **options: Any) -> Contender:
    provider = OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))
    return Contender(provider, model, options or None)


async def collect(events: Any) -> list[CompareEvent]:
    async with aclosing(events) as stream:
        return [event async for event in stream]


def body_of(server: LoopbackServer, model: str) -> dict[str, Any]:
    return next(r.json() for r in server.requests if r.json()["model"] == model)


def test_a_comparison_needs_a_contender() -> None:
    with pytest.raises(ValueError, match="^a comparison needs at least one contender$"):
        Comparison(ChatSession(FakeProvider(), "m"), [])


@pytest.mark.parametrize("messages", [[], [Message("user", "q"), Message("assistant", "a")]])
async def test_a_conversation_that_does_not_end_with_a_question_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient, messages: list[Message]
) -> None:
    by_model(server)
    session = ChatSession(FakeProvider(), "m", Conversation(messages=list(messages)))
    comparison = Comparison(session, [contender(server, client, "a")])
    with pytest.raises(ValueError, match="^the conversation does not end with a user message$"):
        await anext(comparison.reply())
    assert not comparison.running and not session.running and server.requests == []
    # refused before it started: the same comparison can still answer a question
    events = await collect(comparison.send("q"))
    assert isinstance(events[-1], CompareFinished) and events[-1].results[0].status == "done"


async def test_a_question_is_not_added_while_the_session_runs(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    session = ChatSession(FakeProvider(), "m")
    session.running = True
    comparison = Comparison(session, [contender(server, client, "a")])
    with pytest.raises(RuntimeError, match="^a turn is already running in this session$"):
        comparison.send("q")
    assert session.conversation.messages == []
    session.conversation.messages.append(Message("user", "q"))
    with pytest.raises(RuntimeError, match="^a turn is already running in this session$"):
        await anext(comparison.reply())
    session.running = False
    by_model(server)
    assert isinstance((await collect(comparison.reply()))[-1], CompareFinished)
    with pytest.raises(RuntimeError, match="^a Comparison runs once; make a new one for the next question$"):
        await anext(comparison.reply())


async def test_lanes_wait_run_and_end(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    by_model(server)
    gate = asyncio.Event()
    held = FakeProvider([gate, ContentDelta("held")])
    session = ChatSession(FakeProvider(), "m")
    comparison = Comparison(session, [contender(server, client, "a"), Contender(held, "h")])
    assert [lane.status for lane in comparison.lanes] == ["waiting", "waiting"]
    assert not comparison.running  # not started yet
    assert comparison.lanes[0].accumulator is None and comparison.lanes[1].label == "fake/h"
    async with aclosing(comparison.send("q")) as stream:
        async for event in stream:
            assert session.running
            if isinstance(event, LaneEvent) and event.index == 1 and not gate.is_set():
                # lane 1 waits at its gate: it cannot have ended
                assert comparison.running and comparison.lanes[1].status == "running"
                with pytest.raises(RuntimeError, match="^pick a reply once the comparison has ended$"):
                    comparison.pick(0)
                gate.set()
    assert gate.is_set()
    assert not comparison.running and not session.running
    assert [lane.status for lane in comparison.lanes] == ["done", "done"]
    assert comparison.lanes[0].accumulator is not None and comparison.lanes[0].accumulator.content == "a:Q"


async def test_each_lane_gets_its_own_options_or_the_sessions(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    by_model(server)
    session = ChatSession(FakeProvider(), "m", options={"temperature": 0.5}, system="Be brief.")
    comparison = Comparison(session, [contender(server, client, "plain"),
                                      contender(server, client, "tuned", temperature=0.0, max_tokens=9)])
    await collect(comparison.send("q"))
    assert body_of(server, "plain")["temperature"] == 0.5 and "max_tokens" not in body_of(server, "plain")
    tuned = body_of(server, "tuned")
    assert tuned["temperature"] == 0.0 and tuned["max_tokens"] == 9
    assert tuned["messages"][0] == {"role": "system", "content": "Be brief."}
    assert session.options == {"temperature": 0.5}  # unchanged until a pick


async def test_pick_takes_the_lanes_model_and_options_or_only_its_reply(server: LoopbackServer,
                                                                        client: httpx.AsyncClient) -> None:
    by_model(server)
    base_provider = FakeProvider()
    recorder = SpyRecorder()
    session = ChatSession(base_provider, "m", options={"temperature": 0.5}, recorder=recorder)
    tuned = contender(server, client, "tuned", temperature=0.0)
    comparison = Comparison(session, [contender(server, client, "plain"), tuned])
    await collect(comparison.send("q"))
    messages = comparison.pick(1, use_model=False)
    assert [m.content for m in messages] == ["q", "tuned:Q"]
    assert messages is session.conversation.messages
    assert (session.provider, session.model, session.options) == (base_provider, "m", {"temperature": 0.5})
    assert recorder.calls[-1] == ("branch", messages[-1])  # the store follows the picked reply
    messages = comparison.pick(0)
    assert [m.content for m in messages] == ["q", "plain:Q"]
    assert (session.model, session.options) == ("plain", {"temperature": 0.5})  # no options of its own
    comparison.pick(1)
    assert (session.provider, session.model, session.options) == (tuned.provider, "tuned", {"temperature": 0.0})
    assert session.options is not tuned.options
    with pytest.raises(IndexError):
        comparison.pick(2)


async def test_every_lane_records_into_the_sessions_conversation(server: LoopbackServer,
                                                                 client: httpx.AsyncClient) -> None:
    by_model(server)
    base = SpyRecorder()
    base.conversation_id = "conv-1"
    session = ChatSession(FakeProvider(), "m", recorder=base, system="S")
    inners: list[SpyRecorder] = []

    def make() -> SpyRecorder:
        inners.append(SpyRecorder())
        return inners[-1]

    comparison = Comparison(session, [contender(server, client, "a"), contender(server, client, "b")], recorders=make)
    await collect(comparison.send("q"))
    question = session.conversation.messages[-1]
    assert base.calls[-1] == ("user", question)
    assert len(inners) == 2
    for inner, model in zip(inners, ["a", "b"]):
        assert inner.conversation_id == "conv-1"
        calls = [c for c in inner.calls if c[0] != "heartbeat"]  # a save while it streams, on a slow machine
        assert calls[0] == ("open", "conv-1", "openai", model, "S")
        assert calls[1:3] == [("branch", question), ("begin_reply", "openai", model)]
        finished = [c[1] for c in inner.calls if c[0] == "finish"]
        assert [m.content for m in finished] == [f"{model}:Q"]


async def test_lanes_keep_their_text_whatever_the_sessions_policy(server: LoopbackServer,
                                                                  client: httpx.AsyncClient) -> None:
    by_model(server)
    session = ChatSession(FakeProvider(), "m", text="drop", fold_text=False)
    comparison = Comparison(session, [contender(server, client, "a")])
    events = await collect(comparison.send("q"))
    result = events[-1].results[0]  # type: ignore[union-attr]
    assert result.message is not None and result.message.content == "a:Q"
    assert [m.content for m in comparison.pick(0)] == ["q", "a:Q"]


async def test_an_unexpected_error_is_one_line_of_at_most_300_characters() -> None:
    broken = FakeProvider([ContentDelta("so"), RuntimeError("wires\ncrossed " + "x" * 1000)])
    comparison = Comparison(ChatSession(FakeProvider(), "m"), [Contender(broken, "b")])
    events = await collect(comparison.send("q"))
    result = events[-1].results[0]  # type: ignore[union-attr]
    assert (result.status, result.finish_reason) == ("failed", "error")
    assert result.error is not None and result.error.startswith("RuntimeError: wires crossed xxx")
    assert len(result.error) == 300 and "\n" not in result.error
    ended = [e for e in events if isinstance(e, LaneEnded)]
    assert [e.result for e in ended] == [result]


async def test_cancel_leaves_ended_lanes_alone_and_knows_its_lanes(server: LoopbackServer,
                                                                   client: httpx.AsyncClient) -> None:
    by_model(server)
    comparison = Comparison(ChatSession(FakeProvider(), "m"), [contender(server, client, "a")])
    with pytest.raises(IndexError):
        comparison.cancel(1)
    events = await collect(comparison.send("q"))
    comparison.cancel(0)
    comparison.cancel_all()
    assert comparison.lanes[0].status == "done" and events[-1].results[0].status == "done"  # type: ignore[union-attr]
    assert not comparison.lanes[0].stop_requested


async def test_cancel_all_before_the_start_sends_nothing() -> None:
    first, second = FakeProvider([ContentDelta("a")]), FakeProvider([ContentDelta("b")])
    comparison = Comparison(ChatSession(FakeProvider(), "m"), [Contender(first, "a"), Contender(second, "b")])
    comparison.cancel_all()
    events = await collect(comparison.send("q"))
    results = events[-1].results  # type: ignore[union-attr]
    assert [(r.status, r.finish_reason, r.outcome, r.stats, r.message) for r in results] == [
        ("cancelled", "cancelled", None, None, None)] * 2
    assert first.requests == [] and second.requests == []
    with pytest.raises(ValueError, match="^fake/a made no reply to continue with$"):
        comparison.pick(0)


async def test_a_lane_that_stalls_is_cancelled_on_its_own() -> None:
    gate = asyncio.Event()
    stalled = FakeProvider([ContentDelta("par"), gate])
    quick = FakeProvider([ContentDelta("done")])
    comparison = Comparison(ChatSession(FakeProvider(), "m"), [Contender(stalled, "s"), Contender(quick, "q")])
    results: list[LaneResult] = []
    async with aclosing(comparison.send("q")) as stream:
        async for event in stream:
            if isinstance(event, LaneEnded):
                results.append(event.result)
                if event.index == 1:
                    comparison.cancel(0)
    assert [(r.index, r.status) for r in results] == [(1, "done"), (0, "cancelled")]
    assert results[1].message is not None and results[1].message.content == "par"
    assert results[1].stats is not None and results[1].label == "fake/s"


async def test_each_lane_session_has_the_sessions_tools_approvals_and_limits(server: LoopbackServer,
                                                                              client: httpx.AsyncClient) -> None:
    from llmchat.chat.toollimits import ToolLimits
    from llmchat.chat.tools import Tool, ToolRegistry

    async def approve(tool: object, arguments: object) -> bool:
        return True

    def clock() -> float:
        return 1.0

    by_model(server)
    tools = ToolRegistry([Tool("t", "A tool.", handler=lambda _a: "x")])
    limits = ToolLimits(max_calls=2, max_results_chars=10)
    session = ChatSession(FakeProvider(), "m", tools=tools, approve=approve, tool_limits=limits, max_tool_rounds=3,
                          clock=clock, save_every=5.0, system="S")
    comparison = Comparison(session, [contender(server, client, "a")])
    await collect(comparison.send("q"))
    lane = comparison.lanes[0].session
    assert lane is not None and lane is not session
    assert (lane.tools, lane.approve, lane.tool_limits, lane.max_tool_rounds, lane.clock, lane.save_every) == (
        tools, approve, limits, 3, clock, 5.0)
    assert (lane.completion, lane.text, lane.fold_text, lane.model, lane.conversation.system) == (
        False, "keep", True, "a", "S")
    assert body_of(server, "a")["tools"] == tools.definitions()


async def test_a_text_completion_is_compared_as_one(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["done"])])
    session = ChatSession(FakeProvider(), "m", completion=True)
    comparison = Comparison(session, [contender(server, client, "a")])
    await collect(comparison.send("Once upon"))
    assert comparison.lanes[0].session is not None and comparison.lanes[0].session.completion is True
    assert "/chat/" not in server.requests[0].path and server.requests[0].json()["prompt"] == "Once upon"
