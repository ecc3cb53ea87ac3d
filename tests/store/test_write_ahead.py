"""Writing a reply ahead at a cost that does not grow with its length: chunk rows joined once
at the end, the Recorder taking the text from the Accumulator, and the Accumulator keeping
only the text its caller still needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta
from llmchat.store import INTERRUPTED, ConversationNotFound, Store, migrations
from llmchat.store.recorder import SAVE_EVERY, Recorder
from tests.store.conftest import Clock

# Deltas that cross the accumulator's sealing thresholds: non-ASCII, emoji, JSON-ish escapes.
PIECES = ["Naïve ", "café ", "— “quoted” ", "東京 ", "🚀✨ ", 'a "quote" ', "\\ back\tslash\n", "word "]


def deltas(count: int) -> list[str]:
    return [f"{PIECES[i % len(PIECES)]}{i} " for i in range(count)]


def chunk_rows(store: Store, message_id: str) -> int:
    assert store._conn is not None
    return int(store._conn.execute(
        "SELECT count(*) FROM reply_chunks WHERE message_id = ?", (message_id,)).fetchone()[0])


def stored_text(store: Store, message_id: str) -> tuple[str, str, str]:
    """(content, reasoning, state) of the message row itself, chunks not included."""
    assert store._conn is not None
    row = store._conn.execute(
        "SELECT content, reasoning, state FROM messages WHERE id = ?", (message_id,)).fetchone()
    return row[0], row[1], row[2]


# -- the accumulator's text -----------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 511, 512, 513, 3000])
def test_kept_text_reads_back_exactly_across_sealed_blocks(count: int) -> None:
    acc = Accumulator()
    parts = deltas(count) + ["\ud83d"]  # a lone surrogate (half a pair) survives in memory
    for part in parts:
        acc.add(ContentDelta(part))
        acc.add(ReasoningDelta(part[::-1]))
    whole = "".join(parts)
    assert acc.content == whole and acc.content_length == len(whole)
    assert acc.reasoning == "".join(p[::-1] for p in parts)
    assert "".join(acc.content_chunks()) == whole
    assert max(map(len, acc.content_chunks())) <= 2 * 65536
    assert acc.message().content == whole
    assert acc.message(text=False).content == "" and acc.message(text=False).reasoning == ""


def taken_text(acc: Accumulator) -> str:
    """The content :meth:`Accumulator.take_utf8` hands out, decoded."""
    return b"".join(acc.take_utf8()[0]).decode()


def test_take_utf8_hands_out_each_part_once_and_keep_keeps_it() -> None:
    acc = Accumulator()
    parts = deltas(1200)
    taken = []
    for i, part in enumerate(parts):
        acc.add(ContentDelta(part))
        if i % 250 == 0:
            taken.append(taken_text(acc))
    taken.append(taken_text(acc))
    assert "".join(taken) == "".join(parts) == acc.content
    assert acc.take_utf8() == ([], [])


def test_until_taken_forgets_what_it_handed_out() -> None:
    acc = Accumulator(text="until_taken")
    parts = deltas(2000)
    saved: list[bytes] = []
    for i, part in enumerate(parts):
        acc.add(ContentDelta(part))
        if i % 700 == 0:
            content, reasoning = acc.take_utf8()
            saved += content
            assert reasoning == [] and acc.content == ""  # nothing kept once taken
    acc.add(ContentDelta("\ud83d end"))  # a lone surrogate cannot be stored: it becomes "?"
    assert acc.content == "".join(parts[1401:]) + "\ud83d end"  # kept until taken
    saved += acc.take_utf8()[0]
    assert b"".join(saved).decode() == "".join(parts) + "? end"
    assert acc.content_length == len("".join(parts)) + 5
    assert acc.message().content == ""


def test_drop_keeps_no_text_but_everything_else() -> None:
    acc = Accumulator(text="drop")
    acc.start()
    for part in deltas(1000):
        acc.add(ContentDelta(part))
    acc.add(ReasoningDelta("hmm"))
    acc.add(Finish("stop", "stop"))
    assert acc.content == "" and acc.reasoning == "" and acc.take_utf8() == ([], [])
    assert acc.content_length == len("".join(deltas(1000))) and acc.deltas == 1001
    message = acc.message()
    assert (message.content, message.finish_reason) == ("", "stop")
    assert acc.stats().output_tokens == 1001


# -- chunk rows -------------------------------------------------------------------------------


def test_appends_go_to_chunk_rows_and_are_written_into_the_row_once(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    parts = deltas(300)
    for i in range(0, 300, 30):
        assert store.append_partial(mid, "".join(parts[i:i + 30]), f"r{i} ")
    assert store.append_partial(mid, "", "")  # a heartbeat with no new text adds no row
    assert chunk_rows(store, mid) == 10
    assert stored_text(store, mid) == ("", "", "streaming")  # the row is not rewritten per save
    # Another process reading meanwhile sees the text saved so far.
    streaming = store.load_conversation(cid)[1].messages[-1]
    assert streaming.content == "".join(parts) and streaming.finish_reason is None
    assert streaming.reasoning == "".join(f"r{i} " for i in range(0, 300, 30))
    assert store.load_messages(cid).messages[-1].content == streaming.content
    assert "東京" in store.export(cid)

    store.finish_reply(mid, Message("assistant", "ignored", finish_reason="stop"), keep_text=True)
    final = store.load_conversation(cid)[1].messages[-1]
    assert (final.content, final.reasoning, final.finish_reason) == (
        streaming.content, streaming.reasoning, "stop")
    assert chunk_rows(store, mid) == 0
    assert stored_text(store, mid) == (streaming.content, streaming.reasoning, "final")
    assert [h.message_id for h in store.search("東京")] == [mid]
    assert store._conn is not None
    store._conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    assert store.append_partial(mid, "late", "") is False  # final: a late tick changes nothing
    assert chunk_rows(store, mid) == 0


def test_finish_with_the_whole_text_drops_the_chunks(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    store.append_partial(mid, "draft ", "")
    store.append_partial(mid, "text", "")
    store.finish_reply(mid, Message("assistant", "the whole text", finish_reason="stop"))
    assert store.load_conversation(cid)[1].messages[-1].content == "the whole text"
    assert chunk_rows(store, mid) == 0


def test_recovery_joins_the_chunks_and_a_revived_reply_goes_on_after_them(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        mid = store.begin_reply(cid, "openai", "m")
        store.append_partial(mid, "one ", "think ")
        store.append_partial(mid, "two ", "")
        clock.now += 11
        assert store.recover_interrupted() == 1
        message = store.load_conversation(cid)[1].messages[-1]
        assert (message.content, message.reasoning, message.error) == ("one two ", "think ", INTERRUPTED)
        assert chunk_rows(store, mid) == 0
        # The process was only suspended: it goes on appending, then finishes.
        assert store.append_partial(mid, "three", "")
        assert store.load_conversation(cid)[1].messages[-1].content == "one two three"
        store.finish_reply(mid, Message("assistant", "", finish_reason="stop"), keep_text=True)
        message = store.load_conversation(cid)[1].messages[-1]
        assert (message.content, message.finish_reason, message.error) == ("one two three", "stop", None)


def test_a_killed_writer_leaves_chunks_that_the_next_open_recovers(db_path: Path) -> None:
    with Store.open(db_path) as store:
        cid = store.create_conversation("openai", "m", None)
        mid = store.begin_reply(cid, "openai", "m")
        for part in deltas(50):
            store.append_partial(mid, part, "")
        store._conn.close()  # type: ignore[union-attr]  # as a killed process would: no finish
        store._conn = None
    with Store.open(db_path, clock=lambda: 2e9) as later:
        assert later.recovered == 1
        message = later.load_conversation(cid)[1].messages[-1]
    assert message.content == "".join(deltas(50)) and message.error == INTERRUPTED


def test_deleting_a_conversation_deletes_its_chunks(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    store.append_partial(mid, "text", "")
    store.delete(cid)
    assert chunk_rows(store, mid) == 0
    with pytest.raises(ConversationNotFound):
        store.load_conversation(cid)


def test_an_older_database_gets_the_chunks_table_and_keeps_its_streaming_text(db_path: Path) -> None:
    """A database written before reply_chunks existed, with a reply left streaming whose
    partial text sits in the row itself: it opens, and new text goes after the old."""
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path, isolation_level=None)
    older = [(name, fn) for name, fn in migrations.MIGRATIONS if name != "reply_chunks"]
    db.execute("BEGIN IMMEDIATE")
    original = migrations.MIGRATIONS[:]
    migrations.MIGRATIONS[:] = older
    try:
        migrations.migrate(db)
    finally:
        migrations.MIGRATIONS[:] = original
    db.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES ('C1', '2030-01-01T00:00:00.000Z',"
               " '2030-01-01T00:00:00.000Z')")
    db.execute("INSERT INTO messages (id, conversation_id, position, role, content, state, created_at,"
               " updated_at) VALUES ('M1', 'C1', 0, 'assistant', 'old partial ', 'streaming',"
               " '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')")
    db.execute("COMMIT")
    db.close()
    with Store.open(db_path, clock=lambda: 1_893_456_000.0) as store:  # 2030-01-01, not stale
        assert store.recovered == 0
        assert store.append_partial("M1", "and new", "")
        assert store.load_conversation("C1")[1].messages[0].content == "old partial and new"
        store.finish_reply("M1", Message("assistant", "", finish_reason="stop"), keep_text=True)
        assert store.load_conversation("C1")[1].messages[0].content == "old partial and new"
        assert store.search("partial")[0].message_id == "M1"


def test_a_save_costs_the_new_text_not_the_whole_reply(store: Store) -> None:
    """Pages written to the WAL per save stay flat as the reply grows (appending to the row
    itself rewrote the whole row, and re-indexed it, at every save)."""
    assert store._conn is not None
    store._conn.execute("PRAGMA wal_autocheckpoint = 0")
    cid = store.create_conversation("openai", "m", None)
    mid = store.begin_reply(cid, "openai", "m")
    text = "".join(deltas(20_000))[:200_000]  # 200 K characters a save, 40 saves: 8 M in all

    def frames() -> int:
        """Checkpoint, and return how many frames the WAL held (the next write restarts it)."""
        assert store._conn is not None
        return int(store._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])

    frames()
    costs = []
    for _ in range(40):
        store.append_partial(mid, text, "")
        costs.append(frames())
    assert max(costs[-5:]) <= 1.5 * max(costs[:5]), costs
    store.finish_reply(mid, Message("assistant", "", finish_reason="stop"), keep_text=True)
    assert store.load_conversation(cid)[1].messages[-1].content == text * 40


# -- the recorder -----------------------------------------------------------------------------


class MonoClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _recording(store: Store, clock: MonoClock) -> Recorder:
    recorder = Recorder(store, lambda message: pytest.fail(message), clock=clock)
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "go"))
    recorder.begin_reply("openai", "m")
    return recorder


@pytest.mark.parametrize("policy", ["keep", "until_taken"])
def test_recorder_saves_once_a_second_and_finishes_from_the_accumulator(store: Store, policy: str) -> None:
    clock = MonoClock()
    recorder = _recording(store, clock)
    acc = Accumulator(clock, text=policy)  # type: ignore[arg-type]
    acc.start()
    parts = deltas(3000)
    for i, part in enumerate(parts):
        acc.add(ContentDelta(part))
        if i % 100 == 0:
            clock.now += 0.25
            recorder.heartbeat(acc)
    assert recorder.conversation_id is not None
    saved = store.load_conversation(recorder.conversation_id)[1].messages[-1]
    assert saved.finish_reason is None and "".join(parts).startswith(saved.content)
    assert len(saved.content) > len("".join(parts)) * 0.8  # all but the last second's text
    if policy == "until_taken":
        assert len(acc.content) < len("".join(parts)) * 0.2  # the saved text is not kept
    acc.add(Finish("stop", "stop"))
    recorder.finish(acc.message(text=False), acc)
    final = store.load_conversation(recorder.conversation_id)[1].messages[-1]
    assert (final.content, final.finish_reason) == ("".join(parts), "stop")


def test_recorder_finish_from_a_message_appends_only_the_unsaved_rest(store: Store) -> None:
    clock = MonoClock()
    recorder = _recording(store, clock)
    acc = Accumulator(clock)
    acc.start()
    acc.add(ContentDelta("saved part, "))
    clock.now += SAVE_EVERY
    recorder.heartbeat(acc)
    acc.add(ContentDelta("the rest"))
    acc.add(Finish("stop", "stop"))
    recorder.heartbeat(acc)  # the stream ended: a late tick saves nothing
    recorder.finish(acc.message())  # the TUI's call
    assert recorder.conversation_id is not None
    assert store.load_conversation(recorder.conversation_id)[1].messages[-1].content == "saved part, the rest"


def test_recorder_without_a_store_takes_the_text_so_it_is_not_kept() -> None:
    clock = MonoClock()
    recorder = Recorder(None, lambda message: None, clock=clock)
    recorder.begin_reply("openai", "m")
    acc = Accumulator(clock, text="until_taken")
    acc.add(ContentDelta("x" * 1000))
    clock.now += SAVE_EVERY
    recorder.heartbeat(acc)
    assert acc.content == "" and not recorder.recording


# -- forgetting messages that left the conversation (/retry, /edit) -------------------------------


def test_forgotten_messages_leave_the_history_and_its_search(store: Store) -> None:
    recorder = Recorder(store, on_error=pytest.fail)
    recorder.open(None, "openai", "m", None)
    question = Message("user", "what is a zebra")
    recorder.user(question)
    recorder.begin_reply("openai", "m")
    first = Accumulator()
    first.add(ContentDelta("a striped horse, quagga-like"))
    first.add(Finish("stop"))
    answer = first.message()
    recorder.finish(answer)
    assert question.id and answer.id  # the store's ids are on the messages now
    recorder.begin_reply("openai", "m")
    chunked = Accumulator()
    chunked.add(ContentDelta("half of a second quagga answer"))
    recorder.heartbeat(chunked)  # may leave chunk rows behind: they go too
    second = chunked.message()
    recorder.finish(second)

    recorder.forget([answer, second, Message("assistant", "never stored")])

    assert recorder.conversation_id is not None
    _, conversation = store.load_conversation(recorder.conversation_id)
    assert [(m.role, m.content) for m in conversation.messages] == [("user", "what is a zebra")]
    assert not any(hit for hit in store.search("quagga"))
    assert store.delete_messages([]) == 0
