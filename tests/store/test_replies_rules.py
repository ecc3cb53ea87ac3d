"""Writing a reply ahead (llmchat/store/replies.py), rule by rule: which rows a save may still
change (only a streaming one, or one wrongly marked interrupted), the heartbeat, how chunk
rows are made and joined (in bytes, in order, onto text already in the row), what
`finish_reply` stores and whose provider wins, and what recovery touches."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmchat.chat.models import Message, ToolCall
from llmchat.providers.events import Usage
from llmchat.store import INTERRUPTED, ConversationNotFound, Store
from tests.store.conftest import Clock


def chunk_rows(store: Store, message_id: str) -> list[tuple[bytes, bytes]]:
    assert store._conn is not None
    return [(bytes(r[0]), bytes(r[1])) for r in store._conn.execute(
        "SELECT content, reasoning FROM reply_chunks WHERE message_id = ? ORDER BY seq", (message_id,))]


def last(store: Store, cid: str) -> Message:
    return store.load_conversation(cid)[1].messages[-1]


def reply(store: Store) -> tuple[str, str]:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "q"))
    return cid, store.begin_reply(cid, "openai", "m")


# -- which rows a save changes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish_reason", "error", "revived"),
    [
        ("stop", None, False),
        ("cancelled", None, False),
        ("length", None, False),
        ("error", "openai: HTTP 500: boom", False),
        ("error", INTERRUPTED, True),
    ],
)
@pytest.mark.parametrize("save", ["save_partial", "append_partial", "append_chunks"])
def test_only_a_reply_marked_interrupted_comes_back_to_life(
    store: Store, save: str, finish_reason: str, error: str | None, revived: bool
) -> None:
    cid, mid = reply(store)
    store.finish_reply(mid, Message("assistant", "done", finish_reason=finish_reason, error=error))  # type: ignore[arg-type]
    if save == "append_chunks":
        saved = store.append_chunks(mid, [b" more"])
    else:
        saved = getattr(store, save)(mid, " more", "")
    assert saved is revived
    message = last(store, cid)
    if revived:
        assert (message.finish_reason, message.error) == (None, None)
        assert message.content == (" more" if save == "save_partial" else "done more")
    else:
        assert (message.content, message.finish_reason, message.error) == ("done", finish_reason, error)
        assert chunk_rows(store, mid) == []


@pytest.mark.parametrize("save", ["save_partial", "append_partial"])
def test_a_save_to_a_deleted_reply_is_false(store: Store, save: str) -> None:
    cid, mid = reply(store)
    store.delete_messages([mid])
    assert getattr(store, save)(mid, "text", "") is False
    assert store.append_chunks(mid, [b"x"]) is False


def test_a_heartbeat_without_text_keeps_a_reply_alive(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid, mid = reply(store)
        store.append_partial(mid, "some", "")
        clock.now += 9
        assert store.append_partial(mid, "", "")
        assert chunk_rows(store, mid) == [(b"some", b"")]
        clock.now += 9  # 18 s since the text, 9 s since the heartbeat
        assert store.recover_interrupted() == 0
        clock.now += 2
        assert store.recover_interrupted() == 1
        assert (last(store, cid).content, last(store, cid).error) == ("some", INTERRUPTED)


def test_save_partial_replaces_the_text_and_the_chunks_saved_before(store: Store) -> None:
    cid, mid = reply(store)
    store.append_partial(mid, "appended ", "thought ")
    assert store.save_partial(mid, "whole text", "whole thought")
    assert chunk_rows(store, mid) == []
    message = last(store, cid)
    assert (message.content, message.reasoning) == ("whole text", "whole thought")
    assert store.save_partial(mid, "shorter")
    assert (last(store, cid).content, last(store, cid).reasoning) == ("shorter", "")


# -- chunk rows ---------------------------------------------------------------------------


def test_a_chunk_row_per_piece_with_text_padded_and_empty_pairs_skipped(store: Store) -> None:
    cid, mid = reply(store)
    assert store.append_chunks(mid, [b"a", b"", b"c", b"d"], [b"x"])
    assert chunk_rows(store, mid) == [(b"a", b"x"), (b"c", b""), (b"d", b"")]
    assert store.append_chunks(mid, [], [b"y", b"z"])
    assert chunk_rows(store, mid)[3:] == [(b"", b"y"), (b"", b"z")]
    assert store.append_chunks(mid, [b""], [b""])
    assert len(chunk_rows(store, mid)) == 5
    message = last(store, cid)
    assert (message.content, message.reasoning) == ("acd", "xyz")


def test_a_character_split_between_chunks_is_whole_when_read_joined_and_recovered(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid, mid = reply(store)
        e_acute, rocket = "é".encode(), "🚀".encode()
        store.append_chunks(mid, [b"caf" + e_acute[:1], e_acute[1:] + rocket[:2], rocket[2:]],
                            [rocket[:1], rocket[1:]])
        assert (last(store, cid).content, last(store, cid).reasoning) == ("café🚀", "🚀")
        clock.now += 11
        assert store.recover_interrupted() == 1
        assert (last(store, cid).content, last(store, cid).reasoning) == ("café🚀", "🚀")
        assert chunk_rows(store, mid) == []


def test_an_append_without_reasoning_adds_none(store: Store) -> None:
    cid, mid = reply(store)
    assert store.append_partial(mid, "text only")
    assert chunk_rows(store, mid) == [(b"text only", b"")]
    assert store.append_chunks(mid, [b" more"])
    assert (last(store, cid).content, last(store, cid).reasoning) == ("text only more", "")


def test_a_lone_surrogate_is_stored_as_a_question_mark(store: Store) -> None:
    cid, mid = reply(store)
    assert store.append_partial(mid, "half \ud83d pair", "\udc80")
    assert (last(store, cid).content, last(store, cid).reasoning) == ("half ? pair", "?")


@pytest.mark.parametrize("pieces", [0, 1, 2, 5])
def test_keep_text_folds_the_chunks_after_the_text_already_in_the_row(store: Store, pieces: int) -> None:
    cid, mid = reply(store)
    store.save_partial(mid, "saved ", "thought ")
    for n in range(pieces):
        store.append_partial(mid, f"c{n} ", f"r{n} " if n % 2 == 0 else "")
    store.finish_reply(mid, Message("assistant", "not read", reasoning="not read", finish_reason="stop"),
                       keep_text=True)
    message = last(store, cid)
    assert message.content == "saved " + "".join(f"c{n} " for n in range(pieces))
    assert message.reasoning == "thought " + "".join(f"r{n} " for n in range(0, pieces, 2))
    assert message.finish_reason == "stop"
    assert chunk_rows(store, mid) == []


@pytest.mark.parametrize("pieces", [1, 3])
def test_keep_text_on_an_empty_row_is_just_the_chunks(store: Store, pieces: int) -> None:
    cid, mid = reply(store)
    for n in range(pieces):
        store.append_partial(mid, f"c{n}", "")
    store.finish_reply(mid, Message("assistant", "x", finish_reason="stop"), keep_text=True)
    assert (last(store, cid).content, last(store, cid).reasoning) == ("".join(f"c{n}" for n in range(pieces)), "")
    assert chunk_rows(store, mid) == []


# -- finishing ----------------------------------------------------------------------------


def test_finish_stores_every_field_of_the_reply(store: Store) -> None:
    cid, mid = reply(store)
    store.finish_reply(mid, Message(
        "assistant", "answer", reasoning="why", refusal="no", tool_calls=[ToolCall("c1", "calc", "{}")],
        finish_reason="tool_calls", raw_finish_reason="tool_use",
        usage=Usage(0, 0, 0, cached_tokens=0, reasoning_tokens=0, cache_write_tokens=0),
        error=None, ttft=0.5, duration=2.5))
    message = last(store, cid)
    assert (message.id, message.role, message.content, message.reasoning, message.refusal) == (
        mid, "assistant", "answer", "why", "no")
    assert message.tool_calls == [ToolCall("c1", "calc", "{}")]
    assert (message.finish_reason, message.raw_finish_reason, message.error) == ("tool_calls", "tool_use", None)
    assert message.usage == Usage(0, 0, 0, cached_tokens=0, reasoning_tokens=0, cache_write_tokens=0)
    assert (message.ttft, message.duration) == (0.5, 2.5)


@pytest.mark.parametrize(
    ("provider", "model", "stored"),
    [(None, None, ("openai", "m")), ("groq", None, ("groq", "m")), (None, "m2", ("openai", "m2")),
     ("groq", "m2", ("groq", "m2"))],
)
def test_the_finished_message_names_its_provider_and_model_when_it_knows_them(
    store: Store, provider: str | None, model: str | None, stored: tuple[str, str]
) -> None:
    cid, mid = reply(store)
    store.finish_reply(mid, Message("assistant", "a", finish_reason="stop", provider=provider, model=model))
    assert (last(store, cid).provider, last(store, cid).model) == stored


def test_finishing_touches_its_conversation_and_only_it(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid, mid = reply(store)
        other = store.create_conversation("openai", "m", None)
        clock.now += 100
        store.finish_reply(mid, Message("assistant", "a", finish_reason="stop"))
        updated = {s.id: s.updated_at for s in store.list_conversations()}
    assert updated[cid] == datetime.fromtimestamp(clock.now, UTC)
    assert updated[other] == datetime.fromtimestamp(clock.now - 100, UTC)


def test_a_reply_to_a_missing_conversation_is_refused(store: Store) -> None:
    with pytest.raises(ConversationNotFound, match="01NOPE"):
        store.begin_reply("01NOPE", "openai", "m")
    assert store.list_conversations() == []


def test_begin_reply_makes_the_reply_the_conversations_provider_and_model(store: Store) -> None:
    cid, _ = reply(store)
    other = store.create_conversation("anthropic", "claude", None)
    store.begin_reply(cid, "ollama", None)
    summaries = {s.id: (s.provider, s.model) for s in store.list_conversations()}
    assert summaries == {cid: ("ollama", None), other: ("anthropic", "claude")}


# -- recovery -----------------------------------------------------------------------------


def test_recovery_touches_only_stale_streaming_rows_and_counts_them(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid, first = reply(store)
        second = store.begin_reply(cid, "openai", "m")
        finished = store.begin_reply(cid, "openai", "m")
        store.finish_reply(finished, Message("assistant", "fine", finish_reason="stop"))
        store.append_partial(second, "", "only thinking")
        clock.now += 10.5
        assert store.recover_interrupted() == 2
        by_id = {m.id: m for m in store.load_conversation(cid)[1].messages}  # one path: each after the last
    assert (by_id[first].content, by_id[first].error, by_id[first].finish_reason) == ("", INTERRUPTED, "error")
    assert (by_id[second].reasoning, by_id[second].error) == ("only thinking", INTERRUPTED)
    assert (by_id[finished].content, by_id[finished].error, by_id[finished].finish_reason) == ("fine", None, "stop")


def test_the_text_a_recovered_reply_shows(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid, _ = reply(store)
        clock.now += 60
        store.recover_interrupted()
        assert last(store, cid).error == "interrupted: llmchat stopped before the reply finished"
