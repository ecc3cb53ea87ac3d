"""Snapshots of the chat screen at three terminal sizes, a reply streaming: a wide terminal
(160x48) with the sidebar, a classic one (80x24) and a small one (60x20), where the sidebar has
folded away and the footer is compact (tui/screens/chat_layout.py).

The reply, its fixed timings and the way the app is driven are those of test_snapshots.py;
regenerate with ``python -m pytest tests/tui/test_layout_snapshots.py --snapshot-update`` and
look at each SVG.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.pilot import Pilot

from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.fitting_footer import FittingFooter
from llmchat.tui.widgets.sidebar import Sidebar
from tests.tui.helpers import wait_until
from tests.tui.test_snapshots import (  # noqa: F401  (clock, fixed_terminal: fixtures)
    FINISHED,
    FakeClock,
    Snap,
    clock,
    finished_reply,
    fixed_terminal,
    make_app,
    mid_stream,
    reply_mid_stream,
)

SIZES = [(160, 48), (80, 24), (60, 20)]


async def check_fitted(pilot: Pilot[None], size: tuple[int, int]) -> None:
    """The screen is fitted to `size`: the sidebar is there only from 110 columns on, and the
    footer shows the keys that fit whole (waited for: it fits them after a layout)."""
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    assert screen.size == size
    assert screen.query_one(Sidebar).display == (size[0] >= 110)
    footer = screen.query_one(FittingFooter)
    await wait_until(pilot, lambda: footer.fitted)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_reply_streaming_at_size(snap_compare: Snap, clock: FakeClock, size: tuple[int, int]) -> None:
    """Half a reply rendered, still streaming: at 160x48 with the sidebar, at 80x24 and 60x20
    without it; the footer offers Escape (Stop reply) and leaves out the keys that do not fit."""

    async def run_before(pilot: Pilot[None]) -> None:
        await reply_mid_stream(pilot)
        await check_fitted(pilot, size)

    assert snap_compare(make_app(clock, mid_stream(asyncio.Event())), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES[1:], ids=[f"{w}x{h}" for w, h in SIZES[1:]])
def test_finished_reply_at_size(snap_compare: Snap, clock: FakeClock, size: tuple[int, int]) -> None:
    """The whole reply with its figures line under it, where the sidebar is folded away (the
    line is what shows the reply's figures there, wrapped between figures); the footer no
    longer offers Escape."""

    async def run_before(pilot: Pilot[None]) -> None:
        await finished_reply(pilot)
        await check_fitted(pilot, size)

    assert snap_compare(make_app(clock, FINISHED), terminal_size=size, run_before=run_before)
