"""Live Markdown rendering of a streaming reply on a terminal, with Rich (for `llmchat ask`).

Finished Markdown blocks (text up to a blank line outside a code fence) are printed once and
never redrawn; only the open tail block is re-rendered, a few times a second, in a
``rich.live.Live`` region. So the cost per token stays flat however long the answer grows,
and a reply longer than the screen scrolls normally. Every piece of model text goes through
:func:`llmchat.safety.terminal_safe` first.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segments
from rich.text import Text

from llmchat.providers.events import ContentDelta, ReasoningDelta, StreamEvent
from llmchat.safety import terminal_safe

_FENCES = ("```", "~~~")


def split_finished(text: str, in_fence: bool) -> tuple[int, bool]:
    """Find where the finished Markdown blocks of `text` end.

    Args:
        text: Markdown not yet printed.
        in_fence: whether `text` starts inside a fenced code block.

    Returns:
        (offset, in_fence_at_offset): `text[:offset]` holds complete blocks (it ends with a
        blank line outside any code fence); 0 when there is none yet.
    """
    offset, cut, cut_fence, fence = 0, 0, in_fence, in_fence
    while True:
        end = text.find("\n", offset)
        if end < 0:
            return cut, cut_fence
        line = text[offset:end].strip()
        if line.startswith(_FENCES):
            fence = not fence
        elif not line and not fence:
            cut, cut_fence = end + 1, fence
        offset = end + 1


class _Tail:
    """The open block, rendered lazily at Live's refresh rate (not once per token)."""

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.reasoning:
            yield Text(self.reasoning, style="dim italic")
        if self.text:
            yield Markdown(self.text)


class TerminalSink:
    """Renders reasoning (dim) and the answer (Markdown) to a terminal as they stream."""

    def __init__(self, out: IO[str]) -> None:
        self.console = Console(file=out, highlight=False)
        self._tail = _Tail()
        self._in_fence = False
        self._printed = False
        self._live = Live(
            self._tail,
            console=self.console,
            refresh_per_second=15,
            vertical_overflow="visible",
            transient=False,
        )
        self._live.start()

    def event(self, event: StreamEvent) -> None:
        """Take one stream event; only deltas change the screen."""
        if isinstance(event, ReasoningDelta):
            self._tail.reasoning += terminal_safe(event.text)
        elif isinstance(event, ContentDelta):
            if self._tail.reasoning:
                self.console.print(Text(self._tail.reasoning, style="dim italic"))
                self._tail.reasoning = ""
            self._tail.text += terminal_safe(event.text)
            if "\n" in event.text:
                self._commit()

    def _commit(self) -> None:
        cut, self._in_fence = split_finished(self._tail.text, self._in_fence)
        if cut:
            done, self._tail.text = self._tail.text[:cut], self._tail.text[cut:]
            self._print_blocks(done)

    def _print_blocks(self, markdown: str) -> None:
        """Print finished blocks with exactly one blank line between printed pieces."""
        lines = self.console.render_lines(Markdown(markdown), pad=False, new_lines=True)
        while lines and not "".join(seg.text for seg in lines[-1]).strip():
            lines.pop()
        while lines and not "".join(seg.text for seg in lines[0]).strip():
            lines.pop(0)
        if lines:
            if self._printed:
                self.console.print()
            self.console.print(Segments(seg for line in lines for seg in line))
            self._printed = True

    def close(self) -> None:
        """Print what is left and stop the live region."""
        self._live.update(Text(""), refresh=False)
        self._live.stop()
        if self._tail.reasoning:
            self.console.print(Text(self._tail.reasoning, style="dim italic"))
        if self._tail.text:
            self._print_blocks(self._tail.text)
        self._tail = _Tail()
