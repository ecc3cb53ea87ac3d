"""Persistence of conversations in SQLite (stdlib ``sqlite3``; no Textual, no network).

Typical use::

    store = Store.open(paths.data_dir() / "history.db")
    cid = store.create_conversation("openai", "gpt-4o-mini", system_prompt=None)
    store.add_message(cid, Message("user", "Hello"))          # before the request is sent
    mid = store.begin_reply(cid, "openai", "gpt-4o-mini")       # before the first token
    store.append_partial(mid, new_text, new_reasoning)           # about once a second
    store.finish_reply(mid, acc.message())                      # whatever way the stream ended

Any failure of the database raises :class:`StoreError`: report it once and keep chatting in
memory. Nothing here ever receives provider settings, so no API key can reach the file.
"""

from __future__ import annotations

from llmchat.store.errors import ConversationNotFound, SchemaTooNew, StoreError
from llmchat.store.export import FORMATS as EXPORT_FORMATS
from llmchat.store.records import ConversationSummary, MessagePage, SearchHit
from llmchat.store.sqlite import INTERRUPTED, STALE_AFTER, Store

__all__ = [
    "EXPORT_FORMATS",
    "INTERRUPTED",
    "STALE_AFTER",
    "ConversationNotFound",
    "ConversationSummary",
    "MessagePage",
    "SchemaTooNew",
    "SearchHit",
    "Store",
    "StoreError",
]
