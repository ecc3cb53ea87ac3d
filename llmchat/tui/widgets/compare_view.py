"""The replies of a compare turn (``/compare``) side by side: one column per model, streaming
together, each with its own live figures, and a summary table once all have ended.

Each column's text is a :class:`StreamingMarkdown` inside its own scrolling area (so four
fast streams cost four tails, never a whole-document render per token), with a figures line
above it (TTFT, tokens, tok/s while it streams; finish reason and cost at the end). The view
is as tall as the transcript's viewport, so all columns are seen at once and each follows its
own stream. When a column would be narrower than :data:`NARROW_BELOW` cells, one reply is
shown at a time under a row of tabs (left / right or a click switch).

The columns only show; the chat screen runs the turn and answers their messages:
:class:`CompareColumn.Pick` (Enter or the "Use" button: go on from this reply) and
:class:`CompareColumn.Stop` (``x``: stop this reply only). Escape stops all (the screen's
binding).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import Static, Tab, Tabs

from llmchat.chat.accumulator import ReplyStats
from llmchat.safety import one_line
from llmchat.tui.widgets.compare_column import CompareColumn, SummaryRow, best_line, summary_table

__all__ = ["NARROW_BELOW", "CompareColumn", "CompareView", "SummaryRow"]

NARROW_BELOW = 38
"""Columns narrower than this many cells are not worth reading side by side: one reply is
shown at a time, with tabs to switch."""

class CompareView(Vertical):
    """The columns of one compare turn, a tab row for narrow terminals, the summary table.

    Args:
        labels: the targets, in order (one column each).
        prompt_hint: show the keys line above the columns.
    """

    DEFAULT_CSS = """
    CompareView {
        height: 95%;  /* of the transcript's viewport: every column is seen whole */
        min-height: 8;
        margin: 1 0 0 0;
        border-top: solid $primary 50%;
    }
    CompareView > .compare-keys {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareView > Tabs {
        display: none;
    }
    CompareView.-narrow > Tabs {
        display: block;
    }
    CompareView > .compare-columns {
        height: 1fr;
    }
    CompareView .compare-column {
        width: 1fr;
        height: 1fr;
        padding: 0 0 0 1;
        border-left: thick $primary 50%;
    }
    CompareView .compare-column:focus-within {
        border-left: thick $accent;
        background: $accent 7%;
    }
    CompareView .compare-column.-error {
        border-left: thick $error;
    }
    CompareView .compare-column.-cancelled {
        border-left: thick $warning;
    }
    CompareView .compare-column.-picked {
        border-left: thick $success;
    }
    CompareView.-narrow .compare-column {
        display: none;
    }
    CompareView.-narrow .compare-column.-shown {
        display: block;
    }
    CompareView .compare-top {
        height: 1;
    }
    CompareView .compare-title {
        width: 1fr;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareView .compare-use {
        width: auto;
        min-width: 7;
        margin: 0 1 0 1;
    }
    CompareView .compare-figures {
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareView .compare-column.-ended .compare-figures {
        height: auto;
        max-height: 2;
        text-wrap: wrap;
    }
    CompareView .compare-scroll {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    CompareView .compare-content {
        height: auto;
        min-height: 100%;  /* (the scroll follows the stream: a short reply stays at the top) */
    }
    CompareView .compare-body {
        padding: 0 1 0 0;
    }
    CompareView .compare-reasoning {
        color: $text-muted;
        text-style: italic;
        margin-bottom: 1;
    }
    CompareView .compare-status {
        color: $warning;
        text-style: italic;
    }
    CompareView .compare-column.-error .compare-status {
        color: $error;
    }
    CompareView > .compare-summary {
        height: auto;
        max-height: 12;
        margin: 1 0 0 0;
        display: none;
    }
    CompareView.-ended > .compare-summary {
        display: block;
    }
    CompareView.-narrow > .compare-summary {
        margin: 0;
        max-height: 2;
        color: $text-muted;
    }
    """

    KEYS_LINE = "Shift+Tab selects a reply · ←/→ next · x stops it · Esc stops all · Enter uses it"
    NARROW_KEYS = "Shift+Tab · ←/→ switch · x stop · Esc all · ⏎ use"

    def __init__(self, labels: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="compare-view")
        self.columns = [CompareColumn(index, label) for index, label in enumerate(labels)]
        """One column per target, in order."""
        self.shown = 0
        """The column shown when the view is narrow (one reply at a time)."""
        self.tabs = Tabs(*[Tab(self._tab_label(c), id=f"compare-tab-{c.index}") for c in self.columns])
        self.keys = Static(self.KEYS_LINE, classes="compare-keys", markup=False)
        self.summary = Static("", classes="compare-summary", markup=False)
        self._rows: list[SummaryRow] = []

    def compose(self) -> ComposeResult:
        yield self.keys
        yield self.tabs
        with Horizontal(classes="compare-columns"):
            yield from self.columns
        yield self.summary

    def on_mount(self) -> None:
        self.columns[0].add_class("-shown")

    @property
    def narrow(self) -> bool:
        """True while one reply is shown at a time."""
        return self.has_class("-narrow")

    @property
    def ended(self) -> bool:
        """True once every reply ended."""
        return all(column.ended for column in self.columns)

    def on_resize(self, event: Resize) -> None:
        """Columns or one at a time, by the width each column would get."""
        narrow = event.size.width / max(1, len(self.columns)) < NARROW_BELOW
        if narrow != self.narrow:
            self.set_class(narrow, "-narrow")
            self.keys.update(self.NARROW_KEYS if narrow else self.KEYS_LINE)
            self._show_summary()
            self.call_after_refresh(self._reveal_shown)

    def select(self, index: int) -> None:
        """Show (narrow) and focus column `index` (wraps around)."""
        index %= len(self.columns)
        self.tabs.active = f"compare-tab-{index}"  # -> _tab_activated shows it
        self._show(index)
        self.columns[index].scroll.focus()

    def _show(self, index: int) -> None:
        self.shown = index
        for column in self.columns:
            column.set_class(column.index == index, "-shown")
        self.call_after_refresh(self._reveal_shown)

    def _reveal_shown(self) -> None:
        """Columns that show (again) render what they held back while hidden (once their new
        display is applied: a column still hidden holds itself again)."""
        for column in self.columns:
            if not self.narrow or column.index == self.shown:
                column.body.reveal()

    @on(CompareColumn.Step)
    def _step(self, event: CompareColumn.Step) -> None:
        event.stop()
        self.select(event.column.index + event.step)

    @on(Tabs.TabActivated)
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id and event.tab.id.startswith("compare-tab-"):
            self._show(int(event.tab.id.removeprefix("compare-tab-")))

    def _tab_label(self, column: CompareColumn) -> Text:
        return Text(f"{column.mark} {one_line(column.label, 60)}")

    def tick(self, stats: Sequence[ReplyStats | None]) -> None:
        """Refresh every column's live figures (`stats[i]` for column i; None: not started)
        and the marks in the tabs."""
        for column, figures in zip(self.columns, stats):
            column.show_stats(figures)
        if self.narrow:
            self._refresh_tabs()

    def _refresh_tabs(self) -> None:
        for column in self.columns:
            try:
                tab = self.tabs.query_one(f"#compare-tab-{column.index}", Tab)
            except Exception:  # noqa: BLE001 - not mounted yet
                continue
            label = self._tab_label(column)
            if str(tab.label) != str(label):
                tab.label = label

    def show_summary(self, rows: Sequence[SummaryRow]) -> None:
        """Every reply ended: show the summary table and the "Use" buttons."""
        self._rows = list(rows)
        self._show_summary()
        self.add_class("-ended")
        for column in self.columns:
            column.use.display = True
        self._refresh_tabs()

    def _show_summary(self) -> None:
        if self._rows:
            self.summary.update(best_line(self._rows) if self.narrow else summary_table(self._rows))

    def mark_picked(self, index: int) -> None:
        """Mark column `index` as the reply the conversation goes on from."""
        for column in self.columns:
            column.set_class(column.index == index, "-picked")
            column.use.display = False
