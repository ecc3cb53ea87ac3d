"""How often StreamingMarkdown renders a stream (pass_pacing.py), and the sidebar's redraws.

No test here times anything: the pace is pushed far out (or the quiet time made huge) so that a
pass can only come from the rule under test, and each test waits for the condition it needs.
"""

from __future__ import annotations

import pytest
from textual.widgets import Static

from llmchat.chat.accumulator import ReplyStats
from llmchat.tui.widgets import pass_pacing, stream_markdown
from llmchat.tui.widgets.pass_pacing import FLOW_MAX, FLOW_MIN, RowFlow, pass_interval
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.tui.helpers import wait_until
from tests.tui.test_stream_markdown import Host


def test_one_pass_per_new_row_between_the_floor_and_the_ceiling() -> None:
    assert pass_interval(0.0) == pytest.approx(1 / FLOW_MIN)  # a trickle: the floor
    assert pass_interval(10.0) == pytest.approx(0.1)  # ten rows a second: ten passes
    assert pass_interval(500.0) == pytest.approx(1 / FLOW_MAX)  # a flood: a few rows a pass


def test_rows_are_line_ends_plus_characters_over_the_width_of_the_last_second() -> None:
    flow = RowFlow()
    flow.add(10.0, "a" * 40, 80)  # half a row
    flow.add(10.5, "b" * 20 + "\n" + "c" * 20, 80)  # a line end and half a row
    assert flow.rows_per_second(10.9) == pytest.approx(0.5 + 1 + 41 / 80)
    assert flow.rows_per_second(11.2) == pytest.approx(1 + 41 / 80)  # the first one is old
    assert flow.rows_per_second(12.0) == 0


async def test_pending_text_is_shown_when_the_stream_goes_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pause in the stream shows what came before it, however far off the next paced pass is."""
    monkeypatch.setattr(pass_pacing, "FLOW_MIN", 1e-6)  # the next paced pass: in days
    widget = StreamingMarkdown()
    app = Host(widget)
    async with app.run_test(size=(60, 12)) as pilot:
        widget.append("first words")
        await widget.flush()
        await pilot.pause()  # on screen: the pace now holds the next pass back
        widget.append(" then a pause")
        await wait_until(pilot, lambda: widget.rendered_length == len(widget.source), timeout=20)
        await pilot.pause()
        assert "pause" in app.export_screenshot()
        await widget.finish()


async def test_show_pending_renders_at_once_whatever_the_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reply's finish reason came: its last words are shown now, not at the next paced pass
    (nor after the quiet time), before the stream is recorded and finished."""
    monkeypatch.setattr(pass_pacing, "FLOW_MIN", 1e-6)
    monkeypatch.setattr(stream_markdown, "QUIET", 1e6)
    widget = StreamingMarkdown()
    app = Host(widget)
    async with app.run_test(size=(60, 12)) as pilot:
        widget.append("first words")
        await widget.flush()
        await pilot.pause()  # on screen: the pace is set from here
        widget.append(" and the last ones")
        assert widget.rendered_length < len(widget.source)  # paced out, and never quiet enough
        widget.show_pending()
        await wait_until(pilot, lambda: widget.rendered_length == len(widget.source), timeout=20)
        assert not widget.finished
        await widget.finish()


def streaming_stats(tokens: int) -> ReplyStats:
    return ReplyStats(state="streaming", finish_reason=None, usage=None, ttft=0.5, elapsed=1.0,
                      output_tokens=tokens, estimated=True, tokens_per_second=None, error=None)


async def test_the_sidebar_redraws_its_figures_only_when_their_text_changes() -> None:
    sidebar = Sidebar()
    app = Host(sidebar)
    async with app.run_test(size=(60, 20)) as pilot:
        sidebar.stats = streaming_stats(12)
        await pilot.pause()
        table = sidebar.query_one("#sidebar-stats", Static)
        shown = table.content
        sidebar.stats = streaming_stats(12)
        await pilot.pause()
        assert table.content is shown  # the same text: not redrawn
        sidebar.stats = streaming_stats(13)
        await pilot.pause()
        assert table.content is not shown


async def test_a_followed_stream_scrolls_in_steps_and_the_blank_rows_go_at_the_end() -> None:
    """While the view follows the stream, the reply keeps blank rows below its text: new rows fill
    them without moving anything, and the reply's height (so the scroll) changes once per few
    rows. Finished, the reply is as tall as its text."""
    widget = StreamingMarkdown()
    app = Host(widget)
    async with app.run_test(size=(60, 24)) as pilot:
        app.query_one("#log").anchor()
        heights = []
        for n in range(40):
            widget.append(f"line {n}\n\n")
            await widget.flush()
            await pilot.pause()  # on screen; the runway is kept after each pass
            heights.append(widget.outer_size.height)
        assert widget.styles.min_height is not None
        # Each paragraph grows the text by two rows; the reply grows by a step every few of them.
        late = heights[20:]  # (by then the text has reached the bottom of the view)
        assert sum(a != b for a, b in zip(late, late[1:])) <= 10  # (without: 19)
        await widget.finish()
        await pilot.pause()
        assert widget.styles.min_height is None
        assert widget.outer_size.height == 40 * 2  # 40 paragraphs, each with its bottom margin
