"""The store's own rules (llmchat/store/sqlite.py), each on both sides: the busy timeout a
connection gets (read back from SQLite, never timed), what gives an untitled conversation its
title, renaming, deleting by id lists, a failed write leaving nothing behind, and
`Store.open_or_read`: which failures fall back to reading only and which do not."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llmchat.chat.models import Attachment, Message
from llmchat.store import ConversationNotFound, SchemaTooNew, Store, StoreError
from tests.store.conftest import Clock
from tests.test_history_access import bump_version, make_history, read_only


def busy_timeout_ms(store: Store) -> int:
    assert store._conn is not None
    (value,) = store._conn.execute("PRAGMA busy_timeout").fetchone()
    return int(value)


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another connection holding the write lock (``BEGIN IMMEDIATE``) until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


# -- the busy timeout ---------------------------------------------------------------------


def test_a_store_waits_ten_seconds_for_another_writer_by_default(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert busy_timeout_ms(store) == 10_000
    with Store(db_path) as store:
        assert busy_timeout_ms(store) == 10_000


@pytest.mark.parametrize(("seconds", "ms"), [(0.25, 250), (2.0, 2000), (30.0, 30_000)])
def test_the_busy_timeout_is_handed_to_sqlite(db_path: Path, seconds: float, ms: int) -> None:
    with Store.open(db_path, busy_timeout=seconds) as store:
        assert busy_timeout_ms(store) == ms
    with Store(db_path, busy_timeout=seconds) as store:
        assert busy_timeout_ms(store) == ms


def test_a_file_locked_past_the_timeout_is_a_clear_error_and_opens_once_free(db_path: Path) -> None:
    make_history(db_path)
    with write_lock(db_path), pytest.raises(StoreError) as caught:
        Store.open(db_path, busy_timeout=0.05)
    assert caught.value.code is not None and caught.value.code.startswith("SQLITE_BUSY")
    assert "stayed locked by another process" in str(caught.value)
    assert str(db_path) in str(caught.value)
    with Store.open(db_path, busy_timeout=0.05) as store:
        assert len(store.list_conversations()) == 1


# -- titles -------------------------------------------------------------------------------


def _attachment(name: str) -> Attachment:
    return Attachment(name, "text/plain", name.encode(), name)


def test_an_untitled_conversation_is_titled_by_its_attachments_names(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "", attachments=[_attachment("notes.txt"), _attachment("plan.md")]))
    assert store.load_conversation(cid)[0].title == "notes.txt plan.md"


def test_a_message_with_text_and_attachments_is_titled_by_its_text(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "Read this", attachments=[_attachment("notes.txt")]))
    assert store.load_conversation(cid)[0].title == "Read this"


@pytest.mark.parametrize("role", ["assistant", "tool", "system"])
def test_only_a_user_message_gives_the_title(store: Store, role: str) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message(role, "not a title"))  # type: ignore[arg-type]
    assert store.load_conversation(cid)[0].title is None
    store.add_message(cid, Message("user", "the question"))
    store.add_message(cid, Message("user", "a later question"))
    assert store.load_conversation(cid)[0].title == "the question"


@pytest.mark.parametrize(("given", "title"), [(None, None), ("", None), ("  \t ", None), (" Named ", "Named")])
def test_a_blank_given_title_is_no_title(store: Store, given: str | None, title: str | None) -> None:
    cid = store.create_conversation("openai", "m", None, title=given)
    assert store.load_conversation(cid)[0].title == title
    store.add_message(cid, Message("user", "from the message"))
    assert store.load_conversation(cid)[0].title == (title or "from the message")


def test_renaming_to_blank_restores_the_first_user_messages_title(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("assistant", "a greeting first"))
    store.add_message(cid, Message("user", "first question\nsecond line"))
    store.add_message(cid, Message("user", "second question"))
    store.rename(cid, "Chosen")
    assert store.load_conversation(cid)[0].title == "Chosen"
    store.rename(cid, " \n\t")
    assert store.load_conversation(cid)[0].title == "first question"


def test_renaming_to_blank_without_a_user_message_leaves_no_title(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None, title="Given")
    store.add_message(cid, Message("assistant", "only a reply"))
    store.rename(cid[:20].lower(), "")
    assert store.load_conversation(cid)[0].title is None


def test_a_rename_collapses_whitespace_and_touches_only_its_conversation(store: Store) -> None:
    one = store.create_conversation("openai", "m", None, title="one")
    two = store.create_conversation("openai", "m", None, title="two")
    store.rename(one, "  a \t b\n\nc  ")
    assert {s.id: s.title for s in store.list_conversations()} == {one: "a b c", two: "two"}


# -- positions, deleting ------------------------------------------------------------------


def test_messages_are_numbered_from_zero_in_each_conversation(store: Store) -> None:
    one = store.create_conversation("openai", "m", None)
    two = store.create_conversation("openai", "m", None)
    for n in range(3):
        store.add_message(one, Message("user", f"one {n}"))
    store.add_message(two, Message("user", "two 0"))
    assert store.load_messages(one, limit=1).first_position == 2
    assert store.load_messages(one).first_position == 0
    assert store.load_messages(two).first_position == 0
    assert store.load_messages(one, limit=3).has_more is False
    assert store.load_messages(one, limit=2).has_more is True


def test_delete_messages_counts_what_it_deleted(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    ids = [store.add_message(cid, Message("user", f"m{n}")) for n in range(4)]
    assert store.delete_messages([]) == 0
    assert store.delete_messages(iter(["NOPE"])) == 0
    assert store.delete_messages(iter([ids[1], "NOPE", ids[3]])) == 2
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["m0", "m2"]


def test_delete_takes_a_prefix_and_only_that_conversation(store: Store) -> None:
    keep = store.create_conversation("openai", "m", None)
    gone = store.create_conversation("openai", "m", None)
    store.add_message(gone, Message("user", "bye", attachments=[_attachment("a.txt")]))
    store.add_message(keep, Message("user", "stay", attachments=[_attachment("b.txt")]))
    store.delete(gone.lower())  # the whole id in another case: a prefix of itself
    assert [s.id for s in store.list_conversations()] == [keep]
    assert store._conn is not None
    assert [row[0] for row in store._conn.execute("SELECT size FROM blobs")] == [len(b"b.txt")]


# -- transactions -------------------------------------------------------------------------


def test_a_failed_write_leaves_nothing_and_the_store_usable(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        cid = store.create_conversation("openai", "m", None)
        before = store.load_conversation(cid)[0]
        clock.now += 60
        with pytest.raises(ConversationNotFound, match="no message 'NOPE'"):
            store.add_message(cid, Message("user", "lost"), parent_id="NOPE")
        after = store.load_conversation(cid)[0]
        assert (after.updated_at, after.message_count, after.title) == (before.updated_at, 0, None)
        store.add_message(cid, Message("user", "kept"))
        assert store.load_conversation(cid)[0].message_count == 1


def test_a_closed_store_refuses_writes_too(db_path: Path) -> None:
    store = Store.open(db_path)
    cid = store.create_conversation("openai", "m", None)
    store.close()
    with pytest.raises(StoreError, match=r"history database .* is closed") as caught:
        store.add_message(cid, Message("user", "x"))
    assert caught.value.path == db_path
    with Store.open(db_path) as again:
        assert again.load_conversation(cid)[0].message_count == 0


def test_opening_counts_the_replies_it_recovered(db_path: Path) -> None:
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        assert store.recovered == 0
        cid = store.create_conversation("openai", "m", None)
        store.begin_reply(cid, "openai", "m")
        store.begin_reply(cid, "openai", "m")
    clock.now += 11
    with Store.open(db_path, clock=clock) as store:
        assert store.recovered == 2
    with Store.open(db_path, clock=clock) as store:
        assert store.recovered == 0


# -- open_or_read -------------------------------------------------------------------------


def test_open_or_read_writes_where_it_can(db_path: Path) -> None:
    with Store.open_or_read(db_path) as store:
        assert not store.read_only
        cid = store.create_conversation("openai", "m", None)
    assert db_path.is_file()
    with Store.open(db_path) as store:
        assert store.resolve(cid) == cid


def test_open_or_read_reads_a_history_it_may_not_write(tmp_path: Path) -> None:
    path = tmp_path / "data" / "h.db"
    cid = make_history(path)
    with read_only(path.parent), Store.open_or_read(path) as store:
        assert store.read_only
        assert store.full_text
        assert [c.id for c in store.list_conversations()] == [cid]
        assert [m.content for m in store.load_conversation(cid)[1].messages] == [
            "What is stored?", "The old answer."]
        with pytest.raises(StoreError, match="read-only|readonly"):
            store.add_message(cid, Message("user", "more"))


def test_open_or_read_does_not_read_a_file_it_cannot_create(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    make_history(folder / "other.db")
    with read_only(folder), pytest.raises(StoreError, match="cannot be created"):
        Store.open_or_read(folder / "h.db")
    assert not (folder / "h.db").exists()


def test_open_or_read_refuses_a_newer_history(tmp_path: Path) -> None:
    path = tmp_path / "data" / "h.db"
    make_history(path)
    bump_version(path, version=10_000)
    with pytest.raises(SchemaTooNew, match="newer llmchat"):
        Store.open_or_read(path)


class QuickStore(Store):
    """A store that waits 50 ms for a lock instead of 10 s (its `open` is what `open_or_read` calls)."""

    @classmethod
    def open(cls, path: Path, **options: Any) -> Store:
        return super().open(path, busy_timeout=0.05, read_only=options.get("read_only", False))


def test_open_or_read_does_not_fall_back_to_reading_a_locked_file(db_path: Path) -> None:
    make_history(db_path)
    with write_lock(db_path), pytest.raises(StoreError) as caught:
        QuickStore.open_or_read(db_path)
    assert caught.value.code is not None and caught.value.code.startswith("SQLITE_BUSY")
    with QuickStore.open_or_read(db_path) as store:
        assert not store.read_only


def refusing(code: str | None) -> type[Store]:
    """A store whose every attempt to open for writing fails with `code`."""

    class Refusing(Store):
        @classmethod
        def open(cls, path: Path, **options: Any) -> Store:
            if not options.get("read_only"):
                raise StoreError("the write attempt failed", path=path, code=code)
            return super().open(path, read_only=True)

    return Refusing


@pytest.mark.parametrize(
    ("code", "reads"),
    [
        ("SQLITE_READONLY", True),
        ("SQLITE_READONLY_DIRECTORY", True),
        ("SQLITE_CANTOPEN", True),
        ("SQLITE_PERM", True),
        (None, True),
        ("SQLITE_BUSY", False),
        ("SQLITE_BUSY_SNAPSHOT", False),
        ("SQLITE_LOCKED", False),
        ("SQLITE_LOCKED_SHAREDCACHE", False),
    ],
)
def test_which_write_failures_fall_back_to_reading(db_path: Path, code: str | None, reads: bool) -> None:
    make_history(db_path)
    if reads:
        with refusing(code).open_or_read(db_path) as store:
            assert store.read_only
            assert store.list_conversations()[0].title == "What is stored?"
    else:
        with pytest.raises(StoreError, match="the write attempt failed"):
            refusing(code).open_or_read(db_path)


def test_a_missing_file_is_not_read_instead(db_path: Path) -> None:
    with pytest.raises(StoreError, match="the write attempt failed"):
        refusing("SQLITE_CANTOPEN").open_or_read(db_path)
    assert not db_path.exists()


def test_when_reading_fails_too_the_write_attempts_error_is_raised(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="the write attempt failed") as caught:
        refusing("SQLITE_READONLY").open_or_read(path)
    assert caught.value.code == "SQLITE_READONLY"
