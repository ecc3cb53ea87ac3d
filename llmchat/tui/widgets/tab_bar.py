"""TabBar: one line at the top of the chat screen naming the open tabs, with a mark each.

Hidden while one tab is open (as terminal emulators hide theirs): the session looks as it
did before tabs, and an 80x24 terminal keeps the row. The bar only shows what it is given
(:meth:`TabBar.show`); the app's tab set decides the titles and marks. A click on a tab
posts :class:`TabBar.Picked`.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from llmchat.safety import one_line

Mark = Literal["", "busy", "done", "error"]
"""A tab's state as its title shows it: nothing, a reply streaming, a finished reply not
seen yet, a failed reply not seen yet."""

MARKS: dict[str, str] = {"busy": "⠿", "done": "●", "error": "✖"}
"""The glyph of each mark (the README's "Tabs" section names them)."""

MIN_TITLE = 6
"""Titles are cut to share the width, but not below this many cells."""


class TabEntry(NamedTuple):
    """What the bar shows of one tab."""

    title: str
    """The conversation's title or first message (made safe and cut here)."""
    mark: Mark = ""


class TabBar(Widget):
    """The open tabs, the active one highlighted; ``1 ● title`` per tab."""

    DEFAULT_CSS = """
    TabBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
    }
    TabBar > .tab-bar--active { background: $primary; color: $text; text-style: bold; }
    TabBar > .tab-bar--busy { color: $warning; }
    TabBar > .tab-bar--done { color: $success; }
    TabBar > .tab-bar--error { color: $error; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tab-bar--active", "tab-bar--busy", "tab-bar--done", "tab-bar--error",
    }

    class Picked(Message):
        """A tab was clicked."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index
            """The tab's position, from 0."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[TabEntry] = []
        """The tabs shown, in order."""
        self.active = 0
        """The position of the visible tab."""
        self._spans: list[tuple[int, int]] = []
        """(first cell, end cell) of each tab as last rendered (for clicks)."""
        self.display = False

    def show(self, entries: list[TabEntry], active: int) -> None:
        """Show `entries` with tab `active` highlighted; the bar hides with fewer than two."""
        if entries == self.entries and active == self.active and self.display == (len(entries) > 1):
            return
        self.entries, self.active = list(entries), active
        self.display = len(entries) > 1
        self.refresh()

    def text(self, width: int) -> Text:
        """The bar as it is drawn at `width` cells (also what tests read)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        if not self.entries:
            return text
        room = max(MIN_TITLE, width // len(self.entries) - 6)
        for index, entry in enumerate(self.entries):
            start = text.cell_len
            label = Text(f" {index + 1} ")
            if entry.mark:
                label.append(MARKS[entry.mark], style=self._style(f"tab-bar--{entry.mark}"))
                label.append(" ")
            label.append(one_line(entry.title, room))
            label.append(" ")
            if index == self.active:
                label.stylize(self._style("tab-bar--active"))
            text.append_text(label)
            self._spans.append((start, text.cell_len))
            text.append("│" if index + 1 < len(self.entries) else "")
        return text

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)

    def render(self) -> Text:
        return self.text(self.size.width or 80)

    def on_click(self, event: events.Click) -> None:
        """Post :class:`Picked` for the tab under the pointer."""
        for index, (start, end) in enumerate(self._spans):
            if start <= event.x < end:
                self.post_message(self.Picked(index))
                return
