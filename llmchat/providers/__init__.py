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
    Retrying,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.tls import LazySSLContext

__all__ = [
    "ChatRequest",
    "ContentDelta",
    "Finish",
    "FinishReason",
    "Provider",
    "ProviderError",
    "ReasoningDelta",
    "Retrying",
    "StreamPolicy",
    "RefusalDelta",
    "StreamEvent",
    "ThinkingBlock",
    "ToolCallDelta",
    "Usage",
    "create_provider",
    "make_client",
]

KINDS = ("openai", "anthropic", "ollama", "openai-responses", "gemini")
"""Wire protocols implemented so far."""


def make_client() -> httpx.AsyncClient:
    """The shared HTTP client. Streams set their own timeouts (see :class:`StreamPolicy`);
    other requests (model lists) wait 30 s at most. The TLS context is made at the first
    https connection (:class:`~llmchat.providers.tls.LazySSLContext`)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False, verify=LazySSLContext()
    )


def create_provider(
    kind: str,
    *,
    client: httpx.AsyncClient,
    name: str,
    base_url: str,
    api_key: str | None,
    headers: dict[str, str] | None = None,
    policy: StreamPolicy | None = None,
) -> Provider:
    """Build the provider for a wire protocol `kind` (one of :data:`KINDS`).

    `base_url` is what each protocol expects: for ``openai`` the API root including ``/v1``
    (requests go to ``{base_url}/chat/completions``); for ``anthropic`` the root without
    ``/v1`` (``{base_url}/v1/messages``; a trailing ``/v1`` is accepted); for ``ollama`` the
    server root, i.e. ``OLLAMA_HOST`` parsed (``{base_url}/api/chat``); for
    ``openai-responses`` the same root as ``openai`` (``{base_url}/responses``); for
    ``gemini`` the root without a version
    (``{base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse``).

    Raises:
        ValueError: for an unknown `kind`.
    """
    if kind == "openai":
        from llmchat.providers.openai import OpenAIProvider as cls
    elif kind == "anthropic":
        from llmchat.providers.anthropic import AnthropicProvider as cls  # type: ignore[assignment]
    elif kind == "ollama":
        from llmchat.providers.ollama import OllamaProvider as cls  # type: ignore[assignment]
    elif kind == "openai-responses":
        from llmchat.providers.responses import ResponsesProvider as cls  # type: ignore[assignment]
    elif kind == "gemini":
        from llmchat.providers.gemini import GeminiProvider as cls  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown provider kind {kind!r}; known: {', '.join(KINDS)}")
    return cls(client=client, base_url=base_url, api_key=api_key, name=name, headers=headers, policy=policy)
