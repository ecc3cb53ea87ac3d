"""A 2,000 tokens/s reply leaves the session responsive to typing and scrolling.

The scenario of benchmarks/tui_load.py, shorter: a generated Markdown reply streams at 2,000
tokens/s from the loopback server into the real app over real sockets while a thread types a
letter every 0.25 s and turns the mouse wheel over the transcript (up, which stops the view
following the stream, and down; then back to the end). Checked: every letter typed is in the
prompt, in order; the wheel scrolls; the whole reply is rendered and stored at the end. How fast
each input is handled is the benchmark's to measure (docs/performance.md): a loaded machine
must not fail this test by being slow, only by losing input or text.
"""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Static

from benchmarks.tui_load import run_load
from llmchat.tui.widgets.transcript import Transcript
from tests.tui.helpers import chat_screen, make_app

SECONDS = 20


@pytest.mark.timeout(300)
async def test_two_thousand_tokens_per_second_leave_typing_and_scrolling_working() -> None:
    # A wheel step that scrolled nothing in 20 s is lost (handled late would have scrolled).
    result = await run_load(SECONDS, lost_after=20.0)
    # The typist had its turns (a loaded 2-core machine gives its thread fewer than the 80 it asks for).
    assert len(result.typed) >= 5 and len(result.wheel) >= 2
    assert result.prompt == result.typed, "a key press got lost"
    assert result.source == result.text and result.finished
    assert result.rendered == len(result.source), "the reply is not all rendered"
    assert result.stored == result.text
    scrolled = [t for t in result.wheel if t is not None]
    assert len(scrolled) >= 0.75 * len(result.wheel), f"{len(result.wheel) - len(scrolled)} of {len(result.wheel)} wheel steps lost"


class Swallower(Static):
    """Stands for a widget that never passes a wheel step on (one that a streaming reply
    replaced before it handled the step: Textual drops the step with it)."""

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()


async def test_a_wheel_step_over_the_transcript_goes_to_the_transcript() -> None:
    """The app hands a vertical wheel step over the transcript to the transcript itself, not to
    the widget under the pointer (Textual's way, from which it bubbles up a dozen levels of
    Markdown widgets, each a message queue behind the render work, and is lost with a widget that
    goes away before handling it)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = chat_screen(pilot).query_one(Transcript)
        await transcript.mount_all([Swallower(f"Line {n} of a long reply.") for n in range(60)])
        await pilot.pause()
        transcript.scroll_end(animate=False)
        await pilot.pause()
        before = transcript.scroll_y
        region = transcript.region
        x, y = region.x + region.width // 2, region.y + region.height // 2
        assert isinstance(app.get_widget_at(x, y)[0], Swallower) and before > 10
        app.post_message(events.MouseScrollUp(None, x, y, 0, 0, 0, False, False, False, screen_x=x, screen_y=y))
        await pilot.pause()
        assert transcript.scroll_y == before - app.scroll_sensitivity_y
