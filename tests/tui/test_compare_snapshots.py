"""Snapshots of ``/compare`` (issue 16): three replies side by side at 160x48, one at a time
under tabs at 80x24 and 60x20; one reply ends normally, one at the token limit, one fails
mid-stream. See tests/tui/test_snapshots.py for how snapshots are kept stable and updated.

Each model's reply moves a clock of its own (a context variable: each comparison lane runs in
its own task), so every TTFT, tokens/s and duration is fixed whatever the interleaving.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar

from textual.pilot import Pilot

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import ServerError
from llmchat.providers.events import ContentDelta, Finish, StreamEvent, Usage
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.compare_view import CompareView
from tests.tui.helpers import THEME_DIRS, fake_settings, send, wait_until
from tests.tui.test_snapshots import At, Snap, chat_ready, fixed_terminal  # noqa: F401 - fixtures used by name

_NOW: ContextVar[float] = ContextVar("lane_now", default=0.0)


def lane_clock() -> float:
    """The current lane's fake monotonic clock (seconds); 0 until its script moves it."""
    return _NOW.get()


def tokens(text: str) -> list[ContentDelta]:
    return [ContentDelta(t) for t in re.findall(r"\s*\S+|\s+", text)]


FIRST = """Use a **set** when order does not matter: `set(items)`.

Membership tests are O(1) on average."""
"""(Short enough to fit the column at 60x20: a column's scroll bar is drawn at a moment that
depends on the machine's load, which a snapshot must not.)"""
SECOND = """A `set` is the usual answer, but a `dict` keeps the insertion order:

1. `dict.fromkeys(items)` drops duplicates
2. `list(...)` of it gives them back in order

For very large inputs, consider"""
THIRD = "Sets are hash tables, so"

SCRIPTS: dict[str, list[object]] = {
    "gpt-4o-mini": [At(0.31), *tokens(FIRST), Usage(24, 19, 43), At(1.20), Finish("stop")],
    "gpt-4.1": [At(0.58), *tokens(SECOND), Usage(24, 48, 72), At(2.35), Finish("length")],
    "o4-mini": [At(0.12), *tokens(THIRD), At(0.40),
                ServerError("upstream connection reset", status=502, provider="openai")],
}


class LaneScripts:
    """A Provider that answers each model with its script in :data:`SCRIPTS`; :class:`At`
    moves the lane's own clock."""

    name = "openai"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for item in SCRIPTS[request.model]:
            if isinstance(item, At):
                _NOW.set(item.seconds)
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]


def make_app() -> LlmChatApp:
    return LlmChatApp(fake_settings(LLMCHAT_MODEL="gpt-4o-mini"), provider=LaneScripts(), theme_dirs=THEME_DIRS)


async def compared(pilot: Pilot[None]) -> None:
    """Compare three models on one question and wait until every reply, figure and cost is shown."""
    screen = await chat_ready(pilot)
    screen.session.clock = lane_clock
    await send(pilot, "/compare gpt-4o-mini gpt-4.1 o4-mini")
    await send(pilot, "How do I drop duplicates from a list?")

    def done() -> bool:
        views = screen.query(CompareView)
        return bool(views) and views.first().ended and not screen.streaming

    await wait_until(pilot, done)
    view = screen.query_one(CompareView)
    for column in view.columns:
        # a column behind the shown one (one at a time) holds its text until it is shown
        await wait_until(pilot, lambda column=column: column.body.finished and (column.body.held or not column.body.pending))
    await pilot.app.workers.wait_for_complete()  # the costs
    # Each column follows its stream; how far a column scrolled while its text and figures
    # settled depends on when each render pass ran: every column shows its end here.
    for column in view.columns:
        column.scroll.scroll_end(animate=False, immediate=True)
    screen.query_one("#transcript").scroll_end(animate=False, immediate=True)
    await wait_until(pilot, lambda: bool(pilot.app.screen.query("Toast")))
    for toast in pilot.app.screen.query("Toast"):  # the "pick a reply" toast fades out by itself
        await toast.remove()
    await pilot.pause()


def check(snap_compare: Snap, size: Sequence[int]) -> bool:
    return bool(snap_compare(make_app(), terminal_size=tuple(size), run_before=compared))


def test_compare_side_by_side_at_160x48(snap_compare: Snap) -> None:
    assert check(snap_compare, (160, 48))


def test_compare_one_at_a_time_at_80x24(snap_compare: Snap) -> None:
    assert check(snap_compare, (80, 24))


def test_compare_one_at_a_time_at_60x20(snap_compare: Snap) -> None:
    assert check(snap_compare, (60, 20))
