"""The store's limits on both sides: a streaming reply is interrupted only once it has been
unsaved for longer than STALE_AFTER (10 s: another process saves about once a second), and a
default title keeps a first line of exactly 60 characters whole and cuts a longer one."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import INTERRUPTED, STALE_AFTER, Store
from tests.store.conftest import Clock


def test_stale_after_is_ten_seconds() -> None:
    assert STALE_AFTER == 10.0


@pytest.mark.parametrize(("unsaved_for", "recovered"), [(9.999, 0), (10.0, 0), (10.001, 1), (3600.0, 1)])
def test_a_reply_is_interrupted_only_past_the_staleness_limit(db_path: Path, unsaved_for: float,
                                                              recovered: int) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        mid = store.begin_reply(cid, "openai", "m")
        store.save_partial(mid, "partial", "")
        clock.now += unsaved_for
        assert store.recover_interrupted() == recovered
        message = store.load_conversation(cid)[1].messages[0]
        assert message.id == mid and message.content == "partial"
        if recovered:
            assert (message.finish_reason, message.error) == ("error", INTERRUPTED)
        else:
            assert (message.finish_reason, message.error) == (None, None)


def test_the_limit_is_the_callers_to_choose(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        store.begin_reply(cid, "openai", "m")
        clock.now += 3
        assert store.recover_interrupted(older_than=5) == 0
        assert store.recover_interrupted(older_than=2) == 1
        assert store.recover_interrupted(older_than=0) == 0  # finalized: not streaming any more


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        ("x" * 60, "x" * 60),  # exactly the limit: whole
        ("x" * 61, "x" * 59 + "…"),  # one more, no space: cut hard
        ("word " * 13 + "end", " ".join(["word"] * 11) + "…"),  # cut at the last space before 60
        ("a" * 40 + " " + "b" * 30, "a" * 40 + "…"),  # the space is far enough in: cut there
        ("a" * 20 + " " + "b" * 50, ("a" * 20 + " " + "b" * 50)[:59] + "…"),  # too early: cut hard
        ("  \n\n   spaced   out\tline  \nsecond", "spaced out line"),
    ],
)
def test_default_title_of_the_first_line(store: Store, first_line: str, title: str) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", first_line + "\nmore lines"))
    assert store.list_conversations()[0].title == title
    assert len(title) <= 60


def test_a_blank_first_message_gives_no_title(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", " \n\t "))
    assert store.list_conversations()[0].title is None
