"""What every provider takes and gives: a :class:`ChatRequest` in, stream events out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmchat import __version__
from llmchat.providers.events import StreamEvent
from llmchat.providers.redaction import SecretHeaders

WireMessage = Mapping[str, Any]
"""One message in Chat Completions shape: ``{"role": "user"|"assistant"|"tool", "content": str, ...}``."""


WIRE_EXTENSIONS = frozenset({"thinking_blocks", "is_error", "images"})
"""Keys llmchat adds to Chat Completions shaped messages for the Anthropic provider alone;
every other provider leaves them out of its request (OpenAI-compatible servers may reject unknown keys).

- ``thinking_blocks`` (assistant): Anthropic's own ``thinking`` / ``redacted_thinking`` block
  dicts of that reply, in order, opaque (see :class:`~llmchat.providers.events.ThinkingBlock`).
- ``is_error`` (tool): ``True`` when the call failed (denied, error, timeout, not run); sent
  as ``tool_result.is_error``.
- ``images`` (tool): ``[{"media_type", "data"}]``, base64 images of the result (an MCP tool's
  image content); sent as ``image`` blocks in the ``tool_result``.
"""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A provider-neutral chat request.

    Attributes:
        model: the model name as the provider knows it.
        messages: the conversation so far, oldest first, without the system prompt.
        system: the system prompt, or None.
        tools: tool definitions in Chat Completions ``{"type": "function", ...}`` shape.
        options: generation options by neutral name (``temperature``, ``top_p``, ``top_k``,
            ``max_tokens``, ``stop``, ``seed``, ``reasoning_effort``, ``thinking_budget``);
            each provider maps them onto its own fields and drops what it has no field for.
        prompt: set for a text completion (base models): the raw prompt to continue;
            `messages` and `system` are then not sent. OpenAI-compatible servers only.
    """

    model: str
    messages: Sequence[WireMessage]
    system: str | None = None
    tools: Sequence[Mapping[str, Any]] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None


class Provider(Protocol):
    """A wire protocol. `stream` yields the events of one reply and raises ProviderError."""

    name: str
    """The provider or profile name shown to the user (e.g. "openai", "groq")."""

    async def list_models(self) -> list[str]:
        """The model names the provider serves, sorted.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Send `request` and yield its stream events; the last one is always a Finish.

        Raises:
            ProviderError: any subclass, on an HTTP error, a network failure, an in-band error
                event, or a stream that ended before the provider's terminal signal.
        """
        ...


def provider_headers(accept: str, extra: Mapping[str, str] | None, key: tuple[str, str] | None) -> SecretHeaders:
    """The headers of a provider's requests: ``Accept: {accept}``, ``User-Agent:
    llmchat/VERSION``, then `extra` (a profile's ``headers``, which may replace those two),
    then the key's header `key` (``("Authorization", "Bearer ...")``; None without a key).
    Their repr hides the key (:class:`~llmchat.providers.redaction.SecretHeaders`)."""
    headers = SecretHeaders({"Accept": accept, "User-Agent": f"llmchat/{__version__}", **(extra or {})})
    if key is not None:
        headers[key[0]] = key[1]
    return headers
