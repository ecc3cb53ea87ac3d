"""Ids and timestamps of stored rows (llmchat/store/ids.py, against the ULID spec) and the
store's one-line errors (llmchat/store/errors.py: every SQLite error class it advises on)."""

from __future__ import annotations

import errno
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmchat.errors import LlmchatError
from llmchat.store import ConversationNotFound, SchemaTooNew, StoreError
from llmchat.store.errors import schema_too_new, store_error
from llmchat.store.ids import new_id, parse_timestamp, timestamp

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # the ULID spec's base 32 (no I, L, O, U)


def decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD.index(char)
    return value


# -- ids ----------------------------------------------------------------------------------


def test_an_id_is_a_ulid_of_its_millisecond() -> None:
    # The ULID spec's example: ulid(1469918176385) starts "01ARYZ6S41".
    made = new_id(1469918176.385)
    assert made[:10] == "01ARYZ6S41"
    assert len(made) == 26 and set(made) <= set(CROCKFORD)
    assert decode(made) >> 80 == 1469918176385


@pytest.mark.parametrize("now", [0.0, 0.001, 1.0, 1_750_000_000.0, 1_750_000_000.999, 2**47 / 1000])
def test_the_time_part_is_the_millisecond(now: float) -> None:
    made = new_id(now)
    assert len(made) == 26
    assert decode(made[:10]) == int(now * 1000)


def test_ids_of_one_millisecond_count_up_by_one() -> None:
    ids = [new_id(1_800_000_000.0) for _ in range(5)]
    randoms = [decode(i) & (2**80 - 1) for i in ids]
    assert randoms == [randoms[0] + n for n in range(5)]
    assert {i[:10] for i in ids} == {ids[0][:10]}


def test_a_new_millisecond_draws_a_fresh_random_part_with_room_to_count() -> None:
    randoms = [decode(new_id(1_800_000_001.0 + n / 1000)) & (2**80 - 1) for n in range(64)]
    assert all(r < 2**79 for r in randoms)  # the top bit clear
    assert len(set(randoms)) == 64
    assert any(r >= 2**78 for r in randoms)  # 79 random bits: one of 64 draws is in the top half
    back = decode(new_id(1_800_000_001.0)) & (2**80 - 1)  # an earlier millisecond again: fresh too
    assert back != randoms[-1] + 1


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1_750_000_000.5, "2025-06-15T15:06:40.500000Z"),
        (1_750_000_000.000001, "2025-06-15T15:06:40.000001Z"),
        (4_102_444_799.0, "2099-12-31T23:59:59.000000Z"),
    ],
)
def test_timestamps_are_fixed_width_utc_and_read_back(now: float, text: str) -> None:
    assert timestamp(now) == text
    back = parse_timestamp(text)
    assert back.utcoffset() is not None and back.utcoffset().total_seconds() == 0
    assert back == datetime.fromtimestamp(now, UTC).replace(microsecond=back.microsecond)
    assert abs(back.timestamp() - now) < 1e-5


def test_timestamps_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert timestamp(0.0) == "1970-01-01T00:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_timestamps_sort_in_time_order() -> None:
    moments = [0.5, 9.0, 10.0, 99.999, 1_000_000.0, 1_750_000_000.0]
    texts = [timestamp(m) for m in moments]
    assert texts == sorted(texts) and len(set(map(len, texts))) == 1


# -- errors -------------------------------------------------------------------------------

PATH = Path("/data/llmchat/history.db")


def sqlite_error(text: str, name: str | None) -> sqlite3.Error:
    exc = sqlite3.OperationalError(text)
    if name is not None:
        exc.sqlite_errorname = name  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("name", "what", "todo"),
    [
        ("SQLITE_READONLY", "is read-only", "check the permissions of the file and its folder"),
        ("SQLITE_READONLY_DIRECTORY", "is read-only", "check the permissions of the file and its folder"),
        ("SQLITE_FULL", "cannot grow: the disk is full", "free some disk space"),
        ("SQLITE_CANTOPEN", "cannot be opened", "check that its folder exists and is writable"),
        ("SQLITE_BUSY", "stayed locked by another process", "close other llmchat windows or retry"),
        ("SQLITE_BUSY_SNAPSHOT", "stayed locked by another process", "close other llmchat windows or retry"),
        ("SQLITE_LOCKED", "stayed locked by another process", "close other llmchat windows or retry"),
        ("SQLITE_CORRUPT", "is damaged", "move it aside; llmchat then starts a new history"),
        ("SQLITE_NOTADB", "is not a database", "move it aside; llmchat then starts a new history"),
        ("SQLITE_IOERR_WRITE", "could not be read or written", "check the disk"),
        ("SQLITE_PERM", "may not be accessed", "check the permissions of the file and its folder"),
    ],
)
def test_each_sqlite_error_class_says_what_happened_and_what_to_do(name: str, what: str, todo: str) -> None:
    error = store_error(sqlite_error("the detail", name), PATH)
    assert type(error) is StoreError
    assert str(error) == f"history database {PATH} {what} (the detail); {todo}"
    assert (error.path, error.code) == (PATH, name)


@pytest.mark.parametrize(("name", "code"), [("SQLITE_ERROR", "SQLITE_ERROR"), (None, None)])
def test_another_sqlite_error_is_named_with_its_text(name: str | None, code: str | None) -> None:
    error = store_error(sqlite_error("no such table: x", name), PATH)
    assert str(error) == f"history database {PATH}: no such table: x"
    assert (error.path, error.code) == (PATH, code)


def test_a_readonly_error_without_a_name_is_still_read_only() -> None:
    error = store_error(sqlite_error("attempt to write a readonly database", None), PATH)
    assert error.code == "SQLITE_READONLY"
    assert str(error).startswith(f"history database {PATH} is read-only (attempt to write a readonly database)")


def test_a_real_sqlite_error_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"not a database" * 100)
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            db.execute("SELECT * FROM sqlite_master")
    finally:
        db.close()
    error = store_error(caught.value, path)
    assert error.code == "SQLITE_NOTADB"
    assert "is not a database" in str(error) and "move it aside" in str(error)


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/data/llmchat"), "Permission denied: /data/llmchat"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError("odd failure"), "odd failure"),
    ],
)
def test_an_os_error_is_a_folder_that_cannot_be_created(exc: OSError, detail: str) -> None:
    error = store_error(exc, PATH)
    assert str(error) == (f"history database {PATH} cannot be created ({detail}); "
                          "check that its folder can be created and written")
    assert (error.path, error.code) == (PATH, None)


def test_a_newer_schema_is_one_line_naming_the_file_and_the_cause() -> None:
    error = schema_too_new("schema version 99; this llmchat knows up to version 6", PATH)
    assert isinstance(error, SchemaTooNew)
    assert str(error) == (
        f"history database {PATH} was written by a newer llmchat (schema version 99; this llmchat"
        " knows up to version 6); upgrade llmchat, or point XDG_DATA_HOME elsewhere. Nothing was written to it")
    assert (error.path, error.code) == (PATH, "SCHEMA_TOO_NEW")
    assert "\n" not in str(error)


def test_the_error_hierarchy() -> None:
    assert issubclass(StoreError, LlmchatError)
    assert issubclass(ConversationNotFound, StoreError) and issubclass(SchemaTooNew, StoreError)
    plain = StoreError("x")
    assert (plain.path, plain.code) == (None, None)
