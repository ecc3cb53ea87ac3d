"""SkimView: the newest text of a reply that streams faster than anyone reads.

At 2,000 tokens/s a reply moves up by several screens a second. Building Textual Markdown widgets
for all of it (one widget per paragraph, list item and table cell, each styled and laid out) costs
more CPU than the stream leaves, and a key press waits behind each render pass. While the view
follows such a stream, :class:`StreamingMarkdown` shows its newest blocks here instead: one widget
that draws them with Rich's Markdown renderer (a screenful in about 10 ms; one widget to lay out),
each finished block rendered once, the open block on every pass. Blocks that scroll out of it are
handed back to be kept (without widgets) by the chunk window. When the stream ends, slows down or
pauses, or the user scrolls away from it, everything is rendered by the real Markdown widgets
again, so the final render is exact.

Model text reaches this widget already made terminal-safe (chat.py); Rich's hyperlinks are off,
so no OSC 8 sequence carries a URL from the model to the terminal.
"""

from __future__ import annotations

import io
from functools import cache

from rich.console import Console
from rich.errors import StyleSyntaxError
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from llmchat.markdown_text import render_lines, text_end
from llmchat.tui.widgets.markdown_blocks import estimate_height

_STYLES = {
    # Rich's Markdown style names -> (theme variable for the colour, attributes).
    "markdown.h1": ("primary", "bold"),
    "markdown.h2": ("primary", "bold"),
    "markdown.h3": ("primary", "bold"),
    "markdown.h4": ("primary", "bold"),
    "markdown.h5": ("primary", ""),
    "markdown.h6": ("primary", "italic"),
    "markdown.h1.border": ("primary", ""),
    "markdown.code": ("accent", "bold"),
    "markdown.code_block": ("foreground", ""),
    "markdown.block_quote": ("secondary", "italic"),
    "markdown.item.bullet": ("primary", "bold"),
    "markdown.item.number": ("primary", ""),
    "markdown.hr": ("secondary", ""),
    "markdown.link": ("accent", "underline"),
    "markdown.link_url": ("accent", "underline"),
    "markdown.table.border": ("secondary", ""),
    "markdown.table.header": ("primary", "bold"),
}


@cache
def _theme(colours: tuple[tuple[str, str], ...]) -> Theme:
    """Rich styles for Markdown in the app theme's colours (a colour Rich cannot parse, such as
    Textual's ``ansi_default``, is left out)."""
    palette = dict(colours)
    styles: dict[str, Style] = {}
    for name, (variable, attributes) in _STYLES.items():
        try:
            styles[name] = Style.parse(f"{attributes} {palette.get(variable, '')}".strip() or "none")
        except StyleSyntaxError:  # a colour Rich does not know: keep the attributes only
            styles[name] = Style.parse(attributes or "none")
    return Theme(styles)


class SkimView(Widget):
    """The newest blocks of a fast stream and its open block, drawn with the Line API.

    Holds at most about ``rows`` rows of finished blocks (see :meth:`push`); not displayed while
    empty.
    """

    DEFAULT_CSS = """
    SkimView {
        height: auto;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._groups: list[tuple[list[str], list[Strip]]] = []
        """Finished blocks shown here, in groups rendered together, with their lines."""
        self._tail = ""
        self._rows = 24
        """How many rows the view holds (the last push's)."""
        self._tail_lines: list[Strip] = []
        self._lines: list[Strip] = []
        self._width = 0
        self._rich_console: tuple[object, Console] | None = None
        """The console rendering for the current width and colours (its key, itself)."""

    @property
    def active(self) -> bool:
        """True while it holds any text."""
        return bool(self._groups or self._tail)

    def push(self, blocks: list[str], tail: str, rows: int) -> list[str]:
        """Show `blocks` (finished, in order) after those shown and `tail` as the open block.

        Returns, in order, the oldest finished blocks that no longer fit in about `rows` rows
        above the open block, for the caller to keep elsewhere (blocks that would not fit are
        never rendered here: after a stall, a pass may bring many screens).
        """
        width = self._content_width()
        popped: list[str] = []
        passed: list[str] = []
        if blocks:
            keep, height = len(blocks), 0
            while keep > 0 and height < rows:
                keep -= 1
                height += estimate_height(blocks[keep], width)
            passed, blocks = blocks[:keep], blocks[keep:]
            if passed:  # (older than the blocks that stay: every group shown goes first)
                popped = [block for group, _ in self._groups for block in group]
                self._groups = []
            self._groups.append((blocks, self._render_markdown("".join(blocks), width)))
        shown = sum(len(lines) + 1 for _, lines in self._groups)
        while len(self._groups) > 1 and shown - len(self._groups[0][1]) - 1 >= rows:
            group, lines = self._groups.pop(0)
            shown -= len(lines) + 1
            popped += group
        self._tail = tail
        self._rows = rows
        self._tail_lines = self._render_tail(width)
        self._assemble()
        return popped + passed

    def _render_tail(self, width: int) -> list[Strip]:
        """The open block's last lines. Only its end is rendered (about four screens of
        characters): the view shows its last rows, and rendering all of a long block (one
        10 MB line) at every pass cost the square of its length."""
        tail = text_end(self._tail, 4 * width * max(self._rows, 24))
        return self._render_markdown(tail, width) if tail.strip() else []

    def take(self) -> list[str]:
        """Empty the view; returns the finished blocks it showed (the open block is the caller's)."""
        blocks = [block for group, _ in self._groups for block in group]
        self._groups, self._tail, self._tail_lines = [], "", []
        self._assemble()
        return blocks

    # -- rendering ------------------------------------------------------------------------

    def _content_width(self) -> int:
        width = self.content_region.width
        if not width and isinstance(self.parent, Widget):
            width = self.parent.content_region.width
        return width or 80

    def _render_markdown(self, text: str, width: int) -> list[Strip]:
        """`text` (one or more whole blocks) as lines `width` cells wide, in the theme's colours
        (without blank lines at the end)."""
        self._width = width
        app = self.app
        variables = app.theme_variables
        colours = tuple((name, variables.get(name, "")) for name in ("primary", "secondary", "accent", "foreground"))
        dark = app.current_theme.dark if app.current_theme is not None else True
        key = (width, colours)
        if self._rich_console is None or self._rich_console[0] != key:
            console = Console(
                file=io.StringIO(),
                width=width,
                color_system="truecolor",
                force_terminal=True,
                legacy_windows=False,
                theme=_theme(colours),
            )
            self._rich_console = (key, console)
        console = self._rich_console[1]
        markdown = RichMarkdown(text, code_theme="monokai" if dark else "default", hyperlinks=False)
        lines = [Strip(Segment.simplify(line)) for line in render_lines(console, markdown)]
        while lines and not lines[-1].text.strip():
            lines.pop()
        return lines

    def _assemble(self) -> None:
        lines: list[Strip] = []
        for _, group in self._groups:
            lines += group
            lines.append(Strip.blank(0))
        lines += self._tail_lines
        while lines and not lines[-1].cell_length:
            lines.pop()
        height_changed = len(lines) != len(self._lines)
        self._lines = lines
        self.display = bool(lines)  # (an empty one would still hold a margin open)
        self.refresh(layout=height_changed)

    def _rerender(self, width: int) -> None:
        """Render everything again at a new width."""
        self._groups = [(group, self._render_markdown("".join(group), width)) for group, _ in self._groups]
        self._tail_lines = self._render_tail(width)
        self._assemble()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.active and width and width != self._width:
            self._rerender(width)
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        return self._lines[y] if y < len(self._lines) else Strip.blank(0)
