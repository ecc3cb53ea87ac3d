"""What the store returns besides :class:`~llmchat.chat.models.Message`, and row conversions."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from llmchat.chat.models import Message, Role, ToolCall
from llmchat.providers.events import FinishReason, Usage
from llmchat.store.ids import parse_timestamp

MessageState = Literal["streaming", "final"]
"""'streaming': a reply being written (or left by a process that died); 'final': complete."""

TITLE_LENGTH = 60
UNTITLED = "Untitled conversation"


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One line of the history list."""

    id: str
    title: str | None
    """The user's title, else the first line of the first user message; None while empty."""
    provider: str | None
    """The provider of the latest reply (or the one the conversation was created with)."""
    model: str | None
    """The model of the latest reply (or the one the conversation was created with)."""
    created_at: datetime
    updated_at: datetime
    """When a message was last added or a reply finished (UTC)."""
    message_count: int

    @property
    def display_title(self) -> str:
        """The title, or "Untitled conversation"."""
        return self.title or UNTITLED


@dataclass(frozen=True, slots=True)
class MessagePage:
    """A window of a conversation's messages, oldest first, for lazy loading."""

    messages: list[Message]
    first_position: int | None
    """Position of ``messages[0]``: pass it as `before_position` to load the page before."""
    has_more: bool
    """Whether older messages exist before this page."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search match: a message, or a conversation title when `message_id` is None."""

    conversation_id: str
    title: str | None
    message_id: str | None
    position: int | None
    """The message's position in its conversation (None for a title match)."""
    snippet: str
    """Plain text around the match, with "…" where it was cut."""
    highlights: tuple[tuple[int, int], ...]
    """(start, end) character spans of the matched words inside `snippet`."""


_NON_BLANK = re.compile(r"\S")


def default_title(text: str) -> str | None:
    """The first non-blank line of `text`, whitespace collapsed, cut to about 60 characters.

    Only the start of that line is looked at (``text.splitlines()`` made a string of every
    line of a 50 MB prompt, twice its size, to keep the first)."""
    start = _NON_BLANK.search(text)
    if start is None:
        return None
    line = text[start.start() : start.start() + 8 * TITLE_LENGTH].splitlines()[0]
    line = " ".join(line.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]
    space = cut.rfind(" ")
    if space >= TITLE_LENGTH // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


MESSAGE_COLUMNS = (
    "id, position, role, content, reasoning, refusal, tool_calls, tool_call_id, finish_reason,"
    " raw_finish_reason, input_tokens, output_tokens, total_tokens, cached_tokens,"
    " reasoning_tokens, cache_write_tokens, ttft, duration, provider, model, error, state, created_at"
)
"""The columns :func:`message_from_row` reads, in a SELECT list (see :func:`message_columns`)."""


def cache_write_column(db: sqlite3.Connection) -> str:
    """``cache_write_tokens`` in a SELECT list, or ``NULL AS cache_write_tokens`` for a
    read-only file of an older llmchat that has no such column (not migrated yet)."""
    if db.execute("SELECT 1 FROM _migrations WHERE name = 'cache_write_tokens'").fetchone():
        return "cache_write_tokens"
    return "NULL AS cache_write_tokens"


def message_columns(db: sqlite3.Connection) -> str:
    """:data:`MESSAGE_COLUMNS` as `db` can give them (see :func:`cache_write_column`)."""
    return MESSAGE_COLUMNS.replace("cache_write_tokens", cache_write_column(db))


def message_values(message: Message) -> dict[str, Any]:
    """The column values of `message`'s own fields (not ids, positions or times)."""
    usage = message.usage
    return {
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "refusal": message.refusal,
        "tool_calls": tool_calls_json(message.tool_calls),
        "tool_call_id": message.tool_call_id,
        "finish_reason": message.finish_reason,
        "raw_finish_reason": message.raw_finish_reason,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "total_tokens": usage.total_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "cache_write_tokens": usage.cache_write_tokens if usage else None,
        "ttft": message.ttft,
        "duration": message.duration,
        "error": message.error,
    }


def tool_calls_json(calls: list[ToolCall]) -> str | None:
    """Tool calls as JSON text, or None when there are none."""
    if not calls:
        return None
    return json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls])


def message_from_row(row: sqlite3.Row) -> Message:
    """A :class:`Message` from a row selected with :data:`MESSAGE_COLUMNS`."""
    usage = None
    if row["input_tokens"] is not None:
        usage = Usage(
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"] or 0,
            total_tokens=row["total_tokens"] or 0,
            cached_tokens=row["cached_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
            cache_write_tokens=row["cache_write_tokens"],
        )
    calls: list[ToolCall] = []
    if row["tool_calls"]:
        raw: Any = json.loads(row["tool_calls"])
        calls = [ToolCall(str(c["id"]), str(c["name"]), str(c["arguments"])) for c in raw]
    return Message(
        role=cast(Role, row["role"]),
        content=row["content"],
        reasoning=row["reasoning"],
        refusal=row["refusal"],
        tool_calls=calls,
        finish_reason=cast("FinishReason | None", row["finish_reason"]),
        raw_finish_reason=row["raw_finish_reason"],
        usage=usage,
        error=row["error"],
        ttft=row["ttft"],
        duration=row["duration"],
        tool_call_id=row["tool_call_id"],
        id=row["id"],
        provider=row["provider"],
        model=row["model"],
        created_at=parse_timestamp(row["created_at"]),
    )


def summary_from_row(row: sqlite3.Row) -> ConversationSummary:
    """A :class:`ConversationSummary` from a conversations row with a `message_count` column."""
    return ConversationSummary(
        id=row["id"],
        title=row["title"],
        provider=row["provider"],
        model=row["model"],
        created_at=parse_timestamp(row["created_at"]),
        updated_at=parse_timestamp(row["updated_at"]),
        message_count=row["message_count"],
    )
