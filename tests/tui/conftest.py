"""The shared set-up of the TUI tests: the app on its ChatScreen, talking to a FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from llmchat.chat.tools import ToolRegistry
from llmchat.config import Settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, make_app, wait_until


@dataclass
class Chat:
    """A running LlmChatApp on its ChatScreen, and the FakeProvider it talks to."""

    app: LlmChatApp
    pilot: Pilot[None]
    screen: ChatScreen
    provider: FakeProvider


OpenChat = Callable[..., AbstractAsyncContextManager[Chat]]
"""``open_chat(*scripts, settings=None, size=SIZE, registry=None, history=None)``: see :func:`open_chat`."""


@pytest.fixture
def open_chat() -> OpenChat:
    """Start the app under ``run_test`` on a ChatScreen: ``async with open_chat(script) as chat``.

    Args (of the returned function):
        *scripts: the FakeProvider's scripts, or one FakeProvider.
        settings: the app's settings (default: a provider that is never reached).
        size: the terminal size.
        registry: tools offered to the model (default: none).
        history: the history database to record into (default: none).
    """

    @asynccontextmanager
    async def start(*scripts: object, settings: Settings | None = None, size: tuple[int, int] = SIZE,
                    registry: ToolRegistry | None = None, history: Path | None = None) -> AsyncIterator[Chat]:
        if len(scripts) == 1 and isinstance(scripts[0], FakeProvider):
            provider = scripts[0]
        else:
            provider = FakeProvider(*scripts)  # type: ignore[arg-type]
        if history is None:
            app = make_app(provider, settings)
        else:
            app = LlmChatApp(settings or fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=history)
        async with app.run_test(size=size) as pilot:
            # The first tab's screen is app.screen at once; its widgets are there once mounted.
            await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.is_mounted)
            screen = chat_screen(pilot)
            if registry is not None:
                screen.registry = registry
            yield Chat(app, pilot, screen, provider)

    return start


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """pytest-textual-snapshot's ``snap_compare``, which also fails when the screen it takes
    shows a toast: a toast covers the transcript's last lines (the very line a snapshot of an
    error or a reply is about) and times out, so the picture would depend on the machine's
    speed. Show a message in the transcript or the sidebar instead, or dismiss the toast."""

    def compare(app: LlmChatApp, *args: object, run_before: Callable[[Pilot[None]], object] | None = None,
                **kwargs: object) -> bool:
        async def checked(pilot: Pilot[None]) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if result is not None and hasattr(result, "__await__"):
                    await result  # type: ignore[misc]
            toasts = [str(toast.render()) for toast in pilot.app.screen.query("Toast")]
            assert not toasts, f"a toast covers the snapshot: {toasts}"

        return snap_compare(app, *args, run_before=checked, **kwargs)

    return compare
