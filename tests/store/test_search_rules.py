"""Search rules on both back ends (FTS5, and the LIKE fallback of an SQLite without it): every
word must occur, LIKE's wildcards are plain text, titles come first and count against the
limit, a limit of zero finds nothing, and the fallback's snippet is cut around the first word
with its matches marked. Each store holds conversations that must *not* match, so a search
that ignored a word (or the query) fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import Store, migrations


@pytest.fixture(params=[True, False], ids=["fts5", "like"])
def store(request: pytest.FixtureRequest, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    if not request.param:
        monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    opened = Store.open(db_path)
    request.addfinalizer(opened.close)
    assert opened.full_text is request.param
    return opened


def add(store: Store, title: str, *texts: str) -> str:
    cid = store.create_conversation("openai", "m", None, title=title)
    for n, text in enumerate(texts):
        store.add_message(cid, Message("user" if n % 2 == 0 else "assistant", text))
    return cid


def test_every_word_must_occur_in_the_same_message(store: Store) -> None:
    both = add(store, "one", "remove rust with vinegar")
    add(store, "two", "rust on my bike", "vinegar in the salad")  # the words in different messages
    hits = store.search("vinegar rust")
    assert [(h.conversation_id, h.position) for h in hits] == [(both, 0)]
    assert store.search("rust cream") == []


def test_words_match_in_any_case(store: Store) -> None:
    cid = add(store, "t", "Pelicans FLY over the Bay")
    add(store, "u", "Otters swim under the bridge")
    assert [h.conversation_id for h in store.search("pelicans fly bay")] == [cid]
    assert [h.conversation_id for h in store.search("PELICANS")] == [cid]


def test_like_wildcards_and_quotes_are_plain_text(store: Store) -> None:
    literal = add(store, "t1", "the a_b case and 100% sure")
    add(store, "t2", "the axb case and 1000 sure")
    assert [h.conversation_id for h in store.search("a_b")] == [literal]
    assert store.search("zz%") == []
    if not store.full_text:  # (FTS5 reads "100%" as the word 100, a prefix: 1000 matches too)
        assert [h.conversation_id for h in store.search("100%")] == [literal]


def test_titles_come_first_and_count_against_the_limit(store: Store) -> None:
    titled = add(store, "Pelican facts", "nothing here")
    bodies = [add(store, f"other {n}", f"a pelican story {n}") for n in range(3)]
    hits = store.search("pelican")
    assert hits[0].conversation_id == titled and hits[0].message_id is None
    assert {h.conversation_id for h in hits[1:]} == set(bodies) and len(hits) == 4
    two = store.search("pelican", limit=2)
    assert len(two) == 2 and two[0].message_id is None and two[1].message_id is not None
    assert len(store.search("pelican", limit=1)) == 1
    assert store.search("pelican", limit=0) == []


def test_a_snippet_is_cut_around_the_match_and_marks_it(store: Store) -> None:
    text = " ".join(f"filler{n}" for n in range(40)) + " needle " + " ".join(f"tail{n}" for n in range(40))
    add(store, "t", text)
    add(store, "u", "filler0 tail0 and no match")
    (hit,) = store.search("needle")
    assert "needle" in hit.snippet and len(hit.snippet) < len(text)
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert [hit.snippet[a:b].lower() for a, b in hit.highlights] == ["needle"]


def test_a_short_message_is_its_own_snippet(store: Store) -> None:
    add(store, "t", "find the needle here")
    add(store, "u", "find the haystack here")
    (hit,) = store.search("needle")
    assert hit.snippet == "find the needle here"
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["needle"]


def test_no_words_or_no_room_find_nothing(store: Store) -> None:
    add(store, "needle title", "a needle")
    assert store.search("   ") == [] and store.search("\x00\x01") == []
    assert store.search("needle", limit=-1) == []  # (SQLite reads LIMIT -1 as no limit at all)
    assert len(store.search("needle", limit=5)) == 2


def test_hits_name_their_conversation_message_and_position(store: Store) -> None:
    cid = add(store, "Bird notes", "first line", "the pelican dives")
    other = add(store, "other", "nothing")
    title_hit, message_hit = store.search("bird") + store.search("pelican")
    assert (title_hit.conversation_id, title_hit.title, title_hit.message_id, title_hit.position) == (
        cid, "Bird notes", None, None)
    assert title_hit.snippet == "Bird notes"
    _, conversation = store.load_conversation(cid)
    assert (message_hit.conversation_id, message_hit.title, message_hit.position) == (cid, "Bird notes", 1)
    assert message_hit.message_id == conversation.messages[1].id and message_hit.message_id != other


@pytest.fixture
def like_store(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    opened = Store.open(db_path)
    assert not opened.full_text
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.mark.parametrize("before", [0, 1, 59, 60, 61, 100])
def test_the_fallbacks_snippet_is_60_characters_before_the_first_match_and_120_from_it(
        like_store: Store, before: int) -> None:
    head = "".join(chr(ord("a") + n % 26) for n in range(before)).replace("needle", "xxxxxx")
    text = head + "needle" + "z" * 200 + " needle again"
    add(like_store, "t", text)
    add(like_store, "u", "no match")
    (hit,) = like_store.search("needle")
    begin = max(0, before - 60)
    expected = ("…" if begin else "") + text[begin:before + 120] + "…"
    assert hit.snippet == expected
    start = len("…" if begin else "") + before - begin
    assert hit.highlights == ((start, start + 6),)  # the second one is outside the snippet


def test_a_snippet_of_several_lines_is_one_line(store: Store) -> None:
    add(store, "t", "first line\nthe needle\r\nlast line")
    add(store, "u", "no match\nhere")
    (hit,) = store.search("needle")
    assert hit.snippet == "first line the needle last line"
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["needle"]


def test_control_characters_separate_words(store: Store) -> None:
    cid = add(store, "t", "pelicans fly high")
    add(store, "u", "pelicans swim")
    assert [h.conversation_id for h in store.search("pelicans\x07fly")] == [cid]
    assert [h.conversation_id for h in store.search("fly\x00\x1fpelicans\x7f")] == [cid]
