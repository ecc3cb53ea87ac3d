"""The history store failing under the recorder while a reply streams: the reply goes on in
memory and ends normally, the failure is reported once (one line), recording stops, and what was
stored before the failure stays readable.

The failure is real: halfway through the stream another connection takes SQLite's exclusive
lock (as a second llmchat doing a long write, or a backup tool, would), so the recorder's next
write gets "database is locked" after the store's busy timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmchat.chat.engine import ChatSession, Failed, ReplyFinished, TurnFinished
from llmchat.chat.models import Message
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.store import Store
from llmchat.store.recorder import Recorder
from tests.loopback import LoopbackServer, Reply, chunk, sse


class Ticking:
    """A clock that moves two seconds at each reading: every heartbeat saves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 2.0
        return self.now


class Locker:
    """Takes the database's exclusive lock from another connection when called (in the
    loopback server's thread, between two parts of the reply); `release` lets go."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def __call__(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "history.db"


async def test_a_store_that_fails_mid_reply_stops_recording_and_the_reply_goes_on(
        server: LoopbackServer, db: Path) -> None:
    locker = Locker(db)
    first = [f"early{i} " for i in range(5)]
    late = [f"late{i} " for i in range(5)]
    parts: list[Any] = [sse(chunk("", role=True), *[chunk(t) for t in first], done=False), 0.1, locker]
    parts += [sse(chunk(t), done=False) for t in late]
    parts.append(sse(chunk(finish="stop")))
    server.handler = lambda _r: Reply(parts=parts)
    errors: list[str] = []
    try:
        with Store.open(db, busy_timeout=0.2) as store:
            recorder = Recorder(store, errors.append, clock=Ticking())
            async with httpx.AsyncClient(timeout=10) as client:
                provider = OpenAIProvider(client=client, base_url=server.base_url, policy=StreamPolicy(retries=0))
                recorder.open(None, provider.name, "m", None)
                session = ChatSession(provider, "m", recorder=recorder, save_every=0.0)
                async with aclosing(session.send("tell me")) as turn:
                    events = [event async for event in turn]
            assert not any(isinstance(e, Failed) for e in events)  # the store is not the reply's failure
            assert isinstance(events[-1], TurnFinished)
            finished = [e for e in events if isinstance(e, ReplyFinished)]
            assert len(finished) == 1 and finished[0].message.finish_reason == "stop"
            reply = session.conversation.messages[-1]
            assert (reply.role, reply.content) == ("assistant", "".join(first + late))  # whole, in memory
            assert len(errors) == 1, errors  # reported once, not at every later save
            assert errors[0].startswith("history is off for this session:") and "\n" not in errors[0]
            assert "locked" in errors[0]
            assert not recorder.recording
            conversation_id = recorder.conversation_id
    finally:
        locker.release()
    assert conversation_id is not None
    with Store.open(db) as store:  # what was stored before the failure is intact
        _, conversation = store.load_conversation(conversation_id)
    messages = conversation.messages
    assert [m.role for m in messages] == ["user", "assistant"] and messages[0].content == "tell me"
    assert "".join(first + late).startswith(messages[1].content)
    assert "late" not in messages[1].content  # nothing was written after the lock


async def test_a_store_failing_at_the_first_write_leaves_the_chat_working(db: Path) -> None:
    """The user's message cannot be stored (the lock is held from the start): one report, no
    exception, and the reply's calls do nothing."""
    locker = Locker(db)
    errors: list[str] = []
    try:
        with Store.open(db, busy_timeout=0.1) as store:
            locker()  # opened, then locked
            recorder = Recorder(store, errors.append)
            recorder.open(None, "openai", "m", None)
            message = Message("user", "hi")
            recorder.user(message)
            recorder.begin_reply("openai", "m")
            recorder.finish(Message("assistant", "hello", finish_reason="stop"))
            recorder.user(Message("user", "again"))
    finally:
        locker.release()
    assert len(errors) == 1 and errors[0].startswith("history is off for this session:")
    assert not recorder.recording and message.id is None
    with Store.open(db) as store:
        assert store.list_conversations() == []
