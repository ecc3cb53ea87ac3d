"""Anthropic's cache writes (``cache_creation_input_tokens``) are stored with the reply and
shown where cached (read) tokens are: a reply streamed from a loopback Anthropic server and
recorded, the export (JSON and Markdown), the day's spending, and an older history file."""

from __future__ import annotations

import json
import sqlite3
from contextlib import aclosing
from pathlib import Path

import httpx

from llmchat.chat.engine import ChatSession
from llmchat.chat.models import Message
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.events import Usage
from llmchat.providers.policy import StreamPolicy
from llmchat.store import Store, migrations
from llmchat.store.recorder import Recorder
from tests.loopback import LoopbackServer, Reply
from tests.providers.test_anthropic_wire import (
    MESSAGE_STOP, block_stop, message_delta, message_start, stream, text_delta, text_start,
)

CACHED_REPLY = stream(
    message_start(input_tokens=3, output_tokens=1, cache_creation_input_tokens=1200, cache_read_input_tokens=80),
    text_start(0), text_delta(0, "Cached."), block_stop(0), message_delta("end_turn", 4), MESSAGE_STOP,
)


async def test_a_streamed_reply_keeps_its_cache_writes_in_the_history(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = lambda _request: Reply(parts=[CACHED_REPLY])
    with Store.open(tmp_path / "history.db") as store:
        async with httpx.AsyncClient() as client:
            provider = AnthropicProvider(client=client, base_url=server.base_url.removesuffix("/v1"),
                                         api_key="sk-ant-test", policy=StreamPolicy(retries=0))
            recorder = Recorder(store, lambda message: None)
            recorder.open(None, provider.name, "claude-test", None)
            session = ChatSession(provider, "claude-test", recorder=recorder)
            async with aclosing(session.send("Hi")) as events:
                async for _ in events:
                    pass
        assert recorder.conversation_id is not None
        _, conversation = store.load_conversation(recorder.conversation_id)
        reply = conversation.messages[-1]
        assert reply.content == "Cached."
        assert reply.usage == Usage(1283, 4, 1287, cached_tokens=80, cache_write_tokens=1200)
        exported = json.loads(store.export(recorder.conversation_id, "json"))
        assert exported["messages"][-1]["usage"]["cache_write_tokens"] == 1200
        assert exported["messages"][-1]["usage"]["cached_tokens"] == 80
        assert "(80 cached, 1200 written to cache)" in store.export(recorder.conversation_id, "md")
        (spent,) = store.replies_since(0)
        assert spent.usage is not None and spent.usage.cache_write_tokens == 1200


def test_a_history_file_of_an_older_llmchat_reads_and_then_migrates(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    db = sqlite3.connect(path, isolation_level=None)
    original = migrations.MIGRATIONS[:]
    migrations.MIGRATIONS[:] = [(name, fn) for name, fn in original if name != "cache_write_tokens"]
    try:
        db.execute("BEGIN IMMEDIATE")
        migrations.migrate(db)
        db.execute("COMMIT")
    finally:
        migrations.MIGRATIONS[:] = original
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('C1', 'old',"
               " '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')")
    db.execute("INSERT INTO messages (id, conversation_id, position, role, content, input_tokens, output_tokens,"
               " total_tokens, cached_tokens, created_at, updated_at) VALUES ('M1', 'C1', 0, 'assistant', 'old',"
               " 10, 2, 12, 4, '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')")
    db.close()
    with Store.open(path, read_only=True) as reader:  # cannot migrate: the column is not there yet
        (message,) = reader.load_conversation("C1")[1].messages
        assert message.usage == Usage(10, 2, 12, cached_tokens=4)
        assert [m.usage for m in reader.replies_since(0)] == [Usage(10, 2, 12, cached_tokens=4)]
    with Store.open(path) as store:
        (message,) = store.load_conversation("C1")[1].messages
        assert message.usage == Usage(10, 2, 12, cached_tokens=4)  # not reported: None, never 0
        store.add_message("C1", Message("assistant", "new", usage=Usage(10, 2, 12, cache_write_tokens=6)))
        assert store.load_conversation("C1")[1].messages[-1].usage == Usage(10, 2, 12, cache_write_tokens=6)
    db = sqlite3.connect(path)
    try:
        assert migrations.applied_migrations(db)[-1] == "cache_write_tokens"
    finally:
        db.close()
