"""Full-text search over stored messages and titles: FTS5 when present, LIKE otherwise.

User text is never passed to FTS5 as query syntax: every whitespace-separated word becomes a
quoted phrase, so quotes, ``AND``/``OR``/``NOT``/``NEAR``, ``*``, ``^`` and parentheses are
just text, and all words must occur (in any order), each as a word or a word's beginning.
"""

from __future__ import annotations

import re
import sqlite3

from llmchat.store.records import SearchHit

_OPEN, _CLOSE = "\x02", "\x03"  # match markers inside FTS5 snippets; stripped before return
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SNIPPET_TOKENS = 16
LIKE_CONTEXT = 60


def words(text: str) -> list[str]:
    """The words of a search: split on whitespace, control characters dropped."""
    return _CONTROL.sub(" ", text).split()


def fts_query(text: str) -> str | None:
    """`text` as a safe FTS5 query (quoted phrases, implicitly ANDed, each a prefix so that
    search works while a word is being typed); None if it has no words."""
    terms = ['"' + word.replace('"', '""') + '"*' for word in words(text)]
    return " ".join(terms) or None


def fts_search(db: sqlite3.Connection, text: str, limit: int) -> list[SearchHit]:
    """Title matches first, then message matches, each best first (bm25)."""
    query = fts_query(text)
    if query is None or limit <= 0:
        return []
    marks = (_OPEN, _CLOSE, "…", SNIPPET_TOKENS)
    titles = db.execute(
        "SELECT c.id, c.title, snippet(conversations_fts, 0, ?, ?, ?, ?)"
        " FROM conversations_fts JOIN conversations c ON c.seq = conversations_fts.rowid"
        " WHERE conversations_fts MATCH ? ORDER BY rank LIMIT ?",
        (*marks, query, limit),
    ).fetchall()
    hits = [_hit(row[0], row[1], None, None, row[2]) for row in titles]
    rows = db.execute(
        "SELECT m.conversation_id, c.title, m.id, m.position,"
        " snippet(messages_fts, 0, ?, ?, ?, ?)"
        " FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid"
        " JOIN conversations c ON c.id = m.conversation_id"
        " WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
        (*marks, query, limit - len(hits)),
    ).fetchall()
    hits += [_hit(row[0], row[1], row[2], row[3], row[4]) for row in rows]
    return hits


def like_search(db: sqlite3.Connection, text: str, limit: int) -> list[SearchHit]:
    """The fallback without FTS5: every word as a case-insensitive substring, newest first."""
    terms = words(text)
    if not terms or limit <= 0:
        return []
    patterns = ["%" + re.sub(r"([\\%_])", r"\\\1", t) + "%" for t in terms]
    where_title = " AND ".join("c.title LIKE ? ESCAPE '\\'" for _ in patterns)
    where_content = " AND ".join("m.content LIKE ? ESCAPE '\\'" for _ in patterns)
    titles = db.execute(
        f"SELECT c.id, c.title FROM conversations c WHERE {where_title}"
        " ORDER BY c.updated_at DESC LIMIT ?",
        (*patterns, limit),
    ).fetchall()
    hits = [_like_hit(row[0], row[1], None, None, row[1], terms) for row in titles]
    rows = db.execute(
        "SELECT m.conversation_id, c.title, m.id, m.position, m.content FROM messages m"
        f" JOIN conversations c ON c.id = m.conversation_id WHERE {where_content}"
        " ORDER BY m.created_at DESC LIMIT ?",
        (*patterns, limit - len(hits)),
    ).fetchall()
    hits += [_like_hit(row[0], row[1], row[2], row[3], row[4], terms) for row in rows]
    return hits


def _hit(
    conversation_id: str, title: str | None, message_id: str | None, position: int | None,
    marked: str,
) -> SearchHit:
    """A hit from an FTS5 snippet whose matches are wrapped in the marker characters."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start = 0
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", " ".join((marked or "").splitlines())):
        if piece == _OPEN:
            start = length
        elif piece == _CLOSE:
            spans.append((start, length))
        else:
            plain.append(piece)
            length += len(piece)
    return SearchHit(conversation_id, title, message_id, position, "".join(plain), tuple(spans))


def _like_hit(
    conversation_id: str, title: str | None, message_id: str | None, position: int | None,
    text: str | None, terms: list[str],
) -> SearchHit:
    """A hit with a snippet cut around the first occurrence of the first word."""
    flat = " ".join((text or "").split())
    lower = flat.lower()
    first = lower.find(terms[0].lower())
    begin = max(0, first - LIKE_CONTEXT)
    end = min(len(flat), max(first, 0) + LIKE_CONTEXT * 2)
    prefix = "…" if begin > 0 else ""
    snippet = prefix + flat[begin:end] + ("…" if end < len(flat) else "")
    spans = []
    window = lower[begin:end]
    for term in terms:
        for match in re.finditer(re.escape(term.lower()), window):
            spans.append((match.start() + len(prefix), match.end() + len(prefix)))
    return SearchHit(conversation_id, title, message_id, position, snippet, tuple(sorted(spans)))
