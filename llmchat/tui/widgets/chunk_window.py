"""The frozen chunks of a StreamingMarkdown: only those near the viewport have widgets.

Textual lays out every displayed widget of the screen on each layout change, and builds a widget
in about 1-2 ms (a Markdown table has one per cell), so a long reply cannot keep all of its
widgets. A :class:`ChunkWindow` keeps each finished chunk's text and height; the chunks near the
viewport are mounted as ``Markdown`` widgets, and each run of the others is one
:class:`HiddenChunks` spacer as tall as they are: their height when they were last laid out, or an
estimate for a chunk never shown (text that streamed past between two frames). A chunk is mounted
when it comes within ``SHOW_WITHIN`` viewport heights of the viewport and removed beyond
``HIDE_BEYOND``. What is on screen is exact; the scroll bar is approximate until every estimated
chunk has been seen, and after a change of width until the chunks are laid out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from textual.geometry import Region
from textual.widget import AwaitMount, Widget
from textual.widgets import Markdown

from llmchat.tui.widgets.markdown_blocks import (
    estimate_height,
    lift_margins,
    markdown_parser,
)

SHOW_WITHIN = 0.25
"""A chunk is mounted when it comes within this many viewport heights of the viewport."""

HIDE_BEYOND = 0.75
"""A mounted chunk is removed when it is further than this many viewport heights away."""


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


class ChunkWindow:
    """The chunks of `host` (mounted before its `tail`), and which of them have widgets."""

    def __init__(self, host: Widget, tail: Widget) -> None:
        self.host = host
        self.tail = tail
        self.chunks: list[Chunk] = []
        self._spacers: list[HiddenChunks] = []
        self._scroller: Widget | None = None

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

    async def add(self, texts: list[str]) -> None:
        """Append finished chunks; mount the ones the view will show."""
        width = self.host.content_region.width or 80
        self.chunks += [Chunk(text, estimate_height(text, width)) for text in texts]
        await self.apply(self._wanted_after_add())

    async def clear(self) -> None:
        """Forget every chunk and remove their widgets."""
        await self.host.remove_children([child for child in self.host.children if child is not self.tail])
        self.chunks.clear()
        self._spacers.clear()

    async def reconcile(self) -> None:
        """After a layout (scroll, resize, new text): mount what came near, remove what went far."""
        wanted = self._wanted()
        if wanted is not None and wanted != [chunk.widget is not None for chunk in self.chunks]:
            with self.host.app.batch_update():
                await self.apply(wanted)

    def _wanted_after_add(self) -> list[bool]:
        """Chunks to keep or mount after some were added, by height from the bottom.

        When the tail was near the viewport (the view follows the stream), the view will show the
        bottom: mount what fits in the near band above the tail and keep what is mounted up to the
        far band; nothing else (a pass may bring more than a screenful: text that streamed past is
        not built). When the view is elsewhere, the new chunks get no widgets.
        """
        wanted = [chunk.widget is not None for chunk in self.chunks]
        viewport = self.viewport()
        if viewport is None:
            return wanted
        near, far = self.bands(viewport)
        tail = self.tail.region
        if self.tail.outer_size.width and not _overlaps(tail.y, tail.height, near):
            return wanted
        show = viewport.bottom - near.y  # rows from the bottom worth mounting
        keep = viewport.bottom - far.y  # rows from the bottom worth keeping
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
        spacers = iter(self._spacers)
        y: int | None = None
        previous: Chunk | None = None
        for chunk in self.chunks:
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
                    spacer = next(spacers, None)
                    y = spacer.region.y if spacer is not None and spacer.outer_size.width else None
                elif y is not None:
                    y += max(previous.bottom, chunk.top)
                wanted.append(y is not None and _overlaps(y, chunk.height, near))
                if y is not None:
                    y += chunk.height
            previous = chunk
        return wanted

    async def apply(self, wanted: list[bool]) -> None:
        """Mount and remove chunk widgets as `wanted`, with one spacer per run of the others."""
        host = self.host
        removed: list[Widget] = list(self._spacers)
        for chunk, want in zip(self.chunks, wanted, strict=True):
            if chunk.widget is not None and not want:
                if chunk.widget.outer_size.width:
                    chunk.height = chunk.widget.outer_size.height
                removed.append(chunk.widget)
                chunk.widget = None
        if removed:
            await host.remove_children(removed)
        self._spacers = []
        mounts: list[AwaitMount] = []
        mounted: list[Chunk] = []
        anchor: Widget = self.tail
        run: list[Chunk] = []
        for chunk, want in reversed(list(zip(self.chunks, wanted, strict=True))):
            if not want:
                run.append(chunk)
                continue
            if run:
                anchor = self._add_spacer(run[::-1], anchor, mounts)
                run = []
            if chunk.widget is None:
                chunk.widget = Markdown(chunk.text, parser_factory=markdown_parser)
                mounts.append(host.mount(chunk.widget, before=anchor))
                mounted.append(chunk)
            anchor = chunk.widget
        if run:
            self._add_spacer(run[::-1], anchor, mounts)
        for mount in mounts:
            await mount
        for chunk in mounted:
            assert chunk.widget is not None
            chunk.top, chunk.bottom = lift_margins(chunk.widget)

    def _add_spacer(self, run: list[Chunk], before: Widget, mounts: list[AwaitMount]) -> HiddenChunks:
        """Mount a spacer as tall as the chunks of `run` (in order), margins collapsed alike."""
        spacer = HiddenChunks()
        height = sum(chunk.height for chunk in run)
        height += sum(max(above.bottom, below.top) for above, below in pairwise(run))
        spacer.styles.height = height
        spacer.styles.margin = (run[0].top, 0, run[-1].bottom, 0)
        mounts.append(self.host.mount(spacer, before=before))
        self._spacers.insert(0, spacer)
        return spacer


def _overlaps(y: int, height: int, band: Region) -> bool:
    """Whether rows y .. y + height (at least one row) meet `band`."""
    return y < band.bottom and y + max(height, 1) > band.y
