"""The frozen chunks of a StreamingMarkdown: only those near the viewport have widgets.

Textual lays out every displayed widget of the screen on each layout change, and builds a widget
in about 1-2 ms (a Markdown table has one per cell), so a long reply cannot keep all of its
widgets. A :class:`ChunkWindow` keeps each finished chunk's text and height; the chunks near the
viewport are mounted as ``ChatMarkdown`` widgets, and each run of the others is one
:class:`HiddenChunks` spacer as tall as they are: their height when they were last laid out, or an
estimate for a chunk never shown (text that streamed past between two frames). A chunk is mounted
when it comes within ``SHOW_WITHIN`` viewport heights of the viewport and removed beyond
``HIDE_BEYOND``. What is on screen is exact; the scroll bar is approximate until every estimated
chunk has been seen, and after a change of width until the chunks are laid out again.

A chunk is one or more consecutive top-level blocks (small blocks are grouped, up to
``GROUP_ROWS`` of a viewport, so that a screenful is a few widgets, not one per paragraph); a chunk
may also arrive with its widget already built (:meth:`ChunkWindow.adopt`: the stream's tail widget
whose blocks just finished).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from itertools import pairwise

from textual.app import RenderResult
from textual.geometry import Region
from textual.widget import AwaitMount, Widget
from textual.widgets import Markdown

from llmchat.tui.widgets.markdown_blocks import (
    ChatMarkdown,
    estimate_height,
    lift_margins,
)

SHOW_WITHIN = 0.25
"""A chunk is mounted when it comes within this many viewport heights of the viewport."""

HIDE_BEYOND = 0.75
"""A mounted chunk is removed when it is further than this many viewport heights away."""

GROUP_ROWS = 0.25
"""Consecutive blocks are grouped into one chunk while it is estimated at most this many viewport
heights tall (a chunk is mounted whole: smaller chunks fit the viewport tighter, larger ones make
fewer widgets)."""


@dataclass(eq=False)
class Chunk:
    """One or more finished top-level blocks, rendered by a Markdown widget while near."""

    text: str
    height: int
    """Outer height: measured when it was last laid out, or an estimate."""
    widget: Markdown | None = None
    top: int = 0
    """Margin lifted from its first block (see lift_margins); 0 until first mounted."""
    bottom: int = 1
    """Margin lifted from its last block; a paragraph's until first mounted."""


class HiddenChunks(Widget):
    """Blank space standing in for a run of chunks that have no widgets (far from the viewport)."""

    DEFAULT_CSS = """
    HiddenChunks {
        height: 0;
    }
    """

    def render(self) -> RenderResult:
        return ""  # (a Widget shows its CSS name by default)


class ChunkWindow:
    """The chunks of `host` (mounted before its `tail`), and which of them have widgets."""

    def __init__(self, host: Widget, tail: Widget) -> None:
        self.host = host
        self.tail = tail
        """The widget after the chunks (the stream's open block); the host may replace it."""
        self.chunks: list[Chunk] = []
        self._spacers: dict[int, HiddenChunks] = {}
        """The spacer of each run of chunks without widgets, by the index of its first chunk."""
        self._scroller: Widget | None = None
        self.end: Widget | None = None
        """The widget that ends the host's text, when not the tail (see :meth:`following`)."""
        self._busy = asyncio.Lock()
        """Held by each change (add, adopt, clear, hide_all, reconcile): a reconcile scheduled by a
        layout may run while a render pass awaits its mounts, and two changes must not interleave."""

    def attach(self) -> None:
        """Find the scrolling container (once the host is mounted)."""
        self._scroller = next(
            (
                node
                for node in self.host.ancestors
                if isinstance(node, Widget) and node.styles.overflow_y in ("auto", "scroll")
            ),
            None,
        )

    @property
    def counts(self) -> tuple[int, int]:
        """(mounted, all) chunks."""
        return sum(chunk.widget is not None for chunk in self.chunks), len(self.chunks)

    def viewport(self) -> Region | None:
        """The visible part of the scrolling container, in screen coordinates."""
        if not self.host.is_attached:
            return None
        scroller = self._scroller
        region = self.host.screen.region if scroller is None else scroller.scrollable_content_region
        return region if region.height > 0 else None

    @staticmethod
    def bands(viewport: Region) -> tuple[Region, Region]:
        """(near, far): where chunks get mounted, and beyond which they are removed."""
        show = int(viewport.height * SHOW_WITHIN)
        keep = max(int(viewport.height * HIDE_BEYOND), show + 1)
        return viewport.grow((show, 0, show, 0)), viewport.grow((keep, 0, keep, 0))

    def following(self) -> bool:
        """Whether the tail is near the viewport (the view follows the stream), or not laid out
        yet (it will be shown where the view is)."""
        viewport = self.viewport()
        end = self.end or self.tail
        if viewport is None or not end.outer_size.width:
            return True
        near, _ = self.bands(viewport)
        tail = end.region
        return _overlaps(tail.y, tail.height, near)

    def near_rows(self) -> int:
        """How many rows above the bottom of the viewport are worth mounting (viewport + band)."""
        viewport = self.viewport()
        if viewport is None:
            return 0
        near, _ = self.bands(viewport)
        return viewport.bottom - near.y

    async def add(self, texts: list[str], *, following: bool | None = None) -> None:
        """Append finished blocks (grouped into chunks); mount the ones the view will show.

        `following` is :meth:`following` unless given (False: mount none of them).
        """
        async with self._busy:
            await self._add(texts, following)

    async def _add(self, texts: list[str], following: bool | None) -> None:
        following = self.following() if following is None else following
        width = self.host.content_region.width or 80
        viewport = self.viewport()
        limit = max(4, int(viewport.height * GROUP_ROWS)) if viewport is not None else 8
        group: list[str] = []
        rows = 0
        for text in texts:
            height = estimate_height(text, width)
            if group and rows + height > limit:
                self.chunks.append(Chunk("".join(group), rows))
                group, rows = [], 0
            group.append(text)
            rows += height
        if group:
            self.chunks.append(Chunk("".join(group), rows))
        await self._apply(self._wanted_after_add(following))

    async def adopt(self, text: str, widget: Markdown, top: int, bottom: int, *, following: bool) -> None:
        """Append one finished chunk whose widget is mounted already, just before :attr:`tail`.

        Args:
            text: The chunk's Markdown (what `widget` renders).
            widget: Its Markdown widget, a child of the host, its margins lifted.
            top: The margin lifted from its first block.
            bottom: The margin lifted from its last block.
            following: :meth:`following`, as it was before the widget stopped being the tail.
        """
        async with self._busy:
            width = self.host.content_region.width or 80
            self.chunks.append(Chunk(text, estimate_height(text, width), widget, top, bottom))
            await self._apply(self._wanted_after_add(following, adopted=True))

    async def clear(self) -> None:
        """Forget every chunk and remove their widgets."""
        async with self._busy:
            widgets = [chunk.widget for chunk in self.chunks if chunk.widget is not None]
            self.chunks.clear()
            spacers, self._spacers = self._spacers, {}
            await self.host.remove_children([*widgets, *spacers.values()])

    async def hide_all(self) -> None:
        """Remove every chunk's widget (one spacer stands for them all)."""
        async with self._busy:
            if any(chunk.widget is not None for chunk in self.chunks):
                await self._apply([False] * len(self.chunks))

    async def reconcile(self) -> None:
        """After a layout (scroll, resize, new text): mount what came near, remove what went far."""
        async with self._busy:
            wanted = self._wanted()
            if wanted is not None and wanted != [chunk.widget is not None for chunk in self.chunks]:
                with self.host.app.batch_update():
                    await self._apply(wanted)

    def _wanted_after_add(self, following: bool, *, adopted: bool = False) -> list[bool]:
        """Chunks to keep or mount after some were added, by height from the bottom.

        When the tail was near the viewport (`following`: the view follows the stream), the view
        will show the bottom: mount what fits in the viewport above the tail and keep what is
        mounted up to the near band above it; nothing else (a pass may bring more than a
        screenful: text that streamed past is not built, and while the text moves up every pass,
        widgets kept further up would only make each layout slower; scrolling up mounts them
        again). When the view is elsewhere, the new chunks get no widgets (an adopted one loses
        its widget).
        """
        wanted = [chunk.widget is not None for chunk in self.chunks]
        viewport = self.viewport()
        if viewport is None:
            return wanted
        for chunk in self.chunks:
            if chunk.widget is not None and chunk.widget.outer_size.width:
                chunk.height = chunk.widget.outer_size.height  # measured at the last layout
        near, _ = self.bands(viewport)
        if not following:
            if adopted:
                wanted[-1] = False
            return wanted
        show = viewport.height  # rows from the bottom worth mounting
        keep = viewport.bottom - near.y  # rows from the bottom worth keeping
        distance = self.tail.outer_size.height  # from the bottom to the chunk's bottom edge
        for index in range(len(self.chunks) - 1, -1, -1):
            chunk = self.chunks[index]
            distance += chunk.bottom
            wanted[index] = distance < show or (wanted[index] and distance < keep)
            distance += chunk.height
        return wanted

    def _wanted(self) -> list[bool] | None:
        """Which chunks should have widgets, from where the last layout put them (None: unknown)."""
        viewport = self.viewport()
        if viewport is None or not self.chunks:
            return None
        near, far = self.bands(viewport)
        wanted: list[bool] = []
        y: int | None = None
        previous: Chunk | None = None
        for index, chunk in enumerate(self.chunks):
            widget = chunk.widget
            if widget is not None:
                if widget.outer_size.width:  # laid out
                    region = widget.region
                    chunk.height = widget.outer_size.height
                    wanted.append(_overlaps(region.y, region.height, far))
                else:
                    wanted.append(True)
            else:
                if previous is None or previous.widget is not None:  # first of a run: its spacer
                    spacer = self._spacers.get(index)
                    y = spacer.region.y if spacer is not None and spacer.outer_size.width else None
                elif y is not None:
                    y += max(previous.bottom, chunk.top)
                wanted.append(y is not None and _overlaps(y, chunk.height, near))
                if y is not None:
                    y += chunk.height
            previous = chunk
        return wanted

    async def _apply(self, wanted: list[bool]) -> None:
        """Mount and remove chunk widgets as `wanted`, with one spacer per run of the others.

        A run that starts at the same chunk as before keeps its spacer (resized if need be): the
        spacer sits right after the widget of the chunk before the run, where it still belongs.
        """
        host = self.host
        removed: list[Widget] = []
        for chunk, want in zip(self.chunks, wanted, strict=True):
            if chunk.widget is not None and not want:
                if chunk.widget.outer_size.width:
                    chunk.height = chunk.widget.outer_size.height
                removed.append(chunk.widget)
                chunk.widget = None
        old_spacers, self._spacers = self._spacers, {}
        mounts: list[AwaitMount] = []
        mounted: list[Chunk] = []
        anchor: Widget = self.tail
        end: int | None = None  # the run of unwanted chunks is [index + 1, end)
        for index in range(len(self.chunks) - 1, -2, -1):
            want = index < 0 or wanted[index]
            if not want:
                end = index + 1 if end is None else end
                continue
            if end is not None:
                anchor = self._spacer(index + 1, end, old_spacers, anchor, mounts)
                end = None
            if index < 0:
                break
            chunk = self.chunks[index]
            if chunk.widget is None:
                chunk.widget = ChatMarkdown(chunk.text)
                mounts.append(host.mount(chunk.widget, before=anchor))
                mounted.append(chunk)
            anchor = chunk.widget
        removed += old_spacers.values()
        if removed:
            await host.remove_children(removed)
        for mount in mounts:
            await mount
        for chunk in mounted:
            assert chunk.widget is not None
            chunk.top, chunk.bottom = lift_margins(chunk.widget)

    def _spacer(
        self, first: int, end: int, old: dict[int, HiddenChunks], before: Widget, mounts: list[AwaitMount]
    ) -> HiddenChunks:
        """The spacer for chunks ``first`` to ``end - 1``, as tall as they are (margins collapsed
        as blocks' are): the one that run had, or a new one mounted before `before`."""
        run = self.chunks[first:end]
        height = sum(chunk.height for chunk in run)
        height += sum(max(above.bottom, below.top) for above, below in pairwise(run))
        margin = (run[0].top, 0, run[-1].bottom, 0)
        spacer = old.pop(first, None)
        if spacer is None:
            spacer = HiddenChunks()
            mounts.append(self.host.mount(spacer, before=before))
        if spacer.styles.height is None or spacer.styles.height.value != height:
            spacer.styles.height = height
        if tuple(spacer.styles.margin) != margin:
            spacer.styles.margin = margin
        self._spacers[first] = spacer
        return spacer


def _overlaps(y: int, height: int, band: Region) -> bool:
    """Whether rows y .. y + height (at least one row) meet `band`."""
    return y < band.bottom and y + max(height, 1) > band.y
