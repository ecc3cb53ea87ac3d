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
import re
import time
from typing import IO

from rich.console import COLOR_SYSTEMS, Console, RenderableType
from rich.markdown import Markdown
from rich.segment import Segment

from llmchat.providers.events import ContentDelta, StreamEvent
from llmchat.safety import terminal_safe

FRAME = 1 / 15
"""Seconds between two redraws of the open block."""
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
"""An opening or closing code fence line: the fence, then the info string."""


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
        line = text[offset:end]
        offset = end + 1
        marker = _FENCE.match(line)
        if fence:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) \
                    and not marker.group(2).strip():
                fence = ""
        elif marker and not (marker.group(1)[0] == "`" and "`" in marker.group(2)):
            fence = marker.group(1)
        elif not line.strip():
            cut = offset


class TerminalSink:
    """Renders the answer (Markdown) to a terminal as it streams."""

    def __init__(self, out: IO[str]) -> None:
        self.console = Console(file=out, highlight=False)
        self._tail = ""  # the open Markdown block
        self._finished: list[RenderableType] = []  # to print permanently at the next draw
        self._printed = False  # something was printed permanently already
        self._drawn = 0  # lines of the tail on screen, above the cursor
        self._last_draw = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def event(self, event: StreamEvent) -> None:
        """Take one stream event; only deltas change the screen."""
        if isinstance(event, ContentDelta):
            self._tail += terminal_safe(event.text)
            if "\n" in event.text:
                cut = split_finished(self._tail)
                if cut:
                    self._finished.append(Markdown(self._tail[:cut]))
                    self._tail = self._tail[cut:]
        else:
            return
        self._schedule()

    def close(self) -> None:
        """Print what is left, permanently."""
        if self._tail:
            self._finished.append(Markdown(self._tail))
        self._tail = ""
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
        tail = self._lines(Markdown(self._tail)) if self._tail.strip() else []
        if tail:
            tail = tail[-max(1, self.console.height - 2) :]  # never taller than the screen
            tail = [[]] * self._printed + tail
            self._write(tail)
            self._drawn = len(tail)
        file.flush()

    def _lines(self, renderable: RenderableType) -> list[list[Segment]]:
        """Rendered lines, without blank lines at either end."""
        lines = self.console.render_lines(renderable, pad=False)
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
