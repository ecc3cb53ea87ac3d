"""FiguresText: the quiet line of figures under a reply, wrapped between figures.

``gpt-4o · 1,200 in / 300 out · TTFT 0.42 s · 85 tok/s · 3.10 s · $0.001234``
(:func:`llmchat.chat.meter.reply_line`) fits one row of a wide terminal; in a narrow one, word
wrapping split it inside a figure ("TTFT 0.42" / "s", "59" / "tok/s"). This renderable wraps
only at the `` · `` between figures; a figure wider than the row alone folds.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

SEPARATOR = " · "
"""What stands between two figures (as :func:`~llmchat.chat.meter.reply_line` joins them)."""


class FiguresText:
    """A Rich renderable of `line` (figures joined by :data:`SEPARATOR`), wrapped between
    figures at the width it is given; ``str()`` is `line` itself."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.parts = line.split(SEPARATOR) if line else []

    def __str__(self) -> str:
        return self.line

    def rows(self, width: int) -> list[str]:
        """The rows of `line` at `width` cells: as many whole figures on each as fit."""
        rows: list[str] = []
        current = ""
        for part in self.parts:
            joined = f"{current}{SEPARATOR}{part}" if current else part
            if current and cell_len(joined) > width:
                rows.append(current)
                current = part
            else:
                current = joined
        if current:
            rows.append(current)
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(self.rows(options.max_width)), overflow="fold")
