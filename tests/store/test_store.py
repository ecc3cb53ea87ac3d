"""The history store: schema, write-ahead replies, crash recovery, concurrency, search, export."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmchat.chat.models import Message, ToolCall
from llmchat.providers.events import Usage
from llmchat.store import (
    INTERRUPTED,
    ConversationNotFound,
    Store,
    StoreError,
    migrations,
)
from llmchat.store.ids import new_id
from llmchat.store.search import fts_query
from tests.store.conftest import Clock


def _run(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


# -- schema -------------------------------------------------------------------------------


def test_migrations_are_recorded_in_order_and_applied_once(db_path: Path) -> None:
    Store.open(db_path).close()
    names = [name for name, _ in migrations.MIGRATIONS]
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert migrations.applied_migrations(db) == names
        db.execute("BEGIN IMMEDIATE")
        assert migrations.migrate(db) == []
        db.execute("COMMIT")
    finally:
        db.close()
    with Store.open(db_path) as again:
        assert again.full_text
    db = sqlite3.connect(db_path)
    try:
        assert migrations.applied_migrations(db) == names
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        db.close()


def test_connection_settings(store: Store) -> None:
    db = store._conn
    assert db is not None
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_database_and_folder_are_owner_only(store: Store, db_path: Path) -> None:
    store.add_message(store.create_conversation("openai", "m", None), Message("user", "hi"))
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    for name in (db_path, db_path.with_name("history.db-wal"), db_path.with_name("history.db-shm")):
        assert stat.S_IMODE(name.stat().st_mode) == 0o600, name


def test_an_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.touch()
    os.chmod(path, 0o644)
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_id(1000.0) for _ in range(1000)] + [new_id(1001.0)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)
    assert new_id(5.0) < new_id(2_000_000_000.0)


# -- messages -----------------------------------------------------------------------------


def test_every_message_field_round_trips(store: Store) -> None:
    cid = store.create_conversation("openai", "gpt-test", "Be brief.")
    user = Message("user", "What is 2+2?\nShow work.")
    reply = Message(
        role="assistant",
        content="4",
        reasoning="2 plus 2",
        refusal="partly refused",
        tool_calls=[ToolCall("call_1", "calc", '{"a": 2, "b": 2}'), ToolCall("call_2", "x", "{bad")],
        finish_reason="tool_calls",
        raw_finish_reason="tool_use",
        usage=Usage(10, 5, 15, cached_tokens=3, reasoning_tokens=2, cache_write_tokens=4),
        error=None,
        ttft=0.25,
        duration=1.75,
        provider="openai",
        model="gpt-test-2",
    )
    tool = Message("tool", '{"result": 4}', tool_call_id="call_1")
    failed = Message("assistant", "part", finish_reason="error", error="openai: HTTP 500: boom")
    originals = [user, reply, tool, failed]
    ids = [store.add_message(cid, m) for m in originals]

    summary, conversation = store.load_conversation(cid)
    assert conversation.system == "Be brief."
    assert summary.message_count == 4
    assert summary.title == "What is 2+2?"
    for original, message_id, loaded in zip(originals, ids, conversation.messages, strict=True):
        assert loaded.id == message_id
        assert loaded.created_at is not None and loaded.created_at.tzinfo is not None
        assert loaded == dataclasses.replace(original, id=message_id, created_at=loaded.created_at)


def test_add_message_to_a_missing_conversation(store: Store) -> None:
    with pytest.raises(ConversationNotFound):
        store.add_message("01NOPE", Message("user", "hi"))


def test_title_defaults_to_the_first_user_line_trimmed(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "\n   Please   explain " + "word " * 30 + "\nline two"))
    store.add_message(cid, Message("user", "second message is not the title"))
    title = store.list_conversations()[0].title
    assert title is not None and title.startswith("Please explain word") and title.endswith("…")
    assert len(title) <= 60
    named = store.create_conversation("openai", "m", None, title="  My title ")
    store.add_message(named, Message("user", "something else"))
    assert store.load_conversation(named)[0].title == "My title"


# -- write-ahead replies ------------------------------------------------------------------


def test_write_ahead_begin_save_partial_finish(store: Store) -> None:
    cid = store.create_conversation("openai", "old-model", None)
    store.add_message(cid, Message("user", "tell me"))
    mid = store.begin_reply(cid, "groq", "new-model")

    streaming = store.load_conversation(cid)[1].messages[-1]
    assert (streaming.id, streaming.role, streaming.content, streaming.finish_reason) == (
        mid, "assistant", "", None)
    assert (streaming.provider, streaming.model) == ("groq", "new-model")
    summary = store.list_conversations()[0]
    assert (summary.provider, summary.model) == ("groq", "new-model")

    assert store.save_partial(mid, "Once upon", "thinking...")
    partial = store.load_conversation(cid)[1].messages[-1]
    assert (partial.content, partial.reasoning, partial.finish_reason) == ("Once upon", "thinking...", None)

    store.finish_reply(mid, Message("assistant", "Once upon a time", reasoning="thinking...",
                                    finish_reason="cancelled", ttft=0.5, duration=2.0))
    final = store.load_conversation(cid)[1].messages[-1]
    assert (final.content, final.finish_reason, final.usage, final.duration) == (
        "Once upon a time", "cancelled", None, 2.0)
    assert final.model == "new-model"

    assert store.save_partial(mid, "late timer tick", "") is False
    assert store.load_conversation(cid)[1].messages[-1].content == "Once upon a time"


def test_finish_reply_with_an_error_keeps_the_partial_and_the_message(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    store.save_partial(mid, "half an ans", "")
    store.finish_reply(mid, Message("assistant", "half an answer", finish_reason="error",
                                    error="interrupted: openai: connection dropped"))
    final = store.load_conversation(cid)[1].messages[0]
    assert (final.content, final.finish_reason, final.error) == (
        "half an answer", "error", "interrupted: openai: connection dropped")


def test_recovery_spares_live_replies_and_finalizes_stale_ones(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        mid = store.begin_reply(cid, "openai", "m")
        store.save_partial(mid, "still going", "")
        clock.now += 5
        assert store.recover_interrupted() == 0  # saved 5 s ago: alive in its process
        clock.now += 6
        assert store.recover_interrupted() == 1
        message = store.load_conversation(cid)[1].messages[0]
        assert (message.content, message.finish_reason, message.error) == (
            "still going", "error", INTERRUPTED)
        # The process was only suspended (Ctrl-Z): its next save revives the row ...
        assert store.save_partial(mid, "still going strong", "")
        assert store.load_conversation(cid)[1].messages[0].finish_reason is None
        # ... and its finish is final.
        store.finish_reply(mid, Message("assistant", "done", finish_reason="stop"))
        message = store.load_conversation(cid)[1].messages[0]
        assert (message.content, message.finish_reason, message.error) == ("done", "stop", None)
        clock.now += 60
        assert store.recover_interrupted() == 0


KILLED_WRITER = """
    import sys, time
    from pathlib import Path
    from llmchat.chat.models import Message
    from llmchat.store import Store
    store = Store.open(Path(sys.argv[1]))
    cid = store.create_conversation("fake", "m", None)
    store.add_message(cid, Message("user", "count for me"))
    mid = store.begin_reply(cid, "fake", "m")
    print(cid, mid, flush=True)
    text = ""
    i = 0
    while True:
        text += f"w{i} "
        store.save_partial(mid, text, "r" * i)
        print(i, flush=True)
        i += 1
        time.sleep(0.002)
"""


def test_a_killed_process_leaves_its_partial_reply_marked_interrupted(db_path: Path) -> None:
    Store.open(db_path).close()
    child = _run(KILLED_WRITER, str(db_path))
    assert child.stdout is not None
    try:
        header = child.stdout.readline().split()
        assert len(header) == 2, child.stderr.read() if child.stderr else ""
        cid, mid = header
        last = -1
        while last < 30:
            last = int(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    with Store.open(db_path) as fresh:  # within 10 s of the last save: left alone
        assert fresh.recovered == 0
        assert fresh.load_conversation(cid)[1].messages[-1].finish_reason is None
    with Store.open(db_path, clock=lambda: time.time() + 60) as later:
        assert later.recovered == 1
        message = later.load_conversation(cid)[1].messages[-1]
    assert message.id == mid
    saved = len(message.content.split())
    assert saved >= last + 1  # every save reported before the kill survived
    assert message.content == "".join(f"w{i} " for i in range(saved))
    assert message.reasoning == "r" * (saved - 1)
    assert (message.finish_reason, message.error) == ("error", INTERRUPTED)


CONCURRENT_WRITER = """
    import sys, time
    from pathlib import Path
    from llmchat.chat.models import Message
    from llmchat.store import Store
    path, name, shared, ready, go = sys.argv[1:]
    store = Store.open(Path(path))
    own = store.create_conversation("fake", name, None)
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.001)
    for i in range(200):
        store.add_message(own, Message("user", f"{name} own {i}"))
        store.add_message(shared, Message("user", f"{name} shared {i}"))
    print(own, flush=True)
"""


def test_two_processes_writing_at_once_lose_nothing(db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        shared = store.create_conversation("fake", "m", None)
    go = tmp_path / "go"
    names = ("alpha", "beta")
    children = [
        _run(CONCURRENT_WRITER, str(db_path), name, shared, str(tmp_path / f"ready-{name}"), str(go))
        for name in names
    ]
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"ready-{n}").exists() for n in names):
        assert time.monotonic() < deadline, [c.communicate() for c in children if c.poll() is not None]
        time.sleep(0.005)
    go.touch()
    outputs = [child.communicate(timeout=60) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert err == ""

    with Store.open(db_path) as store:
        for name, (out, _) in zip(names, outputs, strict=True):
            own = store.load_conversation(out.strip())[1].messages
            assert [m.content for m in own] == [f"{name} own {i}" for i in range(200)]
        summary, conversation = store.load_conversation(shared)
        assert summary.message_count == 400
        texts = [m.content for m in conversation.messages]
        for name in names:
            assert [t for t in texts if t.startswith(name)] == [f"{name} shared {i}" for i in range(200)]
        page = store.load_messages(shared, limit=400)
        assert page.first_position == 0 and not page.has_more


# -- listing, loading, renaming, deleting --------------------------------------------------


def test_list_is_newest_first_with_counts_and_paging(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        assert store.list_conversations() == []
        assert store.latest_conversation_id() is None
        with pytest.raises(ConversationNotFound):
            store.load_conversation("latest")
        ids = []
        for n in range(5):
            clock.now += 1
            cid = store.create_conversation("openai", f"m{n}", None)
            store.add_message(cid, Message("user", f"question {n}"))
            ids.append(cid)
        clock.now += 1
        store.add_message(ids[1], Message("user", "bump"))  # activity moves it to the top
        listed = store.list_conversations()
        assert [s.id for s in listed] == [ids[1], ids[4], ids[3], ids[2], ids[0]]
        assert [s.message_count for s in listed] == [2, 1, 1, 1, 1]
        assert listed[0].created_at < listed[0].updated_at
        assert [s.id for s in store.list_conversations(limit=2, offset=1)] == [ids[4], ids[3]]
        assert store.latest_conversation_id() == ids[1]
        assert store.load_conversation("latest")[0].id == ids[1]
        assert store.resolve(ids[2][:20].lower()) == ids[2]
        with pytest.raises(ConversationNotFound, match="several"):
            store.resolve(ids[0][:5])
        with pytest.raises(ConversationNotFound, match="no conversation matches"):
            store.resolve("ZZZZ-nope")


def test_lazy_loading_pages_back_from_the_newest(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    for n in range(120):
        store.add_message(cid, Message("user" if n % 2 == 0 else "assistant", f"m{n}"))
    page = store.load_messages(cid, limit=50)
    assert [m.content for m in page.messages] == [f"m{n}" for n in range(70, 120)]
    assert (page.first_position, page.has_more) == (70, True)
    page = store.load_messages(cid, limit=50, before_position=page.first_position)
    assert [m.content for m in page.messages] == [f"m{n}" for n in range(20, 70)]
    page = store.load_messages(cid, limit=50, before_position=page.first_position)
    assert [m.content for m in page.messages] == [f"m{n}" for n in range(20)]
    assert (page.first_position, page.has_more) == (0, False)
    assert store.load_messages(cid, limit=50, before_position=0).messages == []


def test_rename(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "original question"))
    store.rename(cid, "  Better\nname ")
    assert store.load_conversation(cid)[0].title == "Better name"
    assert store.search("better")[0].conversation_id == cid
    store.rename("latest", "")
    assert store.load_conversation(cid)[0].title == "original question"
    with pytest.raises(ConversationNotFound):
        store.rename("01NOPE", "x")


def test_delete_cascades_to_messages_and_the_index(store: Store, db_path: Path) -> None:
    keep = store.create_conversation("openai", "m", None)
    store.add_message(keep, Message("user", "keep this pelican"))
    gone = store.create_conversation("openai", "m", None)
    store.add_message(gone, Message("user", "drop this pelican"))
    store.finish_reply(store.begin_reply(gone, "openai", "m"), Message("assistant", "pelican!"))
    store.delete(gone)
    with pytest.raises(ConversationNotFound):
        store.load_conversation(gone)
    assert [s.id for s in store.list_conversations()] == [keep]
    assert {h.conversation_id for h in store.search("pelican")} == {keep}
    db = sqlite3.connect(db_path)
    try:
        count = db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (gone,))
        assert count.fetchone() == (0,)
        db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    finally:
        db.close()
    with pytest.raises(ConversationNotFound):
        store.delete(gone)


# -- search -------------------------------------------------------------------------------


def _filled(store: Store) -> dict[str, str]:
    ids = {}
    for title, texts in {
        "Rust lifetimes": ["How do lifetimes work in Rust?", "Lifetimes name how long a borrow lives."],
        "Cooking": ["A recipe for crème brûlée please", "Heat the cream; whisk the yolks."],
        "Mixed": ["rust on my bike", "Rust rust rust: remove rust with vinegar."],
    }.items():
        cid = store.create_conversation("openai", "m", None, title=title)
        for n, text in enumerate(texts):
            store.add_message(cid, Message("user" if n == 0 else "assistant", text))
        ids[title] = cid
    return ids


def test_search_finds_words_ranks_and_highlights(store: Store) -> None:
    ids = _filled(store)
    assert store.full_text
    hits = store.search("rust")
    assert hits[0].message_id is None and hits[0].conversation_id == ids["Rust lifetimes"]
    messages = [h for h in hits if h.message_id is not None]
    assert messages[0].snippet == "Rust rust rust: remove rust with vinegar."  # most occurrences
    assert [messages[0].snippet[a:b] for a, b in messages[0].highlights] == ["Rust", "rust", "rust", "rust"]
    assert {h.conversation_id for h in messages} == {ids["Mixed"], ids["Rust lifetimes"]}
    brulee = store.search("creme brulee")  # every word, any case, diacritics folded
    assert [(h.conversation_id, h.position) for h in brulee] == [(ids["Cooking"], 0)]
    assert store.search("lifetimes borrow")[0].position == 1
    assert store.search("rust", limit=2) == hits[:2]
    assert store.search("") == [] and store.search("   ") == []


def test_search_sees_partial_and_final_reply_text(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    store.save_partial(mid, "first draft about zebras", "")
    assert [h.message_id for h in store.search("zebras")] == [mid]
    store.finish_reply(mid, Message("assistant", "final text about giraffes", finish_reason="stop"))
    assert store.search("zebras") == []
    assert [h.message_id for h in store.search("giraffes")] == [mid]
    assert store._conn is not None
    store._conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


def test_calls_from_several_threads_are_serialized(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)

    def write(n: int) -> None:
        for i in range(50):
            store.add_message(cid, Message("user", f"thread {n} message {i}"))
            store.search("message")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert store.load_conversation(cid)[0].message_count == 200


NASTY = ['"', '""', "'", "AND", "OR", "NOT", "a AND", "NEAR(a b)", "NEAR", "*", "a*", "^a", "(", ")",
         "-", "a:b", "title:rust", "{a b}", "\\", "%", "_", "rust\x00x", "🙂", 'rust" OR "x', "+ -"]


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "like"])
def test_search_treats_user_input_as_plain_words(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, fts: bool
) -> None:
    if not fts:
        monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    with Store.open(db_path) as store:
        assert store.full_text is fts
        cid = store.create_conversation("openai", "m", None, title="quotes")
        store.add_message(cid, Message("user", 'She said "NEAR" AND left; 100% of a_b * rust'))
        for query in NASTY:
            store.search(query)  # never raises
        assert store.search('"near"') and store.search("AND") and store.search("100%")
        assert store.search("100%x") == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=30))
def test_any_text_is_a_valid_fts_query(text: str) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO t VALUES ('some text')")
    query = fts_query(text)
    if query is not None:
        db.execute("SELECT * FROM t WHERE t MATCH ?", (query,)).fetchall()


def test_the_like_fallback_searches_and_the_index_is_built_later(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "fts5_available", lambda db: False)
        with Store.open(db_path) as store:
            assert not store.full_text
            ids = _filled(store)
            hits = store.search("LIFETIMES rust")
            assert {h.conversation_id for h in hits} == {ids["Rust lifetimes"]}
            assert hits[0].message_id is None  # the title
            message_hit = hits[1]
            assert [message_hit.snippet[a:b] for a, b in message_hit.highlights] == ["lifetimes", "Rust"]
    with Store.open(db_path) as store:  # an SQLite with FTS5 indexes the existing rows
        assert store.full_text
        assert len(store.search("vinegar")) == 1


# -- export -------------------------------------------------------------------------------


def _exportable(store: Store) -> str:
    cid = store.create_conversation("openai", "gpt-test", "You are terse.")
    store.add_message(cid, Message("user", "Write a haiku\nabout tea"))
    mid = store.begin_reply(cid, "openai", "gpt-test")
    reply = Message("assistant", "Steam curls\n```py\nprint(1)\n```", reasoning="tea...\nhaiku",
                    finish_reason="stop", raw_finish_reason="stop", usage=Usage(12, 7, 19),
                    ttft=0.2, duration=1.25)
    store.finish_reply(mid, reply)
    store.add_message(cid, Message("user", "longer"))
    mid = store.begin_reply(cid, "openai", "gpt-test")
    store.finish_reply(mid, Message("assistant", "Steam", finish_reason="cancelled"))
    return cid


def test_export_json(store: Store) -> None:
    cid = _exportable(store)
    data = json.loads(store.export(cid, format="json"))
    assert {k: data[k] for k in ("id", "title", "provider", "model", "system_prompt")} == {
        "id": cid, "title": "Write a haiku", "provider": "openai", "model": "gpt-test",
        "system_prompt": "You are terse.",
    }
    assert data["created_at"].endswith("Z") and data["updated_at"] >= data["created_at"]
    roles = [(m["role"], m["finish_reason"]) for m in data["messages"]]
    assert roles == [("user", None), ("assistant", "stop"), ("user", None), ("assistant", "cancelled")]
    reply = data["messages"][1]
    assert reply["content"] == "Steam curls\n```py\nprint(1)\n```"
    assert reply["reasoning"] == "tea...\nhaiku"
    assert reply["usage"] == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19,
                              "cached_tokens": None, "cache_write_tokens": None, "reasoning_tokens": None}
    assert data["messages"][3]["usage"] is None  # never invented zeros
    assert all(m["created_at"].endswith("Z") for m in data["messages"])


def test_export_markdown(store: Store) -> None:
    cid = _exportable(store)
    text = store.export(cid)
    assert text.startswith("# Write a haiku\n")
    assert "## System\n\nYou are terse." in text
    assert "## User" in text and "Write a haiku\nabout tea" in text
    assert "> tea...\n> haiku" in text
    assert "Steam curls\n```py\nprint(1)\n```" in text
    assert "finish: stop · tokens: 12 in, 7 out, 19 total · first token 0.20 s · duration 1.25 s" in text
    assert "finish: cancelled · usage: not reported" in text
    with pytest.raises(ValueError, match="format"):
        store.export(cid, format="pdf")


# -- failures -----------------------------------------------------------------------------


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable, even for root (chattr +i), and restore it afterwards."""
    mode = stat.S_IMODE(path.stat().st_mode)
    os.chmod(path, 0o500 if path.is_dir() else 0o400)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        os.chmod(path, mode)
        pytest.skip("running as root without chattr: cannot make a file read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, mode)


@pytest.mark.parametrize("target", ["file", "folder"])
def test_a_read_only_database_raises_store_error(db_path: Path, target: str) -> None:
    with Store.open(db_path) as store:
        store.add_message(store.create_conversation("openai", "m", None), Message("user", "hi"))
    with _read_only(db_path if target == "file" else db_path.parent):
        with pytest.raises(StoreError) as caught:
            with Store.open(db_path) as store:
                store.add_message(store.create_conversation("openai", "m", None), Message("user", "x"))
    assert not isinstance(caught.value.__cause__, StoreError)
    assert str(db_path) in str(caught.value)
    assert caught.value.path == db_path


def test_a_folder_that_cannot_be_created_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="history database"):
        Store.open(blocker / "history.db")


def test_a_full_disk_raises_store_error_and_keeps_the_store_usable(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    assert store._conn is not None
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StoreError, match="disk is full") as caught:
        store.add_message(cid, Message("user", "x" * 200_000))
    assert caught.value.code is not None and caught.value.code.startswith("SQLITE_FULL")
    assert store.load_conversation(cid)[0].message_count == 0  # rolled back whole
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    store.add_message(cid, Message("user", "fits now"))
    assert store.load_conversation(cid)[0].message_count == 1


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store.open(path)


def test_a_closed_store_raises_store_error(db_path: Path) -> None:
    store = Store.open(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()


# -- imports ------------------------------------------------------------------


def test_importing_the_store_does_not_import_textual() -> None:
    code = "import sys, llmchat.store; print(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
