"""Live Markdown rendering of a streaming reply on a terminal, with Rich (for `llmchat ask`).

Finished Markdown blocks (text up to a blank line outside a code fence) are printed once and
never redrawn; only the open tail block is redrawn in place, at most 15 times a second. So
the cost per token stays flat however long the answer grows, and a reply longer than the
screen scrolls normally. Redrawing is done here, on the event loop's thread, with two
cursor controls (up N lines, erase below), which keeps the printed blocks and the redrawn
tail from ever overlapping. Every piece of model text goes through
:func:`llmchat.safety.terminal_safe` first.
"""

from __future__ import annotations

import asyncio
import time
from typing import IO

from rich.console import COLOR_SYSTEMS, Console, RenderableType
from rich.markdown import Markdown
from rich.segment import Segment

from llmchat.providers.events import ContentDelta, StreamEvent
from llmchat.markdown_text import fence_step, render_lines
from llmchat.math_text import render_math
from llmchat.safety import terminal_safe

FRAME = 1 / 15
"""Seconds between two redraws of the open block."""


def split_finished(text: str) -> int:
    """Find where the finished Markdown blocks of `text` end.

    Fenced code follows CommonMark: a fence opens with three or more backticks or tildes
    (up to three spaces of indent) and closes only with the same character, at least as
    many of them, and nothing else on the line.

    Args:
        text: Markdown not yet printed, starting outside any code fence.

    Returns:
        An offset such that `text[:offset]` holds complete blocks: it ends with a blank line
        outside any code fence. 0 when there is none yet.
    """
    offset, cut, fence = 0, 0, ""
    while True:
        end = text.find("\n", offset)
        if end < 0:
            return cut
        fence, blank = fence_step(fence, text[offset:end])
        offset = end + 1
        if blank:
            cut = offset


class BlockSplitter:
    """:func:`split_finished` for a stream: text goes in as it arrives, finished blocks come
    out, and each character is copied and scanned a bounded number of times however the text
    is cut into deltas, so a 10 MB line costs what 10 MB of short lines cost.

    Pieces of the line being received are kept in a list (joined 256 at a time), never
    appended to one growing string, which would copy the whole line at every delta.

    Attributes:
        copied: characters joined or scanned so far (the work done; for tests).
    """

    GROUP = 256
    """Small pieces joined into one chunk at a time."""

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open block, each with its newline
        self._chunks: list[str] = []  # the line being received: joined groups of pieces...
        self._pieces: list[str] = []  # ...and the pieces since the last group
        self._fence = ""  # the open fence of the open block ("" outside one)
        self._opener = ""  # the line that opened it
        self.size = 0
        """Characters in the open block."""
        self.copied = 0

    def feed(self, text: str) -> list[str]:
        """Add `text`; return the blocks it finished, in order (each ends with a blank line
        outside any code fence; joined they are exactly the text fed before the cut)."""
        finished: list[str] = []
        self.size += len(text)
        start = 0
        while (end := text.find("\n", start)) >= 0:
            line = self._take_line(text[start : end + 1])
            start = end + 1
            self._lines.append(line)
            fence, blank = fence_step(self._fence, line[:-1])
            self.copied += len(line)
            if fence and not self._fence:
                self._opener = line
            self._fence = fence
            if blank:
                block = "".join(self._lines)
                self.copied += len(block)
                self._lines = []
                self.size -= len(block)
                finished.append(block)
        if start < len(text):
            self._pieces.append(text[start:] if start else text)
            if len(self._pieces) >= self.GROUP:
                self._group()
        return finished

    def _group(self) -> None:
        chunk = "".join(self._pieces)
        self.copied += len(chunk)
        self._chunks.append(chunk)
        self._pieces = []

    def _take_line(self, end: str) -> str:
        parts = [*self._chunks, *self._pieces, end]
        self._chunks, self._pieces = [], []
        line = parts[0] if len(parts) == 1 else "".join(parts)
        self.copied += len(line)
        return line

    def text(self) -> str:
        """The open block, whole."""
        text = "".join([*self._lines, *self._chunks, *self._pieces])
        self.copied += len(text)
        return text

    def end(self, limit: int) -> str:
        """About the last `limit` characters of the open block (all of it when shorter),
        for a preview of its end: a block longer than that starts mid-text, after the line
        that opened its code fence when one is open. Costs about `limit`, not the block."""
        if self.size <= limit:
            return self.text()
        parts: list[str] = []
        count = 0
        for part in (*reversed(self._pieces), *reversed(self._chunks), *reversed(self._lines)):
            parts.append(part)
            count += len(part)
            if count >= limit:
                break
        text = "".join(reversed(parts))[-limit:]
        self.copied += len(text)
        return self._opener + text if self._fence else text
class TerminalSink:
    """Renders the answer (Markdown) to a terminal as it streams."""

    def __init__(self, out: IO[str]) -> None:
        self.console = Console(file=out, highlight=False)
        self._tail = BlockSplitter()  # the open Markdown block
        self._finished: list[RenderableType] = []  # to print permanently at the next draw
        self._printed = False  # something was printed permanently already
        self._drawn = 0  # lines of the tail on screen, above the cursor
        self._last_draw = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.rendered = 0
        """Characters of Markdown given to Rich so far (the work done; for tests)."""

    def event(self, event: StreamEvent) -> None:
        """Take one stream event; only deltas change the screen."""
        if isinstance(event, ContentDelta):
            for block in self._tail.feed(terminal_safe(event.text)):
                self._finished.append(Markdown(render_math(block)))
                self.rendered += len(block)
        else:
            return
        self._schedule()

    def close(self) -> None:
        """Print what is left, permanently."""
        if self._tail.size:
            text = self._tail.text()
            self._finished.append(Markdown(render_math(text)))
            self.rendered += len(text)
        self._tail = BlockSplitter()
        self._draw()

    def _schedule(self) -> None:
        wait = self._last_draw + FRAME - time.monotonic()
        if wait <= 0:
            self._draw()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(wait, self._draw)
            except RuntimeError:  # no loop: draw now
                self._draw()

    def _draw(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._last_draw = time.monotonic()
        file = self.console.file
        if self._drawn:
            file.write(f"\r\x1b[{self._drawn}A\x1b[J")  # back to the tail's first line, erase below
            self._drawn = 0
        for renderable in self._finished:
            lines = self._lines(renderable)
            if lines:
                self._write([[]] * self._printed + lines)
                self._printed = True
        self._finished.clear()
        # The open block is drawn from its end only: the screen shows its last lines, and
        # rendering all of a long block at every frame cost the square of its length.
        text = self._tail.end(4 * self.console.width * self.console.height) if self._tail.size else ""
        self.rendered += len(text)
        tail = self._lines(Markdown(text)) if text.strip() else []
        if tail:
            tail = tail[-max(1, self.console.height - 2) :]  # never taller than the screen
            tail = [[]] * self._printed + tail
            self._write(tail)
            self._drawn = len(tail)
        file.flush()

    def _lines(self, renderable: RenderableType) -> list[list[Segment]]:
        """Rendered lines, without blank lines at either end."""
        lines = render_lines(self.console, renderable)
        blank = lambda line: not "".join(s.text for s in line).strip()  # noqa: E731
        while lines and blank(lines[-1]):
            lines.pop()
        while lines and blank(lines[0]):
            lines.pop(0)
        return lines

    def _write(self, lines: list[list[Segment]]) -> None:
        """Write rendered lines, each ending in a newline (Rich's print may drop the
        newline after a line of exactly the terminal's width, which breaks the line count).
        NO_COLOR drops colours, keeps bold/underline."""
        system = COLOR_SYSTEMS.get(self.console.color_system or "")
        if self.console.no_color:  # https://no-color.org/ (Rich applies it only in its own print)
            lines = [list(Segment.remove_color(line)) for line in lines]
        self.console.file.write(
            "".join(
                "".join(
                    seg.style.render(seg.text, color_system=system) if seg.style else seg.text
                    for seg in line
                    if not seg.control
                )
                + "\n"
                for line in lines
            )
        )

