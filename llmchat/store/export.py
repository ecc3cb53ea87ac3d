"""Conversations as JSON or a Markdown transcript (``llmchat export``)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any, Literal

from llmchat.chat.models import Conversation, Message
from llmchat.providers.events import Usage
from llmchat.store.records import ConversationSummary

ExportFormat = Literal["md", "json"]
FORMATS: tuple[ExportFormat, ...] = ("md", "json")


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def usage_json(usage: Usage | None) -> dict[str, int | None] | None:
    """Usage as in `llmchat ask --json`, plus cached (read from the prompt cache), cache-write
    (written to it) and reasoning tokens (null when unreported)."""
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def message_json(message: Message) -> dict[str, Any]:
    """One message as an export object."""
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "refusal": message.refusal or None,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
        "finish_reason": message.finish_reason,
        "raw_finish_reason": message.raw_finish_reason,
        "error": message.error,
        "usage": usage_json(message.usage),
        "ttft": message.ttft,
        "duration": message.duration,
        "provider": message.provider,
        "model": message.model,
        "created_at": _when(message.created_at),
        "attachments": [
            {"name": a.name, "media_type": a.media_type, "size": a.size,
             "data": base64.b64encode(a.data).decode("ascii")}
            for a in message.attachments
        ],
    }


def to_json(
    summary: ConversationSummary, conversation: Conversation,
    tree: tuple[list[Message], dict[str, str | None], str | None] | None = None,
) -> str:
    """The conversation as one JSON object (UTF-8 text, indented, ends with a newline).

    ``messages`` is the current path (root to current leaf). With `tree` (every message of
    the conversation oldest first, each message id's parent id, the current leaf's id) the
    object also has ``tree`` (every message, branches included, each with its ``parent_id``:
    null at a root) and ``current_leaf``; the path's messages get their ``parent_id`` too.
    """
    parents = tree[1] if tree is not None else {}
    data: dict[str, Any] = {
        "id": summary.id,
        "title": summary.title,
        "provider": summary.provider,
        "model": summary.model,
        "system_prompt": conversation.system,
        "created_at": _when(summary.created_at),
        "updated_at": _when(summary.updated_at),
        "messages": [message_json(m) for m in conversation.messages],
    }
    if tree is not None:
        for message, item in zip(conversation.messages, data["messages"], strict=True):
            item["parent_id"] = parents.get(message.id or "")
        data["current_leaf"] = tree[2]
        data["tree"] = [{**message_json(m), "parent_id": parents.get(m.id or "")} for m in tree[0]]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _fence(text: str, info: str = "") -> str:
    """`text` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def reply_footer(message: Message) -> str | None:
    """The italic status line under an assistant message: finish reason, usage, timings."""
    if message.role != "assistant":
        return None
    parts = []
    reason: str = message.finish_reason or "unfinished"
    if message.raw_finish_reason and message.raw_finish_reason != message.finish_reason:
        reason += f" ({message.raw_finish_reason})"
    parts.append(f"finish: {reason}")
    usage = message.usage
    if usage is not None:
        tokens = f"tokens: {usage.input_tokens} in, {usage.output_tokens} out, {usage.total_tokens} total"
        extra = []
        if usage.cached_tokens is not None:
            extra.append(f"{usage.cached_tokens} cached")
        if usage.cache_write_tokens is not None:
            extra.append(f"{usage.cache_write_tokens} written to cache")
        if usage.reasoning_tokens is not None:
            extra.append(f"{usage.reasoning_tokens} reasoning")
        parts.append(tokens + (f" ({', '.join(extra)})" if extra else ""))
    else:
        parts.append("usage: not reported")
    if message.ttft is not None:
        parts.append(f"first token {message.ttft:.2f} s")
    if message.duration is not None:
        parts.append(f"duration {message.duration:.2f} s")
    return "*" + " · ".join(parts).replace("*", "\\*") + "*"


def message_markdown(message: Message) -> str:
    """One message as a Markdown section."""
    heading = {"user": "User", "assistant": "Assistant", "tool": "Tool"}.get(message.role, message.role)
    details = [d for d in (message.model, _stamp(message.created_at)) if d]
    if message.role == "tool" and message.tool_call_id:
        details.insert(0, f"result of `{message.tool_call_id}`")
    lines = [f"## {heading}" + (f" · {' · '.join(details)}" if details else "")]
    if message.attachments:
        lines.append("\n".join(
            f"- Attached: `{a.name}` ({a.media_type}, {a.size} bytes)" for a in message.attachments))
    if message.reasoning:
        lines.append("**Reasoning:**\n\n" + _quote(message.reasoning))
    if message.content:
        lines.append(message.content.rstrip("\n"))
    if message.refusal:
        lines.append("**Refusal:** " + message.refusal)
    for call in message.tool_calls:
        lines.append(f"**Tool call** `{call.name}` (`{call.id}`):\n\n" + _fence(call.arguments, "json"))
    if message.error:
        lines.append("**Error:** " + message.error)
    footer = reply_footer(message)
    if footer:
        lines.append(footer)
    return "\n\n".join(lines)


def branch_note(others: int) -> str:
    """The line that marks where `others` other branches split off (before a message)."""
    return f"⎇ {others} other branch{'es' if others != 1 else ''} here"


def to_markdown(
    summary: ConversationSummary, conversation: Conversation, siblings: dict[str, int] | None = None
) -> str:
    """A faithful transcript of the current path: every message's text, reasoning, tool
    calls, finish and usage. `siblings` (message id -> how many messages share its parent,
    itself included) marks each message where other branches split off with
    :func:`branch_note`."""
    title = " ".join(summary.display_title.split())
    head = [f"# {title}", ""]
    head.append(f"- Conversation: `{summary.id}`")
    if summary.provider or summary.model:
        head.append(f"- Provider: {summary.provider or '?'} · Model: {summary.model or '?'}")
    head.append(f"- Created: {_stamp(summary.created_at)} · Updated: {_stamp(summary.updated_at)}")
    head.append(f"- Messages: {summary.message_count}")
    sections = ["\n".join(head)]
    if conversation.system:
        sections.append("## System\n\n" + conversation.system.rstrip("\n"))
    for message in conversation.messages:
        count = (siblings or {}).get(message.id or "", 1)
        if count > 1:
            sections.append(f"*{branch_note(count - 1)}*")
        sections.append(message_markdown(message))
    return "\n\n".join(sections) + "\n"
