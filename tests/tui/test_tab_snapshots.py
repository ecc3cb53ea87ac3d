"""Snapshots: the tab bar with four tabs (a finished reply not seen yet, a reply streaming, a
failed one, and the visible new tab), at 160x48 and at 80x24 (see tests/tui/test_snapshots.py
for how snapshots are kept stable and updated)."""

from __future__ import annotations

import asyncio

import pytest
from textual.pilot import Pilot

from llmchat.providers.errors import ServerError
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.tab_bar import TabBar
from tests.fakes import FakeProvider
from tests.tui.helpers import THEME_DIRS, fake_settings, send, wait_until
from tests.tui.test_snapshots import (  # noqa: F401 - fixtures used by name
    FINISHED,
    FakeClock,
    Snap,
    chat_ready,
    clock,
    fixed_terminal,
)

SIZES = [(160, 48), (80, 24)]


def four_tabs() -> tuple[FakeProvider, list[asyncio.Event]]:
    """Scripts of three requests: a reply held until its gate opens; one that never ends; one
    that fails once its gate opens."""
    done, fails, never = asyncio.Event(), asyncio.Event(), asyncio.Event()
    reply = [done, *[item for item in FINISHED if not type(item).__name__ == "At"]]
    return FakeProvider(reply, [never], [fails, ServerError("the server fell over", status=500)]), [done, fails]


def runner(gates: list[asyncio.Event]):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, LlmChatApp)
        await chat_ready(pilot)
        for question in ("Show me what streaming Markdown looks like", "A question that takes a while",
                         "One that fails"):
            await send(pilot, question)
            await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.streaming)
            await pilot.press("ctrl+t")
            count = len(app.tabs.screens)
            await wait_until(pilot, lambda: app.screen is app.tabs.screens[count - 1] and app.screen.is_mounted)
        for gate in gates:
            gate.set()
        first, second, third, _ = app.tabs.screens
        await wait_until(pilot, lambda: not first.streaming and not third.streaming)
        screen = await chat_ready(pilot)
        bar = screen.query_one(TabBar)
        await wait_until(pilot, lambda: [e.mark for e in bar.entries] == ["done", "busy", "error", ""])
        screen.query_one(PromptInput).cursor_blink = False
        for toast in app.screen.query("Toast"):
            toast.remove()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_tab_bar(snap_compare: Snap, clock: FakeClock, size: tuple[int, int]) -> None:  # noqa: F811
    provider, gates = four_tabs()
    app = LlmChatApp(fake_settings(LLMCHAT_MODEL="gpt-4o-mini"), provider=provider, theme_dirs=THEME_DIRS)
    assert snap_compare(app, terminal_size=size, run_before=runner(gates))
