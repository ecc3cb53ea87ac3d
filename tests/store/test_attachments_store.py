"""Attachments in the history (llmchat.store.blobs): stored once per content hash, loaded back
in order, deleted with the last message that uses them, in the JSON export (base64) and the
Markdown transcript; a database written before the ``attachments`` migration keeps working."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from llmchat.chat.models import Attachment, Message
from llmchat.store import Store, migrations
from llmchat.store.blobs import content_hash

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
TEXT = Attachment("notes.txt", "text/plain", "héllo\n".encode(), "héllo\n")
IMAGE = Attachment("shot.png", "image/png", PNG)
PDF = Attachment("paper.pdf", "application/pdf", b"%PDF-1.4 fake", "extracted")


def count(store: Store, table: str) -> int:
    assert store._conn is not None
    return int(store._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_attachments_round_trip_in_order_and_bytes_are_stored_once(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "look", attachments=[IMAGE, TEXT, PDF]))
    store.add_message(cid, Message("assistant", "ok", finish_reason="stop"))
    store.add_message(cid, Message("user", "again", attachments=[IMAGE]))
    other = store.create_conversation("openai", "m", None)
    store.add_message(other, Message("user", "", attachments=[IMAGE]))
    assert count(store, "blobs") == 3  # the image once, for three messages
    assert count(store, "message_attachments") == 5
    first, _, second = store.load_conversation(cid)[1].messages
    assert [(a.name, a.media_type, a.data) for a in first.attachments] == [
        ("shot.png", "image/png", PNG), ("notes.txt", "text/plain", TEXT.data), ("paper.pdf", "application/pdf", PDF.data)]
    assert first.attachments[1].text == "héllo\n"  # text back from the bytes
    assert first.attachments[2].text is None  # a PDF's text is made again for the provider
    assert second.attachments == [IMAGE]
    assert store.list_conversations()[0].title == "shot.png"  # no prompt: titled by the file
    page = store.load_messages(cid, limit=1, before_position=1)
    assert page.messages[0].attachments[0].data == PNG


def test_deleting_messages_and_conversations_drops_unused_blobs(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "a", attachments=[IMAGE, TEXT]))
    kept = store.create_conversation("openai", "m", None)
    store.add_message(kept, Message("user", "b", attachments=[IMAGE]))
    store.delete(cid)
    assert count(store, "message_attachments") == 1
    assert count(store, "blobs") == 1
    assert store._conn is not None
    assert store._conn.execute("SELECT hash FROM blobs").fetchone()[0] == content_hash(PNG)
    (message,) = store.load_conversation(kept)[1].messages
    assert message.id is not None
    store.delete_messages([message.id])
    assert count(store, "blobs") == 0


def test_json_export_has_base64_and_markdown_lists_them(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "look", attachments=[IMAGE, TEXT]))
    exported = json.loads(store.export(cid, "json"))
    assert exported["messages"][0]["attachments"] == [
        {"name": "shot.png", "media_type": "image/png", "size": len(PNG), "data": base64.b64encode(PNG).decode()},
        {"name": "notes.txt", "media_type": "text/plain", "size": 7, "data": base64.b64encode(TEXT.data).decode()},
    ]
    markdown = store.export(cid, "md")
    assert f"- Attached: `shot.png` (image/png, {len(PNG)} bytes)\n- Attached: `notes.txt` (text/plain, 7 bytes)" in markdown


def make_old_database(path: Path) -> None:
    """A history written by the release before attachments: every migration but
    ``attachments``, with a conversation in it."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    original = migrations.MIGRATIONS[:]
    migrations.MIGRATIONS[:] = [(name, fn) for name, fn in original if name != "attachments"]
    try:
        db.execute("BEGIN IMMEDIATE")
        migrations.migrate(db)
        db.execute("COMMIT")
    finally:
        migrations.MIGRATIONS[:] = original
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('C1', 'old',"
               " '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z')")
    db.execute("INSERT INTO messages (id, conversation_id, position, role, content, created_at, updated_at)"
               " VALUES ('M1', 'C1', 0, 'user', 'old question', '2030-01-01T00:00:00.000Z',"
               " '2030-01-01T00:00:00.000Z')")
    db.close()


def test_an_older_database_opens_read_only_and_migrates_keeping_its_history(db_path: Path) -> None:
    make_old_database(db_path)
    with Store.open(db_path, read_only=True) as reader:  # no tables yet: no attachments
        (message,) = reader.load_conversation("C1")[1].messages
        assert (message.content, message.attachments) == ("old question", [])
    with Store.open(db_path) as store:
        (message,) = store.load_conversation("C1")[1].messages
        assert (message.content, message.attachments) == ("old question", [])
        store.add_message("C1", Message("user", "new", attachments=[IMAGE]))
        assert store.load_conversation("C1")[1].messages[1].attachments == [IMAGE]
    db = sqlite3.connect(db_path)
    try:
        assert migrations.applied_migrations(db)[-1] == "attachments"
    finally:
        db.close()
