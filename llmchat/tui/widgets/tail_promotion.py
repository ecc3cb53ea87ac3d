"""Tail promotion in :class:`~llmchat.tui.widgets.stream_markdown.StreamingMarkdown` (mixed into
it): when a pass finishes a few blocks while the view follows the stream, the tail widget itself
becomes their chunk instead of building them again from their text.

The tail's widgets are already built and laid out (building them again was half the cost of a
pass): the tail gets the rest of the finished blocks' text (complete lines: exact), gives up the
widget of the block still open, and a new tail widget takes that block. Done only when the
tail's blocks start on the very lines where the finished blocks start (a partial last line can
make Textual's incremental parse cut a block where the complete line does not) and no table
among them was updated in place; otherwise the caller builds the finished blocks afresh.
Also here: whether a text that arrived whole is short enough for the tail widget alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets.markdown import MarkdownBlock

from llmchat.tui.widgets.markdown_blocks import ChatMarkdown, ChatTable, MarginLift, estimate_height

if TYPE_CHECKING:
    from textual.widget import Widget

    from llmchat.tui.widgets.chunk_window import ChunkWindow
    from llmchat.tui.widgets.skim_view import SkimView

    _Base = Widget
else:
    _Base = object

__all__ = ["TailPromotion"]


class TailPromotion(_Base):
    """Reusing the tail widget as a chunk, mixed into StreamingMarkdown (its state is the
    widget's own)."""

    _window: ChunkWindow
    _skim: SkimView
    _tail: ChatMarkdown
    _tail_text: str
    _tail_lift: MarginLift
    _tail_appended: bool
    promotions: int

    def _one_piece(self, blocks: list[str], tail: str) -> bool:
        """Whether a text that arrived whole (nothing rendered before the final pass: a stored
        message) is short enough, at most a screen, to be rendered by the tail widget alone: one
        widget instead of a chunk per few blocks, and no chunk to keep track of."""
        if self._window.chunks or self._tail_text:
            return False
        width = self.content_region.width or 80
        rows = sum(estimate_height(block, width) for block in blocks) + estimate_height(tail, width)
        return rows <= max(self._window.near_rows(), 24)

    async def _promote_tail(self, new: str, blocks: list[str], tail: str, *, final: bool) -> bool:
        """Make the tail widget the chunk of the `blocks` that just finished, if it can be.

        The tail gets the rest of the finished blocks' text (complete lines: exact), gives up any
        widget of the open block and becomes a chunk; a new tail widget takes the open block
        (`tail`). Returns False, having changed nothing that the caller's rebuild does not
        replace, when the view does not follow the stream, when the blocks are taller than what
        is worth mounting, or when the tail's blocks do not match the finished blocks: each must
        start on the line where a finished block starts and end before the open block.
        """
        old = self._tail
        if not old.is_attached or not self._window.following():
            return False
        width = self.content_region.width or 80
        if sum(estimate_height(block, width) for block in blocks) > self._window.near_rows():
            return False
        finished = sum(map(len, blocks))
        given = len(self._tail_text)
        if finished > given:
            await old.append(new[: finished - given])
        starts = []
        line = 0
        for block in blocks:
            starts.append(line)
            line += block.count("\n")
        children = list(old.query_children(MarkdownBlock))
        kept = [child for child in children if child.source_range[0] < line]
        if (
            [child.source_range[0] for child in kept] != starts
            or kept[-1].source_range[1] > line
            or any(isinstance(child, ChatTable) and child.patched for child in kept)
        ):
            self._tail_appended = True  # the caller rebuilds the tail from empty
            return False
        if len(kept) < len(children):
            await old.remove_children(children[len(kept) :])
        self._tail_lift.apply(old)
        lift = self._tail_lift
        self._tail = ChatMarkdown(tail) if final else ChatMarkdown()
        self._window.tail = self._tail
        await self.mount(self._tail, before=self._skim)
        if not final and tail:
            await self._tail.append(tail)
        self._tail_lift = MarginLift()
        self._tail_appended = not final
        await self._window.adopt("".join(blocks), old, lift.top, lift.bottom, following=True)
        self.promotions += 1
        return True
