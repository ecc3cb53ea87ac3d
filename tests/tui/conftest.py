"""The shared set-up of the TUI tests: the app on its ChatScreen, talking to a FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest
from textual.pilot import Pilot

from llmchat.chat.tools import ToolRegistry
from llmchat.config import Settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, chat_screen, make_app


@dataclass
class Chat:
    """A running LlmChatApp on its ChatScreen, and the FakeProvider it talks to."""

    app: LlmChatApp
    pilot: Pilot[None]
    screen: ChatScreen
    provider: FakeProvider


OpenChat = Callable[..., AbstractAsyncContextManager[Chat]]
"""``open_chat(*scripts, settings=None, size=SIZE, registry=None)``: see :func:`open_chat`."""


@pytest.fixture
def open_chat() -> OpenChat:
    """Start the app under ``run_test`` on a ChatScreen: ``async with open_chat(script) as chat``.

    Args (of the returned function):
        *scripts: the FakeProvider's scripts, or one FakeProvider.
        settings: the app's settings (default: a provider that is never reached).
        size: the terminal size.
        registry: tools offered to the model (default: none).
    """

    @asynccontextmanager
    async def start(*scripts: object, settings: Settings | None = None, size: tuple[int, int] = SIZE,
                    registry: ToolRegistry | None = None) -> AsyncIterator[Chat]:
        if len(scripts) == 1 and isinstance(scripts[0], FakeProvider):
            provider = scripts[0]
        else:
            provider = FakeProvider(*scripts)  # type: ignore[arg-type]
        app = make_app(provider, settings)
        async with app.run_test(size=size) as pilot:
            screen = chat_screen(pilot)
            if registry is not None:
                screen.registry = registry
            yield Chat(app, pilot, screen, provider)

    return start
