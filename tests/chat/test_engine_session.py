"""ChatSession against the loopback server with a recorder that logs what it is told: every
reply made final once, the stored conversation kept across a change of model or system prompt,
the text policy and ``fold_text`` reaching the reply, and editing the very first question."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from llmchat.chat.engine import ChatSession, ContentDelta, EngineEvent, TurnFinished
from llmchat.chat.models import Conversation, Message
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.chat.spy_recorder import SpyRecorder
from tests.loopback import LoopbackServer, Reply, Request, chunk, completion, sse


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


def provider(server: LoopbackServer, client: httpx.AsyncClient) -> OpenAIProvider:
    return OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))


async def run(turn: Any) -> list[EngineEvent]:
    async with aclosing(turn) as events:
        return [event async for event in events]


def echo(server: LoopbackServer) -> None:
    def answer(request: Request) -> Reply:
        return Reply(parts=[completion([request.json()["messages"][-1]["content"].upper()])])

    server.handler = answer


async def test_each_reply_and_each_result_is_recorded_once(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    call = sse(chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function",
                                  "function": {"name": "clock", "arguments": "{}"}}]), chunk(finish="tool_calls"))
    replies = [call, completion(["It is noon."])]
    server.handler = lambda _r: Reply(parts=[replies[len(server.requests) - 1]])
    spy = SpyRecorder()
    tools = ToolRegistry([Tool("clock", "The time.", handler=lambda _a: "12:00", read_only=True)])
    session = ChatSession(provider(server, client), "m", recorder=spy, tools=tools)
    events = await run(session.send("time?"))
    assert isinstance(events[-1], TurnFinished)
    assert [name for name in spy.names() if name != "heartbeat"] == [
        "open", "user", "begin_reply", "finish", "user", "begin_reply", "finish"]
    finished = [c[1] for c in spy.calls if c[0] == "finish"]
    assert finished == [session.conversation.messages[1], session.conversation.messages[3]]
    assert [m.content for m in finished] == ["", "It is noon."]
    assert finished[0] is not finished[1]
    stored_users = [c[1] for c in spy.calls if c[0] == "user"]
    assert [(m.role, m.content) for m in stored_users] == [("user", "time?"), ("tool", "12:00")]
    assert all(m.provider == "openai" for m in finished)


async def test_a_stored_conversation_stays_the_one_written_to(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    spy = SpyRecorder()
    spy.conversation_id = "stored-1"
    session = ChatSession(provider(server, client), "m1", Conversation(system="s1"), recorder=spy)
    assert spy.calls == [("open", "stored-1", "openai", "m1", "s1")]
    session.use(model="m2")
    assert spy.calls[-1] == ("open", "stored-1", "openai", "m2", "s1")
    session.set_system("s2")
    assert spy.calls[-1] == ("open", "stored-1", "openai", "m2", "s2")
    session.use()  # nothing named: nothing changes
    assert spy.calls[-1] == ("open", "stored-1", "openai", "m2", "s2") and session.model == "m2"


@pytest.mark.parametrize(("text", "fold", "kept", "in_conversation"), [
    ("keep", True, "Hello there", "Hello there"),
    ("keep", False, "Hello there", ""),  # `ask`: shown as it streamed, read from the accumulator
    ("drop", False, "", ""),  # `ask` to a pipe: written out and forgotten
    ("until_taken", False, "Hello there", ""),  # nothing took it: all of it is still there
])
async def test_the_text_policy_and_fold_text_reach_the_reply(server: LoopbackServer, client: httpx.AsyncClient,
                                                            text: str, fold: bool, kept: str,
                                                            in_conversation: str) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["Hello", " there"])])
    session = ChatSession(provider(server, client), "m", text=text, fold_text=fold)  # type: ignore[arg-type]
    await run(session.send("hi"))
    assert session.accumulator is not None and session.accumulator.content == kept
    reply = session.conversation.messages[-1]
    assert (reply.role, reply.content) == ("assistant", in_conversation)


async def test_the_first_question_can_be_edited(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    echo(server)
    spy = SpyRecorder()
    session = ChatSession(provider(server, client), "m", recorder=spy)
    await run(session.send("one"))
    await run(session.send("two"))
    await run(session.edit("zero", index=0))
    assert [m.content for m in session.conversation.messages] == ["zero", "ZERO"]
    assert ("branch", None) in spy.calls  # the new first question starts a new root
    assert json.loads(server.requests[-1].body)["messages"] == [{"role": "user", "content": "zero"}]


@pytest.mark.parametrize("index", [-1, 1, 2, 9])
async def test_editing_what_is_not_a_question_is_refused(server: LoopbackServer, client: httpx.AsyncClient,
                                                         index: int) -> None:
    echo(server)
    session = ChatSession(provider(server, client), "m")
    await run(session.send("one"))
    with pytest.raises(ValueError, match=f"message {index} is not a user message"):
        session.edit("x", index=index)
    assert [m.content for m in session.conversation.messages] == ["one", "ONE"]


def heartbeats() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "ChatSession._heartbeat"]


@pytest.mark.parametrize("ending", ["done", "error", "cancelled"])
async def test_the_heartbeat_stops_however_the_turn_ends(server: LoopbackServer, client: httpx.AsyncClient,
                                                         ending: str) -> None:
    """The timer that saves a streaming reply is disarmed at the turn's end: no save of a
    finished reply, no task left behind (a forgotten one would save every 10 ms for ever)."""
    if ending == "error":
        server.handler = lambda _r: Reply(status=500, parts=[b'{"error": {"message": "down"}}'],
                                          headers={"content-type": "application/json"})
    elif ending == "cancelled":
        server.handler = lambda _r: Reply(parts=[sse(chunk("Par"), done=False), 60.0])
    else:
        server.handler = lambda _r: Reply(parts=[completion(["Hello"])])
    spy = SpyRecorder()
    session = ChatSession(provider(server, client), "m", recorder=spy, save_every=0.01)
    turn = session.send("hi")
    async with aclosing(turn) as events:
        async for event in events:
            if ending == "cancelled" and isinstance(event, ContentDelta):
                # the model is silent now: the heartbeat saves what came, about every 10 ms
                deadline = asyncio.get_running_loop().time() + 30
                while "heartbeat" not in spy.names() and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
                assert "heartbeat" in spy.names()
                break
    assert not session.running
    left = heartbeats()
    if left:
        await asyncio.wait(left, timeout=30)  # a cancelled task ends at once; a live timer never does
    assert all(t.done() for t in left)
    assert spy.names()[-1] in ("finish", "user")
    assert session.conversation.messages[-1].finish_reason == {"done": "stop", "error": "error",
                                                               "cancelled": "cancelled"}[ending]
