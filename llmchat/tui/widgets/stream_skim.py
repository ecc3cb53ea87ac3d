"""The skim path of :class:`~llmchat.tui.widgets.stream_markdown.StreamingMarkdown` (mixed into
it): when to hand a stream too fast to read to the :class:`SkimView` (skim_view.py), and how the
Markdown widgets take it back.

While the view follows a stream that brings more than a screenful a second (:data:`SKIM_ABOVE`),
its newest text is drawn by one SkimView (Rich's Markdown renderer) instead of Markdown widgets
for text that only flies past; the chunks above lose their widgets. The Markdown widgets take
over when the rate falls (:data:`SKIM_BELOW`), the stream pauses for :data:`SKIM_SETTLE`, the
view is scrolled away, or the stream ends.
"""

from __future__ import annotations

from collections import deque
from time import monotonic
from typing import TYPE_CHECKING

from llmchat.tui.widgets.markdown_blocks import ChatMarkdown, MarginLift, estimate_height

if TYPE_CHECKING:
    from textual.widget import Widget

    from llmchat.tui.widgets.chunk_window import ChunkWindow
    from llmchat.tui.widgets.pass_pacing import RowFlow
    from llmchat.tui.widgets.skim_view import SkimView

    _Base = Widget
else:
    _Base = object

__all__ = ["SKIM_ABOVE", "SKIM_BELOW", "SKIM_PACE", "SKIM_ROWS", "SKIM_SETTLE", "SkimPath"]

SKIM_ABOVE = 1.0
"""While the view follows a stream that brought more than this many viewport heights of text in
the last second (faster than anyone reads), its newest text is drawn by a :class:`SkimView`."""

SKIM_BELOW = 0.5
"""... until the last second brought less than this many viewport heights."""

SKIM_SETTLE = 1.0
"""Seconds without new text after which a skimmed stream (paused: a slow tool call, a thinking
model) is rendered by the Markdown widgets."""

SKIM_PACE = 0.5
""":data:`PACE` while the skim view draws the stream: its passes are short (10-30 ms), so more of
them keep the lag down without holding keys back (tui_rate.py: at 1.0, the end of a 2,000
tokens/s reply was on screen 88-134 ms after the server sent it; at 0.5, 56-100 ms)."""

SKIM_ROWS = 1.5
"""How many viewport heights of finished blocks the SkimView shows above the open block."""


class SkimPath(_Base):
    """The skim view's side of StreamingMarkdown (the state is the widget's own)."""

    _skim: SkimView
    _window: ChunkWindow
    _tail: ChatMarkdown
    _tail_lift: MarginLift
    _tail_appended: bool
    _arrivals: deque[tuple[float, int]]
    _flow: RowFlow

    async def _skimmed(self, blocks: list[str], tail: str, new: str, *, final: bool) -> bool:
        """Render this pass with the skim view if the stream is too fast to read while the view
        follows it (see :data:`SKIM_ABOVE`); returns False when the Markdown widgets should."""
        if final:
            return False
        now = monotonic()
        viewport = self._window.viewport()
        width = self.content_region.width or 80
        arrivals = self._arrivals
        arrivals.append((now, estimate_height(new, width) if new else 0))
        self._flow.add(now, new, width)
        while arrivals and arrivals[0][0] < now - 1.0:
            arrivals.popleft()
        if viewport is None or not self._window.following():
            return False
        rows = sum(count for _, count in arrivals)
        if rows < viewport.height * (SKIM_BELOW if self._skim.active else SKIM_ABOVE):
            return False
        if not self._skim.active:
            # From here on the newest text is drawn by the skim view: the open block moves there,
            # and the chunks above lose their widgets (they only scroll away).
            await self._tail.update("")
            self._tail_appended = False
            self._tail_lift = MarginLift()
            self._window.end = self._skim
            await self._window.hide_all()
        gone = self._skim.push(blocks, tail, int(viewport.height * SKIM_ROWS))
        if gone:
            await self._window.add(gone, following=False)
        return True

    async def _unskim(self, blocks: list[str], tail: str, *, final: bool) -> str:
        """Back to the Markdown widgets: the blocks the skim view showed come first, then
        `blocks`; the tail widget (empty while skimming) takes the open block `tail`, as after a
        pass that finished blocks: appended from empty, or, at the end, afresh. Returns the
        text the caller's tail update still has to render ("" unless `final`)."""
        following = self._window.following()
        self._window.end = None
        blocks = self._skim.take() + blocks
        if blocks:
            await self._window.add(blocks, following=following)
        self._tail_appended = True
        if not final and tail:
            await self._tail.append(tail)
        return tail if final else ""
