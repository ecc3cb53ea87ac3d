"""A history database llmchat must not write (issue 20): one written by a newer llmchat is
refused with one line and left byte for byte as it was; a read-only data directory is still
listed, shown and exported, with one warning that new replies will not be stored."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import SchemaTooNew, Store, StoreError
from llmchat.store.migrations import schema_version
from tests.loopback import LoopbackServer
from tests.test_cli import ask, assert_clean_stderr, stream_of
from tests.test_cli_history import db_path, llmchat


def make_history(path: Path) -> str:
    with Store.open(path) as store:
        cid = store.create_conversation("openai", "m", None)
        store.add_message(cid, Message("user", "What is stored?"))
        reply = store.begin_reply(cid, "openai", "m")
        store.finish_reply(reply, Message("assistant", "The old answer.", finish_reason="stop"))
    return cid


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- a newer schema ---------------------------------------------------------------------------


def bump_version(path: Path, *, version: int | None = None, migration: str | None = None) -> None:
    db = sqlite3.connect(path)
    with db:
        if version is not None:
            db.execute(f"PRAGMA user_version = {version}")
        if migration is not None:
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (migration,))
    db.close()


def test_opening_records_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    make_history(path)
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == schema_version() > 0


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("bump", [{"version": 10_000}, {"migration": "from_the_future"}])
def test_store_refuses_a_newer_schema_and_writes_nothing(tmp_path: Path, bump: dict, read_only: bool) -> None:
    path = tmp_path / "h.db"
    make_history(path)
    bump_version(path, **bump)
    before = files_of(tmp_path)
    with pytest.raises(SchemaTooNew) as info:
        Store.open(path, read_only=read_only)
    message = str(info.value)
    assert "newer llmchat" in message and str(path) in message and "\n" not in message
    cause = "schema version 10000" if "version" in bump else "unknown migration 'from_the_future'"
    assert f"({cause}; this llmchat knows up to version {schema_version()})" in message  # the cause, named
    after = files_of(tmp_path)
    if read_only:  # a read-only connection may leave SQLite's empty side files; never data
        after = {name: data for name, data in after.items() if name == "h.db" or data.strip(b"\0")}
        after.pop("h.db-shm", None)
    assert after == before


def test_the_current_schema_is_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    cid = make_history(path)
    bump_version(path, version=schema_version())
    with Store.open(path) as store:
        assert store.latest_conversation_id() == cid


@pytest.mark.parametrize(
    "command",
    [("ask", "hello"), ("ask", "-c", "hello"), ("history",), ("history", "show", "latest"),
     ("export", "latest"), ("history", "search", "stored")],
)
def test_cli_refuses_a_newer_history_with_one_line_and_leaves_it_untouched(
    server: LoopbackServer, command: tuple[str, ...]
) -> None:
    server.handler = lambda request: stream_of("Hi there")
    path = db_path()
    make_history(path)
    bump_version(path, version=schema_version() + 1)
    before = files_of(path.parent)
    result = llmchat(server, *command)
    assert_clean_stderr(result.stderr)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "newer llmchat" in lines[0] and str(path) in lines[0]
    if command == ("ask", "hello"):  # answers, with history off for this run
        assert result.returncode == 0 and result.stdout == b"Hi there"
    else:
        assert result.returncode == 2
        assert server.requests == []
    assert files_of(path.parent) == before


# -- a read-only data directory ---------------------------------------------------------------


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` and its files unwritable, even for root (immutable attribute)."""
    files = [folder, *folder.iterdir()]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in files}
        for p in files:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    done = subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True, check=False)
    if done.returncode != 0:
        subprocess.run(["chattr", "-i", *map(str, files)], capture_output=True, check=False)
        pytest.skip(f"running as root and chattr +i is not possible here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], capture_output=True, check=True)


def test_a_read_only_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "h.db"
    cid = make_history(path)
    with read_only(path.parent):
        with pytest.raises(StoreError):
            Store.open(path)
        with Store.open(path, read_only=True) as store:
            assert store.read_only
            assert [c.id for c in store.list_conversations()] == [cid]
            assert "The old answer." in store.export(cid)
            with pytest.raises(StoreError, match="read-only|readonly"):
                store.create_conversation("openai", "m", None)


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        (("history", "--json"), "What is stored?"),
        (("history",), "What is stored?"),
        (("history", "show", "latest"), "The old answer."),
        (("export", "latest"), "The old answer."),
        (("export", "latest", "-f", "json"), "The old answer."),
        (("history", "search", "stored"), "What is stored?"),
    ],
)
def test_read_only_history_can_still_be_read(command: tuple[str, ...], expect: str) -> None:
    path = db_path()
    make_history(path)
    with read_only(path.parent):
        before = files_of(path.parent)
        result = llmchat(None, *command)
        after = files_of(path.parent)
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    assert expect in result.stdout.decode()
    if command == ("history", "--json"):
        json.loads(result.stdout)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "new replies will not be stored" in lines[0], lines
    assert after == before


@pytest.mark.parametrize("continued", [False, True])
def test_ask_with_a_read_only_history_still_answers(server: LoopbackServer, continued: bool) -> None:
    server.handler = lambda request: stream_of("Still here")
    path = db_path()
    make_history(path)
    with read_only(path.parent):
        before = files_of(path.parent)
        result = ask(server, *(("-c",) if continued else ()), "and now?")
        after = files_of(path.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Still here"
    assert_clean_stderr(result.stderr)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "history" in lines[0], lines
    assert after == before
    if continued:  # the stored conversation was sent along
        sent = [m["content"] for m in server.requests[-1].json()["messages"]]
        assert sent[:2] == ["What is stored?", "The old answer."]
