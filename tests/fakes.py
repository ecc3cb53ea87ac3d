"""FakeProvider: yields scripted events, optionally blocking on an asyncio.Event (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from llmchat.providers.base import ChatRequest
from llmchat.providers.events import StreamEvent


class FakeProvider:
    """A Provider whose replies are scripted.

    Each call to :meth:`stream` takes the next script from `scripts` (the last one repeats).
    A script item is a StreamEvent to yield, an Exception to raise, or an asyncio.Event to wait
    for (a test that never sets it keeps the stream open, e.g. to press Escape).
    """

    name = "fake"

    def __init__(self, *scripts: Sequence[object]) -> None:
        self.scripts = list(scripts)
        self.requests: list[ChatRequest] = []
        self.closed = 0
        """How many streams were closed before their script ended (cancel / aclose)."""
        self.waiting = False
        """True while a stream waits for one of its script's asyncio.Events (a test's condition)."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        script = self.scripts[min(len(self.requests), len(self.scripts)) - 1]
        try:
            for item in script:
                if isinstance(item, asyncio.Event):
                    self.waiting = True
                    try:
                        await item.wait()
                    finally:
                        self.waiting = False
                elif isinstance(item, BaseException):
                    raise item
                else:
                    await asyncio.sleep(0)
                    yield item  # type: ignore[misc]
        except (asyncio.CancelledError, GeneratorExit):
            self.closed += 1
            raise
