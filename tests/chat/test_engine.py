"""The conversation engine (ChatSession) against a real loopback server and a real history store.

Turns with and without tools, cancellation, an error with a partial reply, regenerate,
continue, edit and fork: each checks the events, the conversation, what was sent on the wire
and what the store holds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmchat.chat.engine import (
    CONTINUE_PROMPT,
    ChatSession,
    ContentDelta,
    EngineEvent,
    Failed,
    Finish,
    ReplyFinished,
    RoundStarted,
    ToolCallStarted,
    ToolResult,
    TurnFinished,
    Usage,
)
from llmchat.chat.models import Conversation
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.errors import StreamInterrupted
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.store import Store
from llmchat.store.recorder import Recorder
from tests.loopback import DROP, LoopbackServer, Reply, Request, chunk, completion, sse


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.db") as opened:
        yield opened


def make_session(server: LoopbackServer, client: httpx.AsyncClient, store: Store | None = None,
                 **kwargs: Any) -> ChatSession:
    provider = OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))
    recorder = None
    if store is not None:
        recorder = Recorder(store, lambda message: pytest.fail(message))
        recorder.open(None, provider.name, "m", kwargs.get("system"))
    return ChatSession(provider, "m", recorder=recorder, **kwargs)


async def run(turn: Any) -> list[EngineEvent]:
    async with aclosing(turn) as events:
        return [event async for event in events]


def stored(store: Store, session: ChatSession) -> list[tuple[str, str, str | None]]:
    recorder = session.recorder
    assert isinstance(recorder, Recorder) and recorder.conversation_id is not None
    _, conversation = store.load_conversation(recorder.conversation_id)
    return [(m.role, m.content, m.finish_reason) for m in conversation.messages]


def tool_call_reply(call_id: str, name: str, arguments: dict[str, Any]) -> bytes:
    text = json.dumps(arguments)
    return sse(
        chunk("", role=True), chunk("Let me look. "),
        chunk(tool_calls=[{"index": 0, "id": call_id, "type": "function",
                           "function": {"name": name, "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": text[:5]}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": text[5:]}}]),
        chunk(finish="tool_calls"),
        chunk(empty_choices=True, usage={"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}),
    )


async def test_a_turn_without_tools_is_one_round(server: LoopbackServer, client: httpx.AsyncClient,
                                                  store: Store) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["Hel", "lo", "!"], prompt_tokens=5)])
    session = make_session(server, client, store, system="Be brief.", options={"temperature": 0.5})
    events = await run(session.send("Hi"))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RoundStarted", "ContentDelta", "ContentDelta", "ContentDelta", "Usage", "Finish",
                     "ReplyFinished", "TurnFinished"]
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "Hello!"
    finished = events[-1]
    assert isinstance(finished, TurnFinished)
    assert (finished.outcome.rounds, finished.outcome.content, finished.outcome.finish_reason) == (1, "Hello!", "stop")
    assert finished.outcome.usage == Usage(5, 3, 8)
    body = server.requests[0].json()
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert body["temperature"] == 0.5 and "tools" not in body
    reply = session.conversation.messages[-1]
    assert (reply.role, reply.content, reply.provider, reply.model) == ("assistant", "Hello!", "openai", "test-model")  # the server named its model
    assert stored(store, session) == [("user", "Hi", None), ("assistant", "Hello!", "stop")]


async def test_a_turn_with_tools_runs_them_and_records_every_message(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    replies = [tool_call_reply("call_1", "weather", {"city": "Oslo"}), completion(["Sunny", "."])]
    server.handler = lambda r: Reply(parts=[replies[len(server.requests) - 1]])
    seen: list[dict[str, Any]] = []
    asked: list[str] = []

    def weather(arguments: dict[str, Any]) -> str:
        seen.append(arguments)
        return "sunny, 21 C"

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        asked.append(tool.name)
        return True

    registry = ToolRegistry([Tool("weather", "The weather in a city.", handler=weather)])
    session = make_session(server, client, store, tools=registry, approve=approve)
    events = await run(session.send("Weather in Oslo?"))
    kinds = [type(e).__name__ for e in events if not isinstance(e, (ContentDelta, Finish, Usage))]
    assert kinds[:2] == ["RoundStarted", "ToolCallDelta"]
    assert [k for k in kinds if k != "ToolCallDelta"] == [
        "RoundStarted", "ReplyFinished", "ToolCallStarted", "ToolResult", "RoundStarted", "ReplyFinished",
        "TurnFinished"]
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    assert started.needs_approval and asked == ["weather"] and seen == [{"city": "Oslo"}]
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.output.text == "sunny, 21 C"
    second = server.requests[1].json()
    assert second["tools"] == registry.definitions()
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}
    outcome = events[-1].outcome  # type: ignore[union-attr]
    assert (outcome.rounds, outcome.content) == (2, "Let me look. \n\nSunny.")
    assert outcome.usage is not None and outcome.usage.total_tokens == 14 + 7 + 2
    assert stored(store, session) == [
        ("user", "Weather in Oslo?", None), ("assistant", "Let me look. ", "tool_calls"),
        ("tool", "sunny, 21 C", None), ("assistant", "Sunny.", "stop")]


async def test_a_tool_that_is_not_read_only_is_denied_by_default(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    replies = [tool_call_reply("call_1", "delete", {"path": "x"}), completion(["OK"])]
    server.handler = lambda r: Reply(parts=[replies[len(server.requests) - 1]])
    ran: list[Any] = []
    registry = ToolRegistry([Tool("delete", "Delete a file.", handler=ran.append)])
    session = make_session(server, client, tools=registry)
    events = await run(session.send("Delete x"))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.output.status == "denied" and ran == []
    assert session.conversation.messages[-1].content == "OK"


async def test_cancelling_the_consumer_closes_the_connection_and_keeps_the_partial(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    head = sse(chunk("", role=True), chunk("Partial "), chunk("answer"), done=False)
    server.handler = lambda _r: Reply(parts=[head, 30.0])
    session = make_session(server, client, store)
    got_text = asyncio.Event()
    events: list[EngineEvent] = []

    async def consume() -> None:
        async with aclosing(session.send("Tell me")) as turn:
            async for event in turn:
                events.append(event)
                if isinstance(event, ContentDelta) and event.text == "answer":
                    got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.disconnected.wait, 10)
    assert not any(isinstance(e, TurnFinished) for e in events)
    reply = session.conversation.messages[-1]
    assert (reply.content, reply.finish_reason) == ("Partial answer", "cancelled")
    assert session.outcome() is not None and session.outcome().finish_reason == "cancelled"  # type: ignore[union-attr]
    assert not session.running
    assert stored(store, session) == [("user", "Tell me", None), ("assistant", "Partial answer", "cancelled")]


async def test_an_error_ends_the_turn_with_failed_and_keeps_the_partial(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    head = sse(chunk("", role=True), chunk("Half a"), done=False)
    server.handler = lambda _r: Reply(parts=[head, DROP])
    session = make_session(server, client, store)
    events = await run(session.send("Go"))
    assert [type(e).__name__ for e in events[-2:]] == ["Failed", "TurnFinished"]
    failed = events[-2]
    assert isinstance(failed, Failed) and isinstance(failed.error, StreamInterrupted)
    assert failed.message is session.conversation.messages[-1]
    assert (failed.message.content, failed.message.finish_reason) == ("Half a", "error")
    assert failed.message.error and "interrupted" in failed.message.error
    assert events[-1].outcome.finish_reason == "error"  # type: ignore[union-attr]
    assert stored(store, session) == [("user", "Go", None), ("assistant", "Half a", "error")]


async def test_regenerate_replaces_the_last_answer(server: LoopbackServer, client: httpx.AsyncClient,
                                                   store: Store) -> None:
    answers = iter([["First"], ["Second"]])
    server.handler = lambda _r: Reply(parts=[completion(next(answers))])
    session = make_session(server, client, store)
    await run(session.send("Q"))
    events = await run(session.regenerate())
    assert isinstance(events[-1], TurnFinished) and events[-1].outcome.content == "Second"
    assert server.requests[1].json()["messages"] == [{"role": "user", "content": "Q"}]
    assert [(m.role, m.content) for m in session.conversation.messages] == [("user", "Q"), ("assistant", "Second")]
    assert stored(store, session) == [("user", "Q", None), ("assistant", "Second", "stop")]


async def test_regenerate_without_a_question_says_so(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    session = make_session(server, client)
    with pytest.raises(ValueError, match="no user message"):
        session.regenerate()
    assert server.requests == []


async def test_continue_sends_the_partial_and_the_continue_prompt(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    replies = [completion(["Once upon"], finish="length"), completion([" a time."])]
    server.handler = lambda r: Reply(parts=[replies[len(server.requests) - 1]])
    session = make_session(server, client)
    first = await run(session.send("A story"))
    assert first[-1].outcome.finish_reason == "length"  # type: ignore[union-attr]
    await run(session.continue_reply())
    assert server.requests[1].json()["messages"] == [
        {"role": "user", "content": "A story"}, {"role": "assistant", "content": "Once upon"},
        {"role": "user", "content": CONTINUE_PROMPT}]
    assert session.conversation.messages[-1].content == " a time."


async def test_edit_replaces_the_last_question_and_its_answer(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    def answer(request: Request) -> Reply:
        return Reply(parts=[completion([request.json()["messages"][-1]["content"].upper()])])

    server.handler = answer
    session = make_session(server, client, store)
    await run(session.send("one"))
    await run(session.send("two"))
    assert session.rewind().content == "two"
    assert [m.content for m in session.conversation.messages] == ["one", "ONE"]
    await run(session.send("two, again"))
    assert [m.content for m in session.conversation.messages] == ["one", "ONE", "two, again", "TWO, AGAIN"]
    await run(session.edit("three"))
    assert [m.content for m in session.conversation.messages] == ["one", "ONE", "three", "THREE"]
    assert server.requests[-1].json()["messages"][-1] == {"role": "user", "content": "three"}
    assert [c for _, c, _ in stored(store, session)] == ["one", "ONE", "three", "THREE"]


async def test_fork_copies_the_conversation_and_goes_its_own_way(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    def answer(request: Request) -> Reply:
        return Reply(parts=[completion([f"#{len(request.json()['messages'])}"])])

    server.handler = answer
    session = make_session(server, client, store, system="S")
    await run(session.send("Q1"))
    recorder = Recorder(store, lambda message: pytest.fail(message))
    recorder.open(None, "openai", "m", "S")
    fork = session.fork(recorder)
    assert fork.conversation.system == "S"
    assert [(m.role, m.content) for m in fork.conversation.messages] == [("user", "Q1"), ("assistant", "#2")]
    await run(fork.send("Q2 on the fork"))
    await run(session.send("Q2 on the original"))
    assert [m.content for m in fork.conversation.messages] == ["Q1", "#2", "Q2 on the fork", "#4"]
    assert [m.content for m in session.conversation.messages] == ["Q1", "#2", "Q2 on the original", "#4"]
    assert recorder.conversation_id != session.recorder.conversation_id  # type: ignore[attr-defined]
    assert [c for _, c, _ in stored(store, fork)] == ["Q1", "#2", "Q2 on the fork", "#4"]
    assert [c for _, c, _ in stored(store, session)] == ["Q1", "#2", "Q2 on the original", "#4"]


async def test_a_session_goes_on_with_an_existing_conversation(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["Yes"])])
    provider = OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))
    history = Conversation(system="S")
    session = ChatSession(provider, "m", history)
    await run(session.send("again?"))
    assert session.conversation is history and [m.content for m in history.messages] == ["again?", "Yes"]


async def test_one_turn_at_a_time(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[sse(chunk("", role=True), chunk("x"), done=False), 30.0])
    session = make_session(server, client)
    async with aclosing(session.send("a")) as turn:
        assert isinstance(await anext(turn), RoundStarted)
        with pytest.raises(RuntimeError, match="already running"):
            await anext(session.reply())
        with pytest.raises(RuntimeError, match="cancel it first"):
            session.regenerate()
    assert not session.running
    assert session.conversation.messages[-1].finish_reason == "cancelled"


async def test_a_raw_completion_sends_the_last_message_as_the_prompt(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    completion_chunk = {"id": "c", "object": "text_completion", "choices": [
        {"index": 0, "text": "42", "finish_reason": "stop"}]}
    server.handler = lambda _r: Reply(parts=[sse(completion_chunk)])
    session = make_session(server, client, completion=True)
    events = await run(session.send("The answer is"))
    assert server.requests[0].path.endswith("/completions") and "chat" not in server.requests[0].path
    assert server.requests[0].json()["prompt"] == "The answer is"
    assert isinstance(events[-2], ReplyFinished) and events[-2].message.content == "42"


async def test_tool_calls_nobody_offered_end_the_turn(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    server.handler = lambda _r: Reply(parts=[tool_call_reply("call_1", "lookup", {"q": "x"})])
    session = make_session(server, client)
    events = await run(session.send("hi"))
    assert len(server.requests) == 1 and not any(isinstance(e, ToolCallStarted) for e in events)
    reply = session.conversation.messages[-1]
    assert (reply.finish_reason, [c.name for c in reply.tool_calls]) == ("tool_calls", ["lookup"])


async def test_new_conversation_resume_model_and_system_prompt_reach_the_store(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["ok"])])
    session = make_session(server, client, store, system="S1")
    await run(session.send("first"))
    recorder = session.recorder
    assert isinstance(recorder, Recorder)
    first_id = recorder.conversation_id
    session.new_conversation()
    session.use(model="m2")
    session.set_system("S2")
    assert session.conversation.messages == [] and recorder.conversation_id is None
    await run(session.send("second"))
    second_id = recorder.conversation_id
    assert second_id not in (None, first_id)
    summary, stored_second = store.load_conversation(second_id)  # type: ignore[arg-type]
    assert (summary.model, stored_second.system) == ("m2", "S2")
    assert server.requests[-1].json()["model"] == "m2"
    _, loaded = store.load_conversation(first_id)  # type: ignore[arg-type]
    session.resume(loaded, first_id)
    await run(session.send("again"))
    assert [m.content for m in store.load_conversation(first_id)[1].messages] == ["first", "ok", "again", "ok"]  # type: ignore[arg-type]
    assert server.requests[-1].json()["messages"][0] == {"role": "system", "content": "S1"}
