"""Conversations as trees in the store: the migration of a release's database, paths,
siblings and the current leaf."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import ConversationNotFound, Store
from llmchat.store.migrations import schema_version

FIXTURE = Path(__file__).parent / "fixtures" / "history_release.db"


def _reply(store: Store, cid: str, text: str, parent: str | None = None) -> str:
    mid = store.begin_reply(cid, "p", "m") if parent is None else store.begin_reply(cid, "p", "m", parent)
    store.finish_reply(mid, Message("assistant", text, finish_reason="stop"))
    return mid


def test_release_database_migrates_in_place_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    shutil.copy(FIXTURE, path)
    before = sqlite3.connect(path)
    assert before.execute("PRAGMA user_version").fetchone()[0] == 5
    rows_before = before.execute(
        "SELECT id, conversation_id, position, role, content, state FROM messages ORDER BY seq"
    ).fetchall()
    before.close()
    assert len(rows_before) == 6

    with Store.open(path) as store:
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version()
        rows_after = db.execute(
            "SELECT id, conversation_id, position, role, content, state FROM messages ORDER BY seq"
        ).fetchall()
        assert [r[:4] for r in rows_after] == [r[:4] for r in rows_before]
        assert [r[4] for r in rows_after[:5]] == [r[4] for r in rows_before[:5]]
        # Each message's parent is the one before it in its conversation; roots have none.
        parents = dict(db.execute("SELECT id, parent_id FROM messages").fetchall())
        by_conversation: dict[str, list[str]] = {}
        for mid, cid, *_ in rows_before:
            by_conversation.setdefault(cid, []).append(mid)
        for ids in by_conversation.values():
            assert parents[ids[0]] is None
            for previous, current in zip(ids, ids[1:]):
                assert parents[current] == previous
        db.close()
        summaries = store.list_conversations()
        assert len(summaries) == 3
        first = next(s for s in summaries if s.message_count == 4)
        _, conversation = store.load_conversation(first.id)
        assert [m.content for m in conversation.messages] == [
            "first question", "first answer", "second question", "second answer"]
        assert conversation.system == "be brief"
        assert store.current_leaf(first.id) == by_conversation[first.id][-1]
        # The reply left streaming by the release keeps its saved text (marked interrupted).
        other = next(s for s in summaries if s.message_count == 2)
        _, streamed = store.load_conversation(other.id)
        assert streamed.messages[-1].content == "partial text"
        # Search still finds the old text, and new messages continue the old path.
        assert store.search("second question")
        store.add_message(first.id, Message("user", "third question"))
        _, after = store.load_conversation(first.id)
        assert [m.content for m in after.messages][-2:] == ["second answer", "third question"]
    with Store.open(path) as again:  # opening twice migrates once
        assert again.load_conversation(first.id)[1].messages[-1].content == "third question"


def test_regenerated_answer_is_a_sibling_and_the_path_follows_the_leaf(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    q1 = store.add_message(cid, Message("user", "q1"))
    a1 = _reply(store, cid, "a1")
    q2 = store.add_message(cid, Message("user", "q2"))
    a2 = _reply(store, cid, "a2")
    a2b = _reply(store, cid, "a2 again", parent=q2)
    assert store.siblings(a2) == [a2, a2b]
    assert store.children(q2) == [a2, a2b]
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q1", "a1", "q2", "a2 again"]
    assert store.set_current_leaf(a2) == a2
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q1", "a1", "q2", "a2"]
    # An edited question is a sibling of the old one; the old branch stays whole.
    q2b = store.add_message(cid, Message("user", "q2 edited"), parent_id=a1)
    a3 = _reply(store, cid, "a3")
    assert store.siblings(q2) == [q2, q2b]
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q1", "a1", "q2 edited", "a3"]
    # Switching to the old question descends to the newest answer under it.
    assert store.set_current_leaf(q2) == a2b
    assert [m.content for m in store.path_to(a2)] == ["q1", "a1", "q2", "a2"]
    assert len(store.tree_edges(cid)) == 7
    assert dict(store.tree_edges(cid))[a3] == q2b
    assert store.list_conversations()[0].message_count == 7
    # A new root (the first question edited).
    r = store.add_message(cid, Message("user", "q1 edited"), parent_id=None)
    assert store.siblings(q1) == [q1, r]
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q1 edited"]
    assert q1 and a3


def test_load_messages_pages_along_the_current_path(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    q = store.add_message(cid, Message("user", "q"))
    _reply(store, cid, "old")
    _reply(store, cid, "new", parent=q)
    store.add_message(cid, Message("user", "more"))
    page = store.load_messages(cid, limit=2)
    assert [m.content for m in page.messages] == ["new", "more"] and page.has_more
    older = store.load_messages(cid, limit=2, before_position=page.first_position)
    assert [m.content for m in older.messages] == ["q"] and not older.has_more


def test_deleting_a_message_keeps_the_tree_whole(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    store.add_message(cid, Message("user", "q"))
    a = _reply(store, cid, "a")
    store.add_message(cid, Message("user", "q2"))
    store.delete_messages([a])
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q", "q2"]
    last = store.current_leaf(cid)
    assert last is not None
    store.delete_messages([last])
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q"]


def test_unknown_messages_are_a_clear_error(store: Store) -> None:
    cid = store.create_conversation("p", "m", None)
    with pytest.raises(ConversationNotFound, match="no message"):
        store.siblings("NOPE")
    with pytest.raises(ConversationNotFound, match="no message"):
        store.set_current_leaf("NOPE")
    with pytest.raises(ConversationNotFound, match="no message"):
        store.add_message(cid, Message("user", "x"), parent_id="NOPE")
    assert store.load_conversation(cid)[1].messages == []


def test_a_damaged_parent_cycle_does_not_hang(store: Store, db_path: Path) -> None:
    cid = store.create_conversation("p", "m", None)
    a = store.add_message(cid, Message("user", "a"))
    b = store.add_message(cid, Message("user", "b"))
    db = sqlite3.connect(db_path)
    db.execute("UPDATE messages SET parent_id = ? WHERE id = ?", (b, a))
    db.commit()
    db.close()
    messages = store.load_conversation(cid)[1].messages
    assert 1 <= len(messages) <= 4
    assert store.set_current_leaf(a) in {a, b}


def test_a_read_only_release_database_reads_as_one_path(tmp_path: Path) -> None:
    """A data directory llmchat may not write, holding a release's database: nothing is
    migrated, and loading, paging and exporting read it as the linear history it is."""
    path = tmp_path / "history.db"
    shutil.copy(FIXTURE, path)
    with Store.open(path, read_only=True) as store:
        summary = next(s for s in store.list_conversations() if s.message_count == 4)
        _, conversation = store.load_conversation(summary.id)
        assert [m.content for m in conversation.messages][-1] == "second answer"
        assert [m.content for m in store.load_messages(summary.id, limit=2).messages] == [
            "second question", "second answer"]
        exported = store.export(summary.id, "json")
        assert '"second answer"' in exported and '"tree"' not in exported
        assert "other branch" not in store.export(summary.id, "md")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    db.close()
