"""``llmchat ask --dry-run``: the request that would be sent, counted, and nothing sent
(shared/DESIGN.md, "`ask --dry-run`").

The request is built by the engine (:meth:`ChatSession.next_request`) exactly as a turn
would build it: the history with ``-c``, the system prompt, the tools. No connection is
opened, no credentials are needed, nothing is stored. The plain output is one fact a line
on stdout; ``--json`` prints one object::

    {"provider", "model", "messages": int, "input_tokens": int,
     "token_count": "exact" | "estimate", "context_window": int | null,
     "cost": {"input": float, "currency": "USD"} | null}
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import IO, TYPE_CHECKING, Any

from llmchat.ask import EXIT_OK, EXIT_USAGE, ToolChoice, tool_registry
from llmchat.chat.counting import TokenCount, count_request
from llmchat.chat.engine import ChatSession
from llmchat.chat.models import Conversation
from llmchat.chat.pricing import PriceSource, format_usd
from llmchat.config import Settings
from llmchat.providers import make_client
from llmchat.safety import is_terminal, json_safe, note, terminal_safe

if TYPE_CHECKING:
    from llmchat.providers.base import ChatRequest


def run_dry_run(
    settings: Settings,
    conversation: Conversation,
    *,
    complete: bool = False,
    json_output: bool = False,
    tools: ToolChoice | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Build the request that answers `conversation` (its last message is the question),
    count its input tokens, price them, and print the facts; return the exit status (0, or
    2 when a named tool is unknown).

    Args:
        settings: provider, model, options, the config's prices.
        conversation: the conversation, ending with the user's message (not recorded).
        complete: count a raw text completion of the last message (``--complete``).
        json_output: print the ``--json`` object instead of one fact a line.
        tools: the tools a real run would offer (MCP servers are not started, so their tools
            are not counted: a warning says so).
        stdout, stderr: text streams (default: the process's).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    request = asyncio.run(_request(settings, conversation, complete, tools, stderr))
    if request is None:
        return EXIT_USAGE
    count = count_request(request, settings.provider.kind)
    facts = dry_run_facts(settings, count)
    if json_output:
        text = json.dumps(facts, ensure_ascii=False)
        print(json_safe(text) if is_terminal(stdout) else text, file=stdout, flush=True)
    else:
        for line in _plain_lines(facts):
            print(terminal_safe(line) if is_terminal(stdout) else line, file=stdout)
        stdout.flush()
    window = facts["context_window"]
    if window is not None and count.tokens > window:
        note(f"warning: the request ({count.tokens} tokens) does not fit the context window ({window})", file=stderr)
    return EXIT_OK


def dry_run_facts(settings: Settings, count: TokenCount) -> dict[str, Any]:
    """The ``--json`` object of a dry run whose request counted `count`."""
    model = settings.provider.model
    source = PriceSource(settings.provider.kind, settings.provider.base_url, settings.prices)
    cost = source.input_cost(count.tokens, model)
    return {
        "provider": settings.provider.name,
        "model": model,
        "messages": count.messages,
        "input_tokens": count.tokens,
        "token_count": count.kind,
        "context_window": source.context_window(model),
        "cost": None if cost is None else {"input": cost.input, "currency": cost.currency},
    }


def _plain_lines(facts: dict[str, Any]) -> list[str]:
    window = facts["context_window"]
    cost = facts["cost"]
    return [
        f"provider: {facts['provider']}",
        f"model: {facts['model']}",
        f"messages: {facts['messages']}",
        f"input tokens: {facts['input_tokens']} ({facts['token_count']})",
        f"context window: {window if window is not None else 'unknown'}",
        f"input cost: {format_usd(cost['input']) if cost is not None else 'unknown'}",
    ]


async def _request(
    settings: Settings, conversation: Conversation, complete: bool, choice: ToolChoice | None, err: IO[str]
) -> ChatRequest | None:
    """The first request of the turn, built by the engine; None when a tool name is unknown."""
    async with make_client() as client:  # the provider needs one; nothing is sent on it
        registry = None
        if choice is not None:
            if choice.mcp:
                note("warning: --dry-run starts no MCP server: their tools are not counted", file=err)
            if choice.builtin:
                registry = tool_registry(settings, choice, client, err)
                if registry is None:
                    return None
        session = ChatSession(
            settings.provider.create(client, settings.policy), settings.provider.model, conversation,
            options=settings.options, tools=registry, completion=complete,
        )
        return session.next_request()
