"""Wire protocols: each provider turns a ChatRequest into stream events. No UI, no storage."""

from __future__ import annotations

import httpx

from llmchat.providers.base import ChatRequest, Provider
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "ChatRequest",
    "ContentDelta",
    "Finish",
    "FinishReason",
    "Provider",
    "ProviderError",
    "ReasoningDelta",
    "RefusalDelta",
    "StreamEvent",
    "ToolCallDelta",
    "Usage",
    "create_provider",
    "make_client",
]

KINDS = ("openai", "anthropic", "ollama")
"""Wire protocols implemented so far."""


def make_client(timeout: float = 600.0, connect_timeout: float = 10.0) -> httpx.AsyncClient:
    """The shared HTTP client: `connect_timeout` to connect, `timeout` seconds of read silence.

    The read timeout is long because reasoning models may think for minutes before the first
    token.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
    )


def create_provider(
    kind: str,
    *,
    client: httpx.AsyncClient,
    name: str,
    base_url: str,
    api_key: str | None,
    headers: dict[str, str] | None = None,
) -> Provider:
    """Build the provider for a wire protocol `kind` (one of :data:`KINDS`).

    `base_url` is what each protocol expects: for ``openai`` the API root including ``/v1``
    (requests go to ``{base_url}/chat/completions``); for ``anthropic`` the root without
    ``/v1`` (``{base_url}/v1/messages``; a trailing ``/v1`` is accepted); for ``ollama`` the
    server root, i.e. ``OLLAMA_HOST`` parsed (``{base_url}/api/chat``).

    Raises:
        ValueError: for an unknown `kind`.
    """
    if kind == "openai":
        from llmchat.providers.openai import OpenAIProvider

        return OpenAIProvider(
            client=client, base_url=base_url, api_key=api_key, name=name, headers=headers
        )
    if kind == "anthropic":
        from llmchat.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            client=client, base_url=base_url, api_key=api_key, name=name, headers=headers
        )
    if kind == "ollama":
        from llmchat.providers.ollama import OllamaProvider

        return OllamaProvider(
            client=client, base_url=base_url, api_key=api_key, name=name, headers=headers
        )
    raise ValueError(f"unknown provider kind {kind!r}; known: {', '.join(KINDS)}")
