"""The schema's migrations (llmchat/store/migrations.py): a database written at each older
version (every prefix of the migration list) opens, migrates in place and keeps its history;
each version read only; what counts as a newer schema on both sides of this llmchat's version;
a migration that is not applied now is tried again; the recorded version and order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmchat.chat.models import Attachment, Message
from llmchat.store import SchemaTooNew, Store, migrations
from llmchat.store.migrations import MIGRATIONS, newer_schema, schema_version

NAMES = [name for name, _ in MIGRATIONS]
STAMP = "2030-01-01T00:00:00.000000Z"


@contextmanager
def only(names: list[str]) -> Iterator[None]:
    """This llmchat knowing only the migrations `names` (an older llmchat)."""
    original = MIGRATIONS[:]
    MIGRATIONS[:] = [(name, fn) for name, fn in original if name in names]
    try:
        yield
    finally:
        MIGRATIONS[:] = original


def older_database(path: Path, version: int) -> None:
    """A history written by an llmchat that knew the first `version` migrations, with a
    conversation and (once there is a messages table) a question and its answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    with only(NAMES[:version]):
        db.execute("BEGIN IMMEDIATE")
        assert migrations.migrate(db) == [n for n in NAMES[:version] if n != "search_index" or
                                          migrations.fts5_available(db)]
        db.execute("COMMIT")
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('C1', 'old one', ?, ?)",
               (STAMP, STAMP))
    if version >= 2:
        for n, (role, text) in enumerate([("user", "old pelican question"), ("assistant", "old answer")]):
            db.execute("INSERT INTO messages (id, conversation_id, position, role, content, created_at, updated_at)"
                       " VALUES (?, 'C1', ?, ?, ?, ?, ?)", (f"M{n}", n, role, text, STAMP, STAMP))
        if "message_tree" in NAMES[:version]:  # written as a tree: the answer's parent is the question
            db.execute("UPDATE messages SET parent_id = 'M0' WHERE id = 'M1'")
    db.close()


def version_of(path: Path) -> tuple[int, list[str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0], migrations.applied_migrations(db)
    finally:
        db.close()


@pytest.mark.parametrize("version", range(1, len(NAMES)))
def test_a_database_of_each_older_version_migrates_keeping_its_history(db_path: Path, version: int) -> None:
    older_database(db_path, version)
    assert version_of(db_path)[0] == version
    with Store.open(db_path, clock=lambda: 1_893_456_000.0) as store:
        assert store.full_text
        summary, conversation = store.load_conversation("C1")
        assert summary.title == "old one"
        expected = ["old pelican question", "old answer"] if version >= 2 else []
        assert [m.content for m in conversation.messages] == expected
        assert [h.conversation_id for h in store.search("pelican")] == (["C1"] if version >= 2 else [])
        new = store.add_message("C1", Message("user", "new", attachments=[Attachment("a.txt", "text/plain", b"a")]))
        mid = store.begin_reply("C1", "openai", "m")
        store.append_partial(mid, "streamed", "")
        store.finish_reply(mid, Message("assistant", finish_reason="stop"), keep_text=True)
        assert store.path_to(new)[-1].attachments[0].name == "a.txt"
        assert [m.content for m in store.load_conversation("C1")[1].messages] == [*expected, "new", "streamed"]
    assert version_of(db_path) == (schema_version(), NAMES)
    with Store.open(db_path) as again:  # once migrated, opening again applies nothing
        assert version_of(db_path) == (schema_version(), NAMES)
        assert again.load_conversation("C1")[0].message_count == len(expected) + 2


@pytest.mark.parametrize("version", range(2, len(NAMES)))
def test_a_database_of_each_older_version_reads_without_migrating(db_path: Path, version: int) -> None:
    older_database(db_path, version)
    with Store.open(db_path, read_only=True) as store:
        assert [m.content for m in store.load_conversation("C1")[1].messages] == [
            "old pelican question", "old answer"]
        assert "old answer" in store.export("C1")
        assert [h.position for h in store.search("pelican")] == [0]
    assert version_of(db_path)[0] == version


# -- newer schemas ------------------------------------------------------------------------


@pytest.fixture
def current(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "h.db"
    Store.open(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    yield db
    db.close()


def test_the_current_version_and_below_are_not_newer(current: sqlite3.Connection) -> None:
    assert newer_schema(current) is None
    current.execute("PRAGMA user_version = 0")
    assert newer_schema(current) is None
    assert newer_schema(sqlite3.connect(":memory:")) is None  # an empty file: nothing recorded


def test_one_version_more_is_newer(current: sqlite3.Connection) -> None:
    current.execute(f"PRAGMA user_version = {schema_version() + 1}")
    assert newer_schema(current) == (
        f"schema version {schema_version() + 1}; this llmchat knows up to version {schema_version()}")


def test_an_unknown_migration_is_newer_and_named(current: sqlite3.Connection) -> None:
    current.execute("INSERT INTO _migrations (name) VALUES ('zz_later'), ('aa_later')")
    assert newer_schema(current) == (
        f"unknown migration 'aa_later'; this llmchat knows up to version {schema_version()}")
    with pytest.raises(SchemaTooNew, match="unknown migration 'aa_later'"):
        migrations.migrate(current)


def test_a_higher_version_is_named_before_an_unknown_migration(current: sqlite3.Connection) -> None:
    current.execute("INSERT INTO _migrations (name) VALUES ('later')")
    current.execute(f"PRAGMA user_version = {schema_version() + 5}")
    assert newer_schema(current) is not None
    assert newer_schema(current).startswith(f"schema version {schema_version() + 5};")  # type: ignore[union-attr]


def test_the_version_is_the_number_of_migrations_and_is_recorded(db_path: Path) -> None:
    assert schema_version() == len(NAMES) >= 7
    assert NAMES[:7] == ["conversations", "messages", "search_index", "reply_chunks", "attachments",
                         "message_tree", "cache_write_tokens"]
    Store.open(db_path).close()
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA user_version = 0")  # a file of an llmchat before versions were recorded
    db.close()
    Store.open(db_path).close()
    assert version_of(db_path) == (schema_version(), NAMES)


# -- applying -----------------------------------------------------------------------------


def test_migrate_applies_what_is_pending_in_order_and_returns_it() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    with only(NAMES[:2]):
        assert migrations.migrate(db) == ["conversations", "messages"]
        assert migrations.migrate(db) == []
    assert migrations.migrate(db) == NAMES[2:]
    assert migrations.applied_migrations(db) == NAMES
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema_version()


def test_a_migration_not_applied_now_is_tried_at_the_next_open(monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    ready = {"now": False}

    def later(conn: sqlite3.Connection) -> bool:
        if not ready["now"]:
            return False
        conn.execute("CREATE TABLE later_table (x)")
        return True

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, ("later", later)])
    assert "later" not in migrations.migrate(db)
    assert "later" not in migrations.applied_migrations(db)
    ready["now"] = True
    assert migrations.migrate(db) == ["later"]
    assert migrations.applied_migrations(db)[-1] == "later"


def test_without_fts5_the_index_waits_and_writes_still_work(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db_path).close()  # indexed, with its triggers
    monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    with Store.open(db_path) as store:
        assert not store.full_text
        cid = store.create_conversation("openai", "m", None, title="pelicans")
        store.add_message(cid, Message("user", "a pelican"))
        assert {h.conversation_id for h in store.search("pelican")} == {cid}
    db = sqlite3.connect(db_path)
    triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_fts_%'").fetchall()
    applied = migrations.applied_migrations(db)
    db.close()
    assert triggers == [] and "search_index" not in applied
    monkeypatch.undo()
    with Store.open(db_path) as store:  # an SQLite with FTS5 again: the index is rebuilt
        assert store.full_text
        assert [h.message_id is None for h in store.search("pelican")] == [True, False]


def test_the_fts5_probe_leaves_nothing_behind() -> None:
    db = sqlite3.connect(":memory:")
    assert migrations.fts5_available(db) is True
    assert migrations.fts5_available(db) is True
    assert db.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0] == 0


def test_a_probe_that_fails_reads_as_no_fts5() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE temp._fts5_probe (x)")  # the probe cannot be made: as on an SQLite without FTS5
    assert migrations.fts5_available(db) is False
    db.execute("DROP TABLE temp._fts5_probe")
    assert migrations.fts5_available(db) is True
