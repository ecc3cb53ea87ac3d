"""Search limits not pinned elsewhere: an FTS5 snippet is 16 words around the match, and in the
LIKE fallback each control character (C0 and DEL, both ends of the range) separates words."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.chat.models import Message
from llmchat.store import Store, migrations


def add(store: Store, title: str, text: str) -> str:
    cid = store.create_conversation("openai", "m", None, title=title)
    store.add_message(cid, Message("user", text))
    return cid


def test_an_fts_snippet_is_16_words(store: Store) -> None:
    assert store.full_text
    text = " ".join(f"before{n}" for n in range(40)) + " needle " + " ".join(f"after{n}" for n in range(40))
    add(store, "t", text)
    add(store, "u", "before1 after1 and no match")
    (hit,) = store.search("needle")
    assert len(hit.snippet.strip("…").split()) == 16
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1f", "\x7f", "\t"])
def test_a_control_character_separates_words_in_the_like_fallback(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, control: str
) -> None:
    monkeypatch.setattr(migrations, "fts5_available", lambda db: False)
    with Store.open(db_path) as store:
        assert not store.full_text
        cid = add(store, "t", "pelicans fly high")
        add(store, "u", "pelicans swim")
        assert [h.conversation_id for h in store.search(f"fly{control}pelicans")] == [cid]
        assert store.search(f"swim{control}fly") == []
