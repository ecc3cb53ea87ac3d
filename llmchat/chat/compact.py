"""Compacting a conversation: the model summarises the older messages, the user corrects the
summary, and the conversation goes on from the summary and the newest exchange.

The summary goes into the system prompt ("Summary of the earlier conversation: ..."), so no
message is invented in anyone's name, and the kept messages start at a user message (a tool
call and its result are never split). The compacted conversation is a fork
(:meth:`ChatSession.fork`): the original, every message of it, stays in the history.
"""

from __future__ import annotations

import copy
from contextlib import aclosing

from llmchat.chat.engine import ChatSession, Recording
from llmchat.chat.models import Conversation, Message
from llmchat.providers.events import ContentDelta

COMPACT_PROMPT = (
    "Summarise our conversation so far for yourself, to continue it with the summary in place of "
    "the messages: the user's goal, the facts, decisions, names, numbers and code that matter, "
    "and what is still open. Write only the summary."
)
"""The request that asks for the summary (sent once, never stored)."""
SUMMARY_HEADING = "Summary of the earlier conversation:"


def split_point(messages: list[Message], keep: int) -> int:
    """Where the kept messages start: the last user message at or before ``len - keep``
    (0 when there is none, i.e. nothing to compact)."""
    index = max(len(messages) - keep, 0)
    while index > 0 and messages[index].role != "user":
        index -= 1
    return index


async def summarise(session: ChatSession, keep: int = 2) -> str:
    """Ask the session's model for a summary of the messages before the kept ones.

    Raises:
        ValueError: there is nothing older than the kept messages.
        ProviderError: the request failed.
    """
    messages = session.conversation.messages
    cut = split_point(messages, keep)
    if cut == 0:
        raise ValueError("there is nothing older than the last exchange to summarise")
    older = Conversation(system=session.conversation.system,
                         messages=[*messages[:cut], Message("user", COMPACT_PROMPT)])
    request = older.request(session.model, **session.options)
    pieces: list[str] = []
    async with aclosing(session.provider.stream(request)) as events:  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, ContentDelta):
                pieces.append(event.text)
    return "".join(pieces).strip()


def compacted(session: ChatSession, summary: str, recorder: Recording | None = None, keep: int = 2) -> ChatSession:
    """A fork of `session` whose system prompt carries `summary` and whose messages are the
    kept ones (from :func:`split_point`); recorded as a new conversation by `recorder`."""
    messages = session.conversation.messages
    cut = split_point(messages, keep)
    system = "\n\n".join(part for part in (session.conversation.system, f"{SUMMARY_HEADING}\n{summary}") if part)
    source = ChatSession(
        session.provider, session.model,
        Conversation(system=system, messages=[copy.deepcopy(m) for m in messages[cut:]]),
        options=session.options, tools=session.tools, approve=session.approve,
        max_tool_rounds=session.max_tool_rounds, tool_limits=session.tool_limits, text=session.text,
        fold_text=session.fold_text, clock=session.clock, save_every=session.save_every,
    )
    return source.fork(recorder)
