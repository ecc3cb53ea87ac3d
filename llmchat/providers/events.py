"""The typed stream events every provider yields (see shared/DESIGN.md, "Stream events").

A provider turns one request into an async iterator of these events, in the order the
model produced them. Every successful stream ends with exactly one :class:`Finish`, which
is always the last event; a :class:`Usage` (when the provider reported any) comes just
before it. Errors are not events: they are raised as :class:`~llmchat.providers.errors.ProviderError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]
"""Normalized finish reasons; `cancelled` is set by the client (Escape / Ctrl-C)."""

FINISH_REASONS: frozenset[str] = frozenset(get_args(FinishReason))


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """A piece of the answer text, in model order."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning ("thinking") text, shown apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """A finished reasoning block that the provider wants back, unchanged, when the reply is
    continued (its tool calls answered): Anthropic's ``{"type": "thinking", "thinking",
    "signature"}`` or ``{"type": "redacted_thinking", "data"}``.

    `block` is the provider's own block, opaque to everything but that provider: its text was
    already streamed as :class:`ReasoningDelta` events (a redacted block has none to show).
    Only blocks that can be sent back are given (a thinking block with its signature).
    """

    block: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """A piece of a refusal message (OpenAI `delta.refusal`)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call. Fragments with the same `index` belong to one call.

    `id` and `name` usually arrive only with the first fragment (None afterwards);
    `arguments_fragment` pieces are joined in order to form the call's JSON arguments.
    """

    index: int
    id: str | None
    name: str | None
    arguments_fragment: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one reply. Counts are tokens as the provider reports them."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_tokens: int | None = None
    """Input tokens served from the provider's prompt cache, when reported."""
    reasoning_tokens: int | None = None
    """Output tokens spent on reasoning, when reported."""
    cache_write_tokens: int | None = None
    """Input tokens written to the provider's prompt cache (Anthropic's
    ``cache_creation_input_tokens``, billed above the input price), when reported; part of
    `input_tokens` like `cached_tokens`."""


@dataclass(frozen=True, slots=True)
class Finish:
    """The terminal event: why the model stopped.

    `reason` is normalized; `raw` keeps the provider's own value (e.g. `"end_turn"`).
    `model` is the model the server says answered (Chat Completions ``model``, Anthropic
    ``message.model``, Ollama ``model``, Responses ``response.model``, Gemini
    ``modelVersion``), or None when the stream never named one; it can differ from the
    model asked for (routers, llama-server serving any name). It takes no part in equality.
    """

    reason: FinishReason
    raw: str | None = None
    model: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Retrying:
    """The request failed before any token and will be sent again after `delay` seconds.

    `attempt` counts retries from 1; `error` is the failure's one-line description.
    """

    attempt: int
    delay: float
    error: str


StreamEvent = (
    ContentDelta
    | ReasoningDelta
    | ThinkingBlock
    | RefusalDelta
    | ToolCallDelta
    | Usage
    | Finish
    | Retrying
)
"""Everything a provider stream can yield."""
