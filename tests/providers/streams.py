"""What the HTTP-stack tests share: one small request, and a provider's stream read to its end
or to the error that ended it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from llmchat.providers.base import ChatRequest, Provider
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import StreamEvent
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from tests.loopback import LoopbackServer, Reply

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


async def drain(provider: Provider, request: ChatRequest = REQUEST) -> tuple[list[StreamEvent], ProviderError | None]:
    """Every event `provider` streams for `request`, and the ProviderError that ended the
    stream (None when it ended normally)."""
    events: list[StreamEvent] = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderError as error:
        return events, error
    return events, None


async def collect(server: LoopbackServer, policy: StreamPolicy, *, ollama: bool = False
                  ) -> tuple[list[StreamEvent], ProviderError | None]:
    """:func:`drain` of an OpenAI-compatible (or, with `ollama`, Ollama) provider on `server`."""
    async with httpx.AsyncClient(timeout=10) as client:
        if ollama:
            provider: OpenAIProvider | OllamaProvider = OllamaProvider(
                client=client, base_url=f"http://127.0.0.1:{server.port}", policy=policy)
        else:
            provider = OpenAIProvider(client=client, base_url=server.base_url, policy=policy)
        return await drain(provider)


def script(*replies: Reply) -> Callable[[Any], Reply]:
    """A loopback handler answering with `replies` in turn, the last one from then on."""
    queue = list(replies)
    return lambda _request: queue.pop(0) if len(queue) > 1 else queue[0]
