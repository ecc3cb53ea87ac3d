"""Compare (issue 16): one question to several models at once, each lane a ChatSession of its
own, against real loopback servers of three wire formats and a real history store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import httpx
import pytest

from llmchat.chat.compare import (
    MAX_TARGETS,
    CompareEvent,
    CompareFinished,
    Comparison,
    Contender,
    LaneEnded,
    LaneEvent,
    Target,
    TargetError,
    parse_targets,
)
from llmchat.chat.engine import ChatSession, ContentDelta, Failed
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.errors import StreamInterrupted
from llmchat.providers.events import Finish
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.store import Store
from llmchat.store.recorder import Recorder
from tests.compare_support import (
    NDJSON,
    anthropic_events,
    anthropic_reply,
    ollama_dropped,
    ollama_lines,
    ollama_reply,
    openai_reply,
)
from tests.fakes import FakeProvider
from tests.loopback import LoopbackServer, Reply, chunk, sse

PROVIDERS = ("openai", "anthropic", "ollama", "mistral", "work")

# -- parse_targets --------------------------------------------------------------------------


def test_a_prefix_is_a_provider_only_when_it_names_one() -> None:
    assert parse_targets("gpt-4o-mini,anthropic:claude-3-5-haiku,ollama:llama3:8b", PROVIDERS, "openai") == [
        Target("openai", "gpt-4o-mini"), Target("anthropic", "claude-3-5-haiku"), Target("ollama", "llama3:8b")]
    assert parse_targets(" llama3:8b , work:", PROVIDERS, "ollama") == [
        Target("ollama", "llama3:8b"), Target("work", None)]
    assert parse_targets(["a", "b,c"], PROVIDERS, "openai") == [
        Target("openai", "a"), Target("openai", "b"), Target("openai", "c")]
    assert parse_targets("ft:gpt-4o-mini:org::x", PROVIDERS, "openai") == [Target("openai", "ft:gpt-4o-mini:org::x")]
    assert Target("work", None).label == "work" and Target("ollama", "llama3:8b").label == "ollama/llama3:8b"


@pytest.mark.parametrize(("spec", "words"), [
    ("", "no model"),
    (" , ", "no model"),
    ("a,,b", "model 2 of the list is empty"),
    ("a,", "model 2 of the list is empty"),
    ("a,openai:a", "twice"),
    ("gpt\x1b[31mred", "U+001B"),
    ("gpt\u202eevil", "U+202E"),
    ("gpt\u200bx", "U+200B"),
    ("gpt 4o", "a space"),
    ("antropic:claude", "did you mean 'anthropic'"),
    ("OpenAI:gpt-4o", "did you mean 'openai'"),
    (",".join(f"m{i}" for i in range(MAX_TARGETS + 1)), f"at most {MAX_TARGETS}"),
    ("x" * 300, "longer than"),
])
def test_a_bad_list_is_one_clear_line(spec: str, words: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_targets(spec, PROVIDERS, "openai")
    message = str(caught.value)
    assert words in message
    assert "\n" not in message and "\x1b" not in message and "\u202e" not in message and "\u200b" not in message
    assert len(message) < 400


# -- three providers against loopback servers -------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "history.db") as opened:
        yield opened


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer, LoopbackServer]]:
    with LoopbackServer() as a, LoopbackServer() as b, LoopbackServer() as c:
        yield a, b, c


def contenders(client: httpx.AsyncClient, servers: tuple[LoopbackServer, ...]) -> list[Contender]:
    policy = StreamPolicy(retries=0)
    openai, anthropic, ollama = servers
    return [
        Contender(OpenAIProvider(client=client, base_url=openai.base_url, policy=policy), "gpt-x"),
        Contender(AnthropicProvider(client=client, base_url=f"http://127.0.0.1:{anthropic.port}", api_key="k",
                                    policy=policy), "claude-x"),
        Contender(OllamaProvider(client=client, base_url=f"http://127.0.0.1:{ollama.port}", policy=policy),
                  "llama3:8b"),
    ]


def recorded_session(store: Store | None, **kwargs: object) -> ChatSession:
    recorder = None
    if store is not None:
        recorder = Recorder(store, lambda message: pytest.fail(message))
    return ChatSession(FakeProvider(), "base-model", recorder=recorder, **kwargs)  # type: ignore[arg-type]


def lane_recorders(store: Store) -> Recorder:
    return Recorder(store, lambda message: pytest.fail(message))


async def collect(events: object) -> list[CompareEvent]:
    async with aclosing(events) as stream:  # type: ignore[type-var]
        return [event async for event in stream]  # type: ignore[attr-defined]


def lane_text(events: list[CompareEvent], index: int) -> str:
    return "".join(e.event.text for e in events
                   if isinstance(e, LaneEvent) and e.index == index and isinstance(e.event, ContentDelta))


async def test_three_providers_one_failing_mid_stream(
    client: httpx.AsyncClient, store: Store, servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]
) -> None:
    openai, anthropic, ollama = servers
    openai.handler = lambda _r: openai_reply("Hel", "lo")
    anthropic.handler = lambda _r: anthropic_reply("Bon", "jour")
    ollama.handler = lambda _r: ollama_dropped("Hal", "f")
    session = recorded_session(store, system="Be brief.")
    comparison = Comparison(session, contenders(client, servers), recorders=lambda: lane_recorders(store))
    assert [lane.label for lane in comparison.lanes] == ["openai/gpt-x", "anthropic/claude-x", "ollama/llama3:8b"]
    events = await collect(comparison.send("Say hello"))

    assert isinstance(events[-1], CompareFinished)
    assert [lane_text(events, i) for i in range(3)] == ["Hello", "Bonjour", "Half"]
    results = events[-1].results
    assert [(r.status, r.finish_reason) for r in results] == [("done", "stop"), ("done", "stop"), ("failed", "error")]
    assert results[2].error is not None and "interrupted" in results[2].error and "\n" not in results[2].error
    assert results[0].error is None and results[0].stats is not None and results[0].stats.ttft is not None
    assert results[1].outcome is not None and results[1].outcome.usage is not None
    failed = [e for e in events if isinstance(e, LaneEvent) and isinstance(e.event, Failed)]
    assert [e.index for e in failed] == [2] and isinstance(failed[0].event.error, StreamInterrupted)
    # Each lane's events end with its LaneEnded, after its last LaneEvent.
    for index in range(3):
        mine = [e for e in events if getattr(e, "index", None) == index]
        assert isinstance(mine[-1], LaneEnded) and all(isinstance(e, LaneEvent) for e in mine[:-1])
    # Every server got the same question, with the system prompt, in its own format.
    assert openai.requests[0].json()["messages"][-1] == {"role": "user", "content": "Say hello"}
    assert anthropic.requests[0].json()["system"] == "Be brief."
    assert ollama.requests[0].json()["model"] == "llama3:8b"

    # Stored: one question, three sibling replies under it (the failed one partial, "error").
    question = session.conversation.messages[-1]
    assert question.role == "user" and question.id is not None
    replies = [r.message for r in results]
    assert all(m is not None and m.id is not None for m in replies)
    ids = store.children(question.id)
    assert ids == [m.id for m in replies if m is not None]
    assert store.siblings(ids[0]) == ids
    conversation_id = session.recorder.conversation_id
    assert conversation_id is not None
    for reply_id, (content, reason) in zip(ids, [("Hello", "stop"), ("Bonjour", "stop"), ("Half", "error")]):
        store.set_current_leaf(reply_id)
        _, stored = store.load_conversation(conversation_id)
        assert [(m.role, m.content, m.finish_reason) for m in stored.messages] == [
            ("user", "Say hello", None), ("assistant", content, reason)]
    assert stored.messages[-1].provider == "ollama" and stored.messages[-1].model == "llama3:8b"


async def test_cancel_one_lane_keeps_its_partial_and_the_others_finish(
    client: httpx.AsyncClient, store: Store, servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]
) -> None:
    openai, anthropic, ollama = servers
    openai.handler = lambda _r: openai_reply("Fine")
    # Anthropic sends one token, then stalls until the client goes away.
    anthropic.handler = lambda _r: Reply(parts=[anthropic_events(["Par"], end=False), 60.0])
    ollama.handler = lambda _r: ollama_reply("Ok")
    session = recorded_session(store)
    comparison = Comparison(session, contenders(client, servers), recorders=lambda: lane_recorders(store))
    seen: list[CompareEvent] = []
    async with aclosing(comparison.send("q")) as stream:
        async for event in stream:
            seen.append(event)
            if isinstance(event, LaneEvent) and event.index == 1 and isinstance(event.event, ContentDelta):
                assert comparison.lanes[1].status == "running"
                comparison.cancel(1)
    finished = seen[-1]
    assert isinstance(finished, CompareFinished)
    assert [(r.status, r.finish_reason) for r in finished.results] == [
        ("done", "stop"), ("cancelled", "cancelled"), ("done", "stop")]
    assert [lane_text(seen, i) for i in range(3)] == ["Fine", "Par", "Ok"]
    assert anthropic.disconnected.wait(10)  # the connection was closed: the server stops generating
    cancelled = finished.results[1].message
    assert cancelled is not None and cancelled.id is not None
    conversation_id = session.recorder.conversation_id
    assert conversation_id is not None
    store.set_current_leaf(cancelled.id)
    _, stored = store.load_conversation(conversation_id)
    assert (stored.messages[-1].content, stored.messages[-1].finish_reason) == ("Par", "cancelled")
    assert not session.running and not comparison.running


async def test_cancelling_the_consumer_cancels_every_lane_and_records_them(
    client: httpx.AsyncClient, store: Store, servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]
) -> None:
    openai, anthropic, ollama = servers  # each sends a token, then stalls until the client leaves
    openai.handler = lambda _r: Reply(parts=[sse(chunk("Par"), done=False), 60.0])
    anthropic.handler = lambda _r: Reply(parts=[anthropic_events(["Par"], end=False), 60.0])
    ollama.handler = lambda _r: Reply(parts=[ollama_lines(["Par"], end=False), 60.0], headers=NDJSON)
    session = recorded_session(store)
    comparison = Comparison(session, contenders(client, servers), recorders=lambda: lane_recorders(store))
    started: set[int] = set()
    all_started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(comparison.send("q")) as stream:
            async for event in stream:
                if isinstance(event, LaneEvent) and isinstance(event.event, ContentDelta):
                    started.add(event.index)
                    if len(started) == 3:
                        all_started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(all_started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [lane.status for lane in comparison.lanes] == ["cancelled"] * 3
    question = session.conversation.messages[-1]
    assert question.id is not None
    ids = store.children(question.id)
    assert len(ids) == 3
    conversation_id = session.recorder.conversation_id
    assert conversation_id is not None
    for reply_id in ids:
        store.set_current_leaf(reply_id)
        _, stored = store.load_conversation(conversation_id)
        assert stored.messages[-1].finish_reason == "cancelled"
    for server in servers:
        assert server.disconnected.wait(10)
    assert not session.running


async def test_pick_continues_with_that_reply_and_its_model(
    client: httpx.AsyncClient, store: Store, servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]
) -> None:
    openai, anthropic, ollama = servers
    openai.handler = lambda _r: openai_reply("A")
    anthropic.handler = lambda _r: anthropic_reply("B")
    ollama.handler = lambda _r: ollama_reply("C")
    session = recorded_session(store)
    comparison = Comparison(session, contenders(client, servers), recorders=lambda: lane_recorders(store))
    with pytest.raises(RuntimeError):
        comparison.pick(0)  # not run yet
    await collect(comparison.send("q"))
    messages = comparison.pick(1)
    assert [(m.role, m.content) for m in messages] == [("user", "q"), ("assistant", "B")]
    assert session.model == "claude-x" and session.provider.name == "anthropic"
    picked = messages[-1]
    assert picked.id is not None and len(store.siblings(picked.id)) == 3
    # The session goes on from the picked reply, on its model; the store follows.
    anthropic.handler = lambda _r: anthropic_reply("more B")
    async with aclosing(session.send("and then?")) as turn:
        async for _ in turn:
            pass
    assert anthropic.requests[-1].json()["messages"] == [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "B"},
        {"role": "user", "content": "and then?"}]
    conversation_id = session.recorder.conversation_id
    assert conversation_id is not None
    _, stored = store.load_conversation(conversation_id)
    assert [m.content for m in stored.messages] == ["q", "B", "and then?", "more B"]


async def test_an_unexpected_error_in_one_lane_leaves_the_others_running() -> None:
    class Broken(FakeProvider):
        name = "broken"

    good = FakeProvider([ContentDelta("fine"), Finish("stop")])
    broken = Broken([ContentDelta("so"), RuntimeError("wires crossed")])
    session = ChatSession(FakeProvider(), "m")
    comparison = Comparison(session, [Contender(broken, "b"), Contender(good, "g")])
    events = await collect(comparison.send("q"))
    finished = events[-1]
    assert isinstance(finished, CompareFinished)
    assert [(r.status, r.finish_reason) for r in finished.results] == [("failed", "error"), ("done", "stop")]
    assert finished.results[0].error is not None and "wires crossed" in finished.results[0].error
    assert lane_text(events, 1) == "fine"
    assert not session.running


async def test_a_lane_cancelled_before_its_request_cannot_be_picked() -> None:
    slow = FakeProvider([asyncio.Event()])  # would wait for ever
    quick = FakeProvider([ContentDelta("hi"), Finish("stop")])
    session = ChatSession(FakeProvider(), "m")
    comparison = Comparison(session, [Contender(quick, "q"), Contender(slow, "s")])
    comparison.cancel(1)  # before the comparison starts: the lane sends nothing
    events = await collect(comparison.send("question"))
    finished = events[-1]
    assert isinstance(finished, CompareFinished)
    assert [(r.status, r.outcome is None) for r in finished.results] == [("done", False), ("cancelled", True)]
    assert slow.requests == []
    with pytest.raises(ValueError):
        comparison.pick(1)
    assert [m.content for m in comparison.pick(0)] == ["question", "hi"]


async def test_the_session_refuses_its_own_turn_while_lanes_run() -> None:
    gate = asyncio.Event()
    session = ChatSession(FakeProvider(), "m")
    comparison = Comparison(session, [Contender(FakeProvider([gate, ContentDelta("x"), Finish("stop")]), "a")])
    stream = comparison.send("q")
    async with aclosing(stream):
        task = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            session.rewind()
        with pytest.raises(RuntimeError):
            await anext(session.regenerate())
        gate.set()
        events = [await task] + [event async for event in stream]
    assert isinstance(events[-1], CompareFinished) and not session.running
    with pytest.raises(RuntimeError):
        await anext(comparison.reply())  # a comparison runs once


async def test_each_lane_gets_a_pdf_as_its_protocol_takes_it(
    client: httpx.AsyncClient, servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]
) -> None:
    from llmchat.chat.attachments import prepare
    from llmchat.chat.models import Attachment
    from tests.chat.test_attachments import make_pdf

    openai, anthropic, ollama = servers
    openai.handler = lambda _r: openai_reply("A")
    anthropic.handler = lambda _r: anthropic_reply("B")
    ollama.handler = lambda _r: ollama_reply("C")
    pdf = Attachment("paper.pdf", "application/pdf", make_pdf("Quarterly numbers"))
    session = ChatSession(FakeProvider(), "m")
    comparison = Comparison(session, contenders(client, servers))
    events = await collect(comparison.send("Sum up.", prepare([pdf], "openai")))  # as the front-end made it
    assert [r.status for r in events[-1].results] == ["done"] * 3  # type: ignore[union-attr]
    anthropic_turn = anthropic.requests[0].json()["messages"][0]["content"]
    assert anthropic_turn[0]["type"] == "document" and anthropic_turn[0]["source"]["media_type"] == "application/pdf"
    assert "Quarterly numbers" in openai.requests[0].json()["messages"][0]["content"]
    assert "Quarterly numbers" in ollama.requests[0].json()["messages"][0]["content"]
