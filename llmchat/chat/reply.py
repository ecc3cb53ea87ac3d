"""The reply loop: run a provider, feed the accumulator, re-yield the events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.providers.base import ChatRequest, Provider
from llmchat.providers.events import StreamEvent


async def stream_reply(
    provider: Provider, request: ChatRequest, accumulator: Accumulator
) -> AsyncIterator[StreamEvent]:
    """Stream one reply: every event is folded into `accumulator`, then yielded.

    However the stream ends, the accumulator records it: the Finish event; "cancelled" when
    the task is cancelled or the consumer closes this generator early (the provider's HTTP
    response is closed either way); "error" with the message when anything is raised.

    Raises:
        ProviderError: as raised by the provider (the accumulator keeps the partial reply).
        asyncio.CancelledError: re-raised, never swallowed.
    """
    accumulator.start()
    try:
        async with aclosing(provider.stream(request)) as events:
            async for event in events:
                accumulator.add(event)
                yield event
    except (asyncio.CancelledError, GeneratorExit):
        accumulator.cancel()
        raise
    except Exception as exc:
        accumulator.fail(exc)
        raise


async def complete_reply(provider: Provider, request: ChatRequest) -> Message:
    """Stream one reply to the end and return it folded: content, reasoning, tool calls,
    finish reason, usage and timings (TTFT and duration in seconds).

    Raises:
        ProviderError: as raised by the provider.
    """
    accumulator = Accumulator()
    async with aclosing(stream_reply(provider, request, accumulator)) as events:
        async for _ in events:
            pass
    return accumulator.message()
