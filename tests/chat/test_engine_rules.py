"""ChatSession rules that its main-path tests leave open: the heartbeat that saves a reply while
the model is silent, what a fork carries over (and that it is a copy), regenerating when the
conversation ends with the question, the tool-round limit and options reaching the loop, text
completions, resuming a stored conversation and a new conversation keeping the system prompt.
Against the loopback server and a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmchat.chat.engine import ChatSession, EngineEvent, TurnFinished
from llmchat.chat.models import Conversation, Message
from llmchat.chat.toolloop import RoundLimitReached
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.store import Store
from llmchat.store.recorder import Recorder
from tests.loopback import LoopbackServer, Reply, chunk, completion, sse


class Ticking:
    """A recorder clock that moves two seconds at each reading: every heartbeat saves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 2.0
        return self.now


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.db") as opened:
        yield opened


def provider(server: LoopbackServer, client: httpx.AsyncClient) -> OpenAIProvider:
    return OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))


def recorder(store: Store) -> Recorder:
    made = Recorder(store, pytest.fail, clock=Ticking())
    made.open(None, "openai", "m", None)
    return made


async def run(turn: Any) -> list[EngineEvent]:
    async with aclosing(turn) as events:
        return [event async for event in events]


async def test_a_silent_model_still_gets_its_reply_saved(server: LoopbackServer, client: httpx.AsyncClient,
                                                         store: Store) -> None:
    """While the model is silent (here 20 s after its first words) the heartbeat saves what
    came, so another process does not take the reply for an interrupted one."""
    parts: list[Any] = [sse(chunk("", role=True), chunk("first words"), done=False), 20.0,
                        sse(chunk(" and the rest"), chunk(finish="stop"))]
    server.handler = lambda _r: Reply(parts=parts)
    rec = recorder(store)
    session = ChatSession(provider(server, client), "m", recorder=rec, save_every=0.05)

    async def consume() -> list[EngineEvent]:
        return await run(session.send("q"))

    task = asyncio.create_task(consume())
    try:
        for _ in range(1000):  # until saved mid-reply (a hang fails at the test's timeout)
            if rec.conversation_id is not None:
                messages = store.load_conversation(rec.conversation_id)[1].messages
                if len(messages) == 2 and messages[1].content == "first words":
                    break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the reply was not saved while the model was silent")
        assert messages[1].finish_reason is None  # still streaming
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_fork_carries_the_settings_over_and_is_a_copy(server: LoopbackServer, client: httpx.AsyncClient,
                                                              store: Store) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        return True

    tools = ToolRegistry([Tool("noop", "Does nothing.", handler=lambda arguments: "done")])
    original = ChatSession(provider(server, client), "model-a", Conversation(system="sys"),
                           options={"temperature": 0.25}, tools=tools, approve=approve, max_tool_rounds=3,
                           recorder=recorder(store))
    await run(original.send("first question"))
    forked = original.fork(recorder=Recorder(store, pytest.fail))
    assert (forked.model, forked.options, forked.tools, forked.approve, forked.max_tool_rounds) == (
        "model-a", {"temperature": 0.25}, tools, approve, 3)
    assert forked.conversation.system == "sys"
    copies = forked.conversation.messages
    assert [(m.role, m.content) for m in copies] == [("user", "first question"), ("assistant", "ok")]
    copies[0].content = "changed in the fork"
    assert original.conversation.messages[0].content == "first question"  # a copy, not shared
    assert all(m.created_at is None for m in copies)
    assert all(m.id is not None for m in copies)  # stored anew by the fork's recorder ...
    assert {m.id for m in copies}.isdisjoint(m.id for m in original.conversation.messages)  # ... as new rows
    await run(forked.send("second question"))
    body = server.requests[-1].json()
    assert body["model"] == "model-a" and body["temperature"] == 0.25
    assert [t["function"]["name"] for t in body["tools"]] == ["noop"]
    assert len(original.conversation.messages) == 2  # the fork's turn left the original alone


async def test_regenerate_when_the_conversation_ends_with_the_question(
        server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["again"])])
    session = ChatSession(provider(server, client), "m")
    session.resume(Conversation(messages=[Message("user", "q1"), Message("assistant", "a1", finish_reason="stop"),
                                          Message("user", "q2")]), None)
    await run(session.regenerate())
    sent = server.requests[-1].json()["messages"]
    assert [m["content"] for m in sent] == ["q1", "a1", "q2"]
    assert [m.content for m in session.conversation.messages] == ["q1", "a1", "q2", "again"]


async def test_the_tool_round_limit_reaches_the_loop(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    call = sse(chunk("", role=True),
               chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function",
                                  "function": {"name": "noop", "arguments": "{}"}}]),
               chunk(finish="tool_calls"))
    server.handler = lambda _r: Reply(parts=[call])

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        return True

    tools = ToolRegistry([Tool("noop", "Does nothing.", handler=lambda arguments: "done")])
    session = ChatSession(provider(server, client), "m", tools=tools, approve=approve, max_tool_rounds=2)
    events = await run(session.send("loop forever"))
    assert len(server.requests) == 2
    assert [e for e in events if isinstance(e, RoundLimitReached)] == [RoundLimitReached(2)]
    assert isinstance(events[-1], TurnFinished) and events[-1].outcome.round_limit_reached


async def test_a_text_completion_sends_the_prompt_with_the_model_and_options(
        server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[sse({"id": "c", "object": "text_completion", "choices": [
        {"index": 0, "text": " upon a time", "finish_reason": "stop"}]})])
    session = ChatSession(provider(server, client), "base-model", options={"max_tokens": 7}, completion=True)
    events = await run(session.send("Once"))
    request = server.requests[-1]
    assert request.path == "/v1/completions"
    assert request.json()["model"] == "base-model" and request.json()["max_tokens"] == 7
    assert request.json()["prompt"] == "Once"
    assert isinstance(events[-1], TurnFinished) and events[-1].outcome.content == " upon a time"


async def test_resume_records_into_the_stored_conversation(server: LoopbackServer, client: httpx.AsyncClient,
                                                           store: Store) -> None:
    cid = store.create_conversation("openai", "m", "sys")
    store.add_message(cid, Message("user", "old question"))
    server.handler = lambda _r: Reply(parts=[completion(["new answer"])])
    session = ChatSession(provider(server, client), "m", recorder=Recorder(store, pytest.fail))
    _, conversation = store.load_conversation(cid)
    session.resume(conversation, cid)
    await run(session.send("new question"))
    assert [m.content for m in store.load_conversation(cid)[1].messages] == [
        "old question", "new question", "new answer"]
    assert len(store.list_conversations()) == 1


def test_a_new_conversation_keeps_the_system_prompt(server: LoopbackServer) -> None:
    session = ChatSession(OpenAIProvider(client=httpx.AsyncClient(), base_url=server.base_url), "m",
                          Conversation(system="Be brief.", messages=[Message("user", "x")]))
    session.new_conversation()
    assert session.conversation.system == "Be brief." and session.conversation.messages == []


def test_a_fork_copies_every_setting_and_the_messages_deeply(server: LoopbackServer) -> None:
    from llmchat.chat.models import ToolCall
    from llmchat.chat.toollimits import ToolLimits

    def clock() -> float:
        return 1.0

    limits = ToolLimits(max_calls=5, max_results_chars=999)
    call = ToolCall(id="c1", name="noop", arguments="{}")
    session = ChatSession(
        OpenAIProvider(client=httpx.AsyncClient(), base_url=server.base_url), "m",
        Conversation(messages=[Message("user", "q"), Message("assistant", "", tool_calls=[call])]),
        tool_limits=limits, text="until_taken", fold_text=False, completion=True, clock=clock, save_every=0.5,
    )
    forked = session.fork()
    assert (forked.tool_limits, forked.text, forked.fold_text, forked.completion, forked.clock, forked.save_every) == (
        limits, "until_taken", False, True, clock, 0.5)
    forked.conversation.messages[1].tool_calls.append(ToolCall(id="c2", name="other", arguments="{}"))
    assert session.conversation.messages[1].tool_calls == [call]  # deep: the list is not shared
    assert all(m.id is None for m in forked.conversation.messages)  # nothing recorded them


async def test_the_sessions_clock_times_the_reply(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["a", "b"])])
    session = ChatSession(provider(server, client), "m", clock=lambda: 42.0)
    await run(session.send("q"))
    reply = session.conversation.messages[-1]
    assert (reply.ttft, reply.duration) == (0.0, 0.0)  # a clock that stands still


async def test_attachments_go_with_the_users_message(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    from llmchat.chat.models import Attachment

    server.handler = lambda _r: Reply(parts=[completion(["seen"])])
    attachment = Attachment("notes.txt", "text/plain", b"remember this", "remember this")
    session = ChatSession(provider(server, client), "m")
    await run(session.send("read it", attachments=[attachment]))
    assert session.conversation.messages[0].attachments == [attachment]
    assert "remember this" in json_text(server.requests[-1].json())


def json_text(obj: Any) -> str:
    import json

    return json.dumps(obj)


async def test_the_tool_limits_reach_the_loop(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    from llmchat.chat.toollimits import ToolLimits

    calls = sse(chunk("", role=True), chunk(tool_calls=[
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "noop", "arguments": "{}"}},
        {"index": 1, "id": "c2", "type": "function", "function": {"name": "noop", "arguments": "{}"}}]),
        chunk(finish="tool_calls"))
    replies = [calls, completion(["done"])]
    server.handler = lambda _r: Reply(parts=[replies[min(len(server.requests), 2) - 1]])
    ran: list[str] = []

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        return True

    tools = ToolRegistry([Tool("noop", "Does nothing.", handler=lambda arguments: ran.append("x") or "done")])
    session = ChatSession(provider(server, client), "m", tools=tools, approve=approve,
                          tool_limits=ToolLimits(max_calls=1))
    await run(session.send("two calls"))
    assert ran == ["x"]  # the second call of the reply was not run


def test_the_session_says_what_is_wrong(server: LoopbackServer) -> None:
    session = ChatSession(OpenAIProvider(client=httpx.AsyncClient(), base_url=server.base_url), "m")
    assert session.outcome() is None  # no turn yet
    with pytest.raises(ValueError, match="^there is no user message in the conversation$"):
        session.regenerate()
    session.running = True
    with pytest.raises(RuntimeError, match="^a turn is running: cancel it first$"):
        session.regenerate()


async def test_a_second_turn_at_once_is_refused(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    session = ChatSession(provider(server, client), "m")
    session.running = True
    with pytest.raises(RuntimeError, match="^a turn is already running in this session$"):
        await run(session.send("q"))


async def test_resume_without_an_id_records_a_new_conversation_with_its_settings(
        server: LoopbackServer, client: httpx.AsyncClient, store: Store) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["a"])])
    rec = Recorder(store, pytest.fail)
    session = ChatSession(provider(server, client), "model-z", recorder=rec)
    session.resume(Conversation(system="Be kind."), None)
    await run(session.send("q"))
    assert rec.conversation_id is not None
    summary, conversation = store.load_conversation(rec.conversation_id)
    assert conversation.system == "Be kind."
    assert (summary.provider, summary.model) == ("openai", "model-z")
