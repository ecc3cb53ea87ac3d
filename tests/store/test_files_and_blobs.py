"""The database file (llmchat/store/connection.py: permissions, connection settings, the
read-only connection) and attachment bytes (llmchat/store/blobs.py: one blob per content,
loading in batches of SQLite's parameter limit, text back from bytes, unused blobs dropped)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llmchat.chat.models import Attachment, Message
from llmchat.store import Store, StoreError, blobs
from llmchat.store.connection import connect, connect_read_only, create_owner_only
from tests.test_history_access import make_history, read_only


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- permissions --------------------------------------------------------------------------


def test_missing_folders_are_made_and_the_last_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.db"
    create_owner_only(path)
    assert path.is_file() and path.stat().st_size == 0
    assert mode_of(path.parent) == 0o700
    assert mode_of(path) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o755)
    create_owner_only(folder / "history.db")
    assert mode_of(folder) == 0o755


@pytest.mark.parametrize(
    ("before", "after"),
    [(0o644, 0o600), (0o640, 0o600), (0o604, 0o600), (0o601, 0o600), (0o610, 0o600), (0o666, 0o600),
     (0o777, 0o700), (0o600, 0o600), (0o700, 0o700),
     (0o400, 0o400), (0o444, 0o400)],
)
def test_an_existing_file_is_narrowed_to_its_owner_and_keeps_its_owners_bits(
    tmp_path: Path, before: int, after: int
) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"")
    os.chmod(path, before)
    create_owner_only(path)
    assert mode_of(path) == after


def test_a_file_whose_mode_cannot_be_changed_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    if os.geteuid() != 0:
        pytest.skip("only root can make a file whose mode its owner cannot change (chattr +i)")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here")
    try:
        create_owner_only(path)  # chmod fails (EPERM): not ours to change, no error
        assert mode_of(path) == 0o644
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_existing_content_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"whatever was there")
    create_owner_only(path)
    assert path.read_bytes() == b"whatever was there"


# -- connections --------------------------------------------------------------------------


def test_a_connection_is_autocommit_wal_with_foreign_keys_and_rows(tmp_path: Path) -> None:
    conn = connect(tmp_path / "h.db", 1.5)
    try:
        assert conn.isolation_level is None and not conn.in_transaction
        assert conn.row_factory is sqlite3.Row
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 1500
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        conn.execute("CREATE TABLE t (x)")  # autocommit: visible to another connection at once
        other = sqlite3.connect(tmp_path / "h.db")
        assert other.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone() == (1,)
        other.close()
    finally:
        conn.close()


def test_the_check_runs_before_anything_is_written_and_may_refuse(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    seen: list[tuple[int, str]] = []

    def refuse(conn: sqlite3.Connection) -> None:
        seen.append((conn.execute("PRAGMA busy_timeout").fetchone()[0],
                     conn.execute("PRAGMA journal_mode").fetchone()[0]))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        connect(path, 2.0, check=refuse)
    assert seen == [(2000, "delete")]  # the timeout is set, the journal not switched yet
    assert path.stat().st_size == 0  # nothing written
    assert not path.with_name("h.db-wal").exists()


def test_a_check_that_passes_gives_the_connection(tmp_path: Path) -> None:
    calls: list[sqlite3.Connection] = []
    conn = connect(tmp_path / "h.db", 1.0, check=calls.append)
    try:
        assert calls == [conn]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_a_read_only_connection_reads_and_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    cid = make_history(path)
    conn = connect_read_only(path)
    try:
        assert conn.row_factory is sqlite3.Row and conn.isolation_level is None
        assert conn.execute("SELECT id FROM conversations").fetchone()["id"] == cid
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM conversations")
    finally:
        conn.close()


def test_a_read_only_store_answers_from_another_thread(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    cid = make_history(path)
    with Store.open(path, read_only=True) as store, ThreadPoolExecutor(1) as pool:  # asyncio.to_thread
        assert pool.submit(store.resolve, "latest").result(timeout=30) == cid
        assert {h.conversation_id for h in pool.submit(store.search, "stored").result(timeout=30)} == {cid}
        assert pool.submit(store.search, "absent").result(timeout=30) == []  # a search, not a listing


def test_a_read_only_connection_opens_a_folder_nobody_may_write(tmp_path: Path) -> None:
    path = tmp_path / "data" / "h.db"
    cid = make_history(path)
    assert not path.with_name("h.db-shm").exists()  # closed cleanly: no -shm to share
    with read_only(path.parent):
        conn = connect_read_only(path)
        try:
            assert conn.execute("SELECT id FROM conversations").fetchone()[0] == cid
        finally:
            conn.close()
    assert not path.with_name("h.db-shm").exists()


def test_a_missing_file_is_not_created_by_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(sqlite3.Error):
        connect_read_only(path)
    assert not path.exists()
    with pytest.raises(StoreError, match="missing.db"):
        Store.open(path, read_only=True)
    assert not path.exists()


# -- blobs --------------------------------------------------------------------------------


def test_the_key_is_the_sha256_in_hex() -> None:
    # FIPS 180-2's example: SHA-256("abc").
    assert blobs.content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert blobs.content_hash(b"") == hashlib.sha256(b"").hexdigest()


def _conn(store: Store) -> sqlite3.Connection:
    assert store._conn is not None
    return store._conn


def test_loading_crosses_the_500_parameter_batches(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    with_files = {}
    for n in (0, 1, 498, 499, 500, 501, 999, 1000):
        mid = store.add_message(cid, Message("user", f"m{n}", attachments=[
            Attachment(f"f{n}.txt", "text/plain", f"file {n}".encode())]))
        with_files[n] = mid
    ids = [with_files.get(n, f"UNKNOWN{n}") for n in range(1001)]
    found = blobs.load(_conn(store), ids)
    assert sorted(found) == sorted(with_files.values())
    for n, mid in with_files.items():
        assert [(a.name, a.text) for a in found[mid]] == [(f"f{n}.txt", f"file {n}")]
    assert blobs.load(_conn(store), []) == {}
    assert blobs.load(_conn(store), iter([with_files[500]])) == {with_files[500]: found[with_files[500]]}


@pytest.mark.parametrize(
    ("media_type", "data", "text"),
    [
        ("text/plain", "héllo".encode(), "héllo"),
        ("text/plain", b"\xef\xbb\xbfwith a BOM", "with a BOM"),
        ("text/plain", b"bad \xff byte", "bad \ufffd byte"),
        ("text/plain", b"", ""),
        ("image/png", b"\x89PNG\r\n\x1a\n", None),
        ("application/pdf", b"%PDF-1.4 text", None),
    ],
)
def test_only_a_text_attachment_gets_text_back_from_its_bytes(
    store: Store, media_type: str, data: bytes, text: str | None
) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "see", attachments=[Attachment("f", media_type, data, "sent text")]))
    (loaded,) = store.load_conversation(cid)[1].messages[0].attachments
    assert (loaded.name, loaded.media_type, loaded.data, loaded.text) == ("f", media_type, data, text)


def test_the_same_bytes_twice_in_one_message_are_one_blob_and_two_links(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    same = [Attachment("a.png", "image/png", b"\x89PNG same"), Attachment("b.png", "image/png", b"\x89PNG same"),
            Attachment("c.png", "image/png", b"\x89PNG other")]
    store.add_message(cid, Message("user", "", attachments=same))
    rows = _conn(store).execute("SELECT hash, size FROM blobs ORDER BY size").fetchall()
    assert [tuple(r) for r in rows] == sorted(
        [(blobs.content_hash(b"\x89PNG same"), 9), (blobs.content_hash(b"\x89PNG other"), 10)], key=lambda r: r[1])
    links = _conn(store).execute("SELECT position, name FROM message_attachments ORDER BY position").fetchall()
    assert [tuple(r) for r in links] == [(0, "a.png"), (1, "b.png"), (2, "c.png")]
    assert [a.name for a in store.load_conversation(cid)[1].messages[0].attachments] == ["a.png", "b.png", "c.png"]


def test_drop_unused_deletes_only_unlinked_blobs_and_counts_them(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "", attachments=[Attachment("a.png", "image/png", b"kept")]))
    conn = _conn(store)
    conn.execute("INSERT INTO blobs (hash, size, data) VALUES ('x', 1, x'00'), ('y', 1, x'01')")
    assert blobs.drop_unused(conn) == 2
    assert blobs.drop_unused(conn) == 0
    assert [r[0] for r in conn.execute("SELECT hash FROM blobs")] == [blobs.content_hash(b"kept")]


def test_a_database_without_the_tables_has_no_attachments() -> None:
    db = sqlite3.connect(":memory:")
    try:
        assert blobs.has_tables(db) is False
        assert blobs.load(db, ["M1"]) == {}
        assert blobs.drop_unused(db) == 0
        db.execute("CREATE TABLE message_attachments (x)")
        assert blobs.has_tables(db) is True
    finally:
        db.close()
