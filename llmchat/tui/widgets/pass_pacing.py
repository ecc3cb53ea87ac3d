"""How often a StreamingMarkdown renders while text arrives: about once per new row of text.

A render pass costs a layout and a repaint of the view (the view scrolls when the reply grows by a
row, and every row on screen moves), whatever it brings. A reply of prose at 200 tokens/s brings
about ten rows a second: a pass per frame (30 a second) would repaint the screen thirty times to
show ten new rows. So a pass is due once the text of the last second makes about one new row
(:func:`pass_interval`), between :data:`FLOW_MIN` times a second (a slow stream still shows its
words soon) and :data:`FLOW_MAX`, and at once when the stream goes quiet (:data:`QUIET`) or ends.
The view scrolls in steps (:class:`Runway`), so most passes repaint only the rows that changed.
"""

from __future__ import annotations

from collections import deque

from textual.geometry import Region
from textual.widget import Widget

FLOW_MIN = 6.0
"""Render passes per second, at least, while text arrives: a slow stream shows its newest words
within a sixth of a second."""

FLOW_MAX = 12.0
"""Render passes per second, at most: a reply that brings more rows than this gets a few rows a
pass (smooth to the eye; each pass costs a layout and, in skim mode, a repaint of the view)."""

QUIET = 0.1
"""Seconds without new text after which what is pending is rendered, whatever the pace (a pause
in the stream: what came before it is shown at once)."""


def pass_interval(rows_per_second: float) -> float:
    """Seconds from one render pass to the next for text arriving at `rows_per_second`.

    One pass per new row, but at least :data:`FLOW_MIN` and at most :data:`FLOW_MAX` passes a
    second.

    Args:
        rows_per_second: Rows of text (at the view's width) the stream brought in the last second.

    Returns:
        The interval in seconds, between ``1 / FLOW_MAX`` and ``1 / FLOW_MIN``.
    """
    return 1 / min(FLOW_MAX, max(FLOW_MIN, rows_per_second))


class RowFlow:
    """The rows of text that arrived over the last second (line ends plus characters / width)."""

    def __init__(self) -> None:
        self._arrived: deque[tuple[float, float]] = deque()

    def add(self, now: float, text: str, width: int) -> None:
        """Note that `text` arrived at `now` (monotonic seconds), shown `width` cells wide."""
        if text:
            self._arrived.append((now, text.count("\n") + len(text) / max(width, 1)))

    def rows_per_second(self, now: float) -> float:
        """Rows that arrived in the second before `now`."""
        arrived = self._arrived
        while arrived and arrived[0][0] < now - 1.0:
            arrived.popleft()
        return sum(rows for _, rows in arrived)


RUNWAY = 0.25
"""While the view follows a stream, the reply keeps blank rows below its text, about this many
viewport heights: new rows fill them in place, and the view scrolls (every row on screen moves and
is repainted) once per runway instead of once per row."""


RUNWAY_SLACK = 3
"""Rows below the text (a progress line, margins) counted when deciding whether it has reached the
bottom of the view."""


class Runway:
    """Blank rows below a streaming widget's text, so that the view scrolls in steps.

    A widget of ``height: auto`` gets a ``min-height`` that its content grows into: while the text
    fills the blank rows, the widget's height, and so everything around it, stays where it is, and
    a render pass repaints only what changed. Once the text reaches the end (no blank row left), the
    runway is extended by :data:`RUNWAY` of a viewport: one scroll, one repaint of the view.
    """

    def __init__(self) -> None:
        self.height: int | None = None
        """The min-height set (rows), or None: no runway."""

    def keep(self, widget: Widget, natural: int, viewport: Region) -> None:
        """Extend the runway of `widget` if its text (`natural` rows tall) has reached its end.

        No runway while the text ends well above the bottom of `viewport` (the visible part of
        the scrolling view, screen coordinates): growing there scrolls nothing.
        """
        if self.height is None:
            if widget.region.y + natural + RUNWAY_SLACK < viewport.bottom:
                return
        elif natural < self.height:
            return
        self.height = natural + max(3, int(viewport.height * RUNWAY))
        widget.styles.min_height = self.height

    def clear(self, widget: Widget) -> None:
        """No more blank rows (the stream ended)."""
        if self.height is not None:
            self.height = None
            widget.styles.min_height = None
