"""Reading the history (llmchat/store/reading.py), rule by rule: what a reference names (an id,
a unique prefix in any case, "latest"), listing and paging on both sides of each limit, the
path to a message, a day's replies from an instant on, and the export's branch marks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.providers.events import Usage
from llmchat.store import ConversationNotFound, Store
from tests.store.conftest import Clock


def answered(store: Store, cid: str, question: str, answer: str, parent: str | None = None,
             usage: Usage | None = None) -> tuple[str, str]:
    qid = store.add_message(cid, Message("user", question)) if parent is None else store.add_message(
        cid, Message("user", question), parent_id=parent)
    aid = store.begin_reply(cid, "openai", "m")
    store.finish_reply(aid, Message("assistant", answer, finish_reason="stop", usage=usage))
    return qid, aid


# -- references ---------------------------------------------------------------------------


def test_latest_names_the_most_recently_updated_and_ignores_spaces(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        with pytest.raises(ConversationNotFound, match="no conversations in .* yet"):
            store.resolve("latest")
        old = store.create_conversation("openai", "m", None)
        clock.now += 1
        new = store.create_conversation("openai", "m", None)
        assert store.resolve("  latest\n") == new == store.latest_conversation_id()
        clock.now += 1
        store.add_message(old, Message("user", "bump"))
        assert store.resolve("latest") == old == store.latest_conversation_id()


def test_conversations_updated_in_the_same_instant_are_newest_id_first(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        ids = [store.create_conversation("openai", "m", None) for _ in range(3)]
        assert [s.id for s in store.list_conversations()] == ids[::-1]
        assert store.resolve("latest") == ids[2] == store.latest_conversation_id()


def test_an_id_a_unique_prefix_in_any_case_and_what_matches_nothing(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        first = store.create_conversation("openai", "m", None)
        clock.now += 1000  # another millisecond: the ids share only their first characters
        second = store.create_conversation("openai", "m", None)
        shared = next(n for n in range(26) if first[n] != second[n])
        assert store.resolve(first) == first
        assert store.resolve(f" {second.lower()} ") == second
        assert store.resolve(first[: shared + 1].lower()) == first
        assert store.resolve(second[: shared + 1]) == second
        with pytest.raises(ConversationNotFound, match="several conversations start with"):
            store.resolve(first[:shared])
        for nothing in ("Z" * 10, first + "0", first[:5] + "-", "%", "", "~"):
            with pytest.raises(ConversationNotFound, match="no conversation matches"):
                store.resolve(nothing)


# -- listing and paging -------------------------------------------------------------------


def test_list_limits_and_offsets_on_both_sides(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        ids = []
        for _ in range(4):
            clock.now += 1
            ids.append(store.create_conversation("openai", "m", None))
        newest_first = ids[::-1]
        assert [s.id for s in store.list_conversations()] == newest_first
        assert [s.id for s in store.list_conversations(limit=None, offset=1)] == newest_first[1:]
        assert store.list_conversations(limit=0) == []
        assert [s.id for s in store.list_conversations(limit=1)] == newest_first[:1]
        assert [s.id for s in store.list_conversations(limit=4)] == newest_first
        assert [s.id for s in store.list_conversations(limit=5)] == newest_first
        assert [s.id for s in store.list_conversations(limit=2, offset=3)] == newest_first[3:]
        assert store.list_conversations(offset=4) == []


def test_a_summary_counts_every_message_and_keeps_the_system_prompt(store: Store) -> None:
    cid = store.create_conversation("openai", "gpt", "Be brief.")
    q, _ = answered(store, cid, "q1", "a1")
    answered(store, cid, "q1 again", "a2", parent=None)
    store.add_message(cid, Message("user", "edited q1"), parent_id=None)  # a second root
    summary, conversation = store.load_conversation(cid)
    assert summary.message_count == 5  # every branch counts
    assert (summary.provider, summary.model, conversation.system) == ("openai", "m", "Be brief.")
    assert [m.content for m in conversation.messages] == ["edited q1"]


@pytest.mark.parametrize(
    ("limit", "before", "contents", "first", "more"),
    [
        (3, None, ["m2", "m3", "m4"], 2, True),
        (4, None, ["m1", "m2", "m3", "m4"], 1, True),
        (5, None, ["m0", "m1", "m2", "m3", "m4"], 0, False),
        (6, None, ["m0", "m1", "m2", "m3", "m4"], 0, False),
        (1, 1, ["m0"], 0, False),
        (1, 2, ["m1"], 1, True),
        (2, 4, ["m2", "m3"], 2, True),
        (0, None, [], None, True),
        (5, 0, [], None, False),
    ],
)
def test_a_page_is_the_newest_messages_before_a_position(
    store: Store, limit: int, before: int | None, contents: list[str], first: int | None, more: bool
) -> None:
    cid = store.create_conversation("openai", "m", None)
    for n in range(5):
        store.add_message(cid, Message("user", f"m{n}"))
    page = store.load_messages(cid, limit=limit, before_position=before)
    assert ([m.content for m in page.messages], page.first_position, page.has_more) == (contents, first, more)


def test_a_page_of_a_streaming_reply_has_its_saved_text(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "q"))
    mid = store.begin_reply(cid, "openai", "m")
    store.append_partial(mid, "so far", "thinking")
    (message,) = store.load_messages(cid, limit=1).messages
    assert (message.id, message.content, message.reasoning, message.finish_reason) == (
        mid, "so far", "thinking", None)


def test_the_path_to_a_message_on_another_branch(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    q1, a1 = answered(store, cid, "q1", "a1")
    q2, a2 = answered(store, cid, "q2", "a2")
    q2b, a2b = answered(store, cid, "q2 edited", "a2b", parent=a1)
    assert [m.content for m in store.path_to(a2)] == ["q1", "a1", "q2", "a2"]
    assert [m.id for m in store.path_to(q2b)] == [q1, a1, q2b]
    assert [m.content for m in store.path_to(q1)] == ["q1"]
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["q1", "a1", "q2 edited", "a2b"]
    with pytest.raises(ConversationNotFound, match="no message 'NOPE'"):
        store.path_to("NOPE")
    assert a2b and q2


# -- a day's replies ----------------------------------------------------------------------


def test_replies_since_an_instant_include_it_and_only_replies_with_usage(db_path: Path) -> None:
    clock = Clock(1_750_000_000.0)
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        answered(store, cid, "before", "early", usage=Usage(1, 1, 2))
        clock.now += 0.001
        answered(store, cid, "at", "on time", usage=Usage(10, 0, 0, cache_write_tokens=7))
        other = store.create_conversation("anthropic", "c", None)
        clock.now += 5
        store.add_message(other, Message("user", "q"))
        mid = store.begin_reply(other, "anthropic", "claude")
        store.finish_reply(mid, Message("assistant", "later", finish_reason="stop",
                                        usage=Usage(20, 3, 23, cached_tokens=4, reasoning_tokens=2)))
        answered(store, cid, "no usage", "none reported")
        since = 1_750_000_000.001
        spent = store.replies_since(since)
        assert [(m.provider, m.model) for m in spent] == [("openai", "m"), ("anthropic", "claude")]
        assert [m.usage for m in spent] == [Usage(10, 0, 0, cache_write_tokens=7),
                                             Usage(20, 3, 23, cached_tokens=4, reasoning_tokens=2)]
        assert all(m.role == "assistant" and m.content == "" for m in spent)
        assert len(store.replies_since(since - 0.001)) == 3
        assert len(store.replies_since(since + 0.001)) == 1
        assert store.replies_since(clock.now + 1) == []


# -- export -------------------------------------------------------------------------------


def test_the_markdown_export_marks_each_split_with_the_number_of_other_branches(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    q1, a1 = answered(store, cid, "q1", "a1")
    answered(store, cid, "q2", "a2")
    answered(store, cid, "q2b", "a2b", parent=a1)
    answered(store, cid, "q2c", "a2c", parent=a1)
    text = store.export(cid)
    assert text.count("other branch") == 1
    assert "*⎇ 2 other branches here*\n\n## User · " in text
    assert text.index("⎇") > text.index("a1") and text.index("⎇") < text.index("q2c")
    store.set_current_leaf(q1, descend=False)  # the split is below the path now
    assert "other branch" not in store.export(cid)


def test_the_json_export_has_the_tree_and_the_current_leaf(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    q1, a1 = answered(store, cid, "q1", "a1")
    q2, a2 = answered(store, cid, "q2", "a2")
    q3, a3 = answered(store, cid, "q3", "a3", parent=a1)
    data = json.loads(store.export(cid, "json"))
    assert data["current_leaf"] == a3
    assert [(m["id"], m["parent_id"]) for m in data["messages"]] == [(q1, None), (a1, q1), (q3, a1), (a3, q3)]
    assert [(m["id"], m["parent_id"], m["content"]) for m in data["tree"]] == [
        (q1, None, "q1"), (a1, q1, "a1"), (q2, a1, "q2"), (a2, q2, "a2"), (q3, a1, "q3"), (a3, q3, "a3")]


@pytest.mark.parametrize("format", ["pdf", "MD", "", "markdown"])
def test_an_unknown_export_format_is_refused_before_reading(store: Store, format: str) -> None:  # noqa: A002
    with pytest.raises(ValueError, match=f"unknown export format {format!r}; use one of: md, json"):
        store.export("does not matter", format)


# -- defaults and exact errors ------------------------------------------------------------


def test_a_page_is_50_messages_and_a_search_20_hits_by_default(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    for n in range(51):
        store.add_message(cid, Message("user", f"pelican {n}" if n % 2 == 0 else f"gull {n}"))
    page = store.load_messages(cid)
    assert (len(page.messages), page.first_position, page.has_more) == (50, 1, True)
    assert len(store.search("pelican")) == 20  # 26 messages match, 25 do not
    assert len(store.search("pelican", limit=26)) == 26
    assert len(store.search("gull", limit=100)) == 25


def test_reference_errors_are_exact_and_name_the_file(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        first = store.create_conversation("openai", "m", None)
        second = store.create_conversation("openai", "m", None)  # the same millisecond: a long common prefix
        shared = next(n for n in range(26) if first[n] != second[n])
        with pytest.raises(ConversationNotFound) as several:
            store.resolve(first[:shared])
        assert str(several.value) == (
            f"several conversations start with {first[:shared]!r}; `llmchat history` lists their ids")
        with pytest.raises(ConversationNotFound) as none:
            store.resolve("ZZZ")
        assert str(none.value) == "no conversation matches 'ZZZ'; `llmchat history` lists their ids"
        with pytest.raises(ConversationNotFound) as missing:
            store.path_to("NOPE")
        assert str(missing.value) == f"no message 'NOPE' in {db_path}"
        assert (several.value.path, none.value.path, missing.value.path) == (db_path, db_path, db_path)
