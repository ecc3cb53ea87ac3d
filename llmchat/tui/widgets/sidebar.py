"""The sidebar: provider, model, the live figures of the last reply, and the conversation's
cost and context bar."""

from __future__ import annotations

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from llmchat.chat.accumulator import ReplyStats
from llmchat.providers.events import Usage
from llmchat.safety import one_line

_STATE_STYLE = {
    "idle": "dim",
    "waiting": "bold $warning",
    "retrying": "bold $warning",
    "streaming": "bold $primary",
    "done": "bold $success",
    "cancelled": "bold $warning",
    "error": "bold $error",
}


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def stats_rows(stats: ReplyStats | None) -> list[tuple[str, str]]:
    """(label, value) rows for the figures of one reply; dashes before any reply."""
    if stats is None:
        return [("State", "idle"), ("Finish", "–"), ("Input", "–"), ("Output", "–"),
                ("Total", "–"), ("TTFT", "–"), ("Speed", "–"), ("Elapsed", "–")]
    usage = stats.usage
    output = f"{stats.output_tokens}" + (" (est.)" if stats.estimated and stats.output_tokens else "")
    state = stats.state
    if state == "waiting" and stats.elapsed is not None:
        state = f"waiting for first token… {stats.elapsed:.0f} s"
    elif state == "retrying" and stats.retry is not None:
        state = f"retrying in {stats.retry.delay:.1f} s (attempt {stats.retry.attempt})"
    return [
        ("State", state),
        ("Finish", stats.finish_reason or "–"),
        ("Input", str(usage.input_tokens) if usage else "–"),
        ("Output", output if usage or stats.output_tokens else "–"),
        ("Total", str(usage.total_tokens) if usage else "–"),
        ("TTFT", _seconds(stats.ttft)),
        ("Speed", f"{stats.tokens_per_second:.1f} tok/s" if stats.tokens_per_second else "–"),
        ("Elapsed", _seconds(stats.elapsed)),
    ]


class Sidebar(Vertical):
    """Shows :attr:`provider`, :attr:`model` and :attr:`stats`; the screen sets them."""

    provider: reactive[str] = reactive("")
    """The provider or profile name."""
    model: reactive[str] = reactive("")
    """The model name."""
    rounds: reactive[tuple[int, Usage | None]] = reactive((0, None))
    """(requests sent, usage summed) of the last turn with tools; shown from 2 rounds on."""
    stats: reactive[ReplyStats | None] = reactive(None, always_update=True)
    """Figures of the current or last reply; None before the first."""

    _stats_shape: tuple[tuple[str, int], ...] = ()
    """Labels and value widths last shown: while they stay the same, so does the table's size."""
    _stats_shown: tuple[list[tuple[str, str]], str] | None = None
    """The rows and state style last shown (an unchanged table is not redrawn)."""
    _error_note = ""
    """The error note last shown."""

    def compose(self) -> ComposeResult:
        yield Static(id="sidebar-title", classes="sidebar-title")
        yield Static(id="sidebar-model")
        yield Static("Last reply", classes="sidebar-title")
        yield Static(id="sidebar-stats")
        yield Static(id="sidebar-rounds", markup=False)
        yield Static(id="sidebar-error", markup=False)
        yield Static("Conversation", classes="sidebar-title")
        yield Static("Cost –", id="sidebar-cost", markup=False)
        yield Static("Context –", id="sidebar-context", markup=False)

    def on_mount(self) -> None:
        self.query_one("#sidebar-title", Static).update("Model")
        self._show_model()
        self._show_stats(self.stats)  # is_mounted is still False during on_mount
        self.query_one("#sidebar-rounds", Static).display = False

    def watch_provider(self) -> None:
        if self.is_mounted:
            self._show_model()

    watch_model = watch_provider

    def _show_model(self) -> None:
        # The model id may come from the server (the model picker): shown made safe.
        table = _table([("Provider", one_line(self.provider, 200)), ("Model", one_line(self.model, 200))])
        self.query_one("#sidebar-model", Static).update(table)

    def watch_rounds(self, rounds: tuple[int, Usage | None]) -> None:
        if not self.is_mounted:
            return
        count, usage = rounds
        line = self.query_one("#sidebar-rounds", Static)
        line.display = count > 1
        total = f", {usage.total_tokens} tokens in all" if usage else ""
        line.update(f"Tool rounds: {count}{total}")

    def watch_stats(self, stats: ReplyStats | None) -> None:
        if self.is_mounted:
            self._show_stats(stats)

    def _show_stats(self, stats: ReplyStats | None) -> None:
        rows = stats_rows(stats)
        style = self._state_style(stats)
        if (rows, style) != self._stats_shown:
            # A few times a second while a reply streams, and only when the text changes: a layout
            # of the whole screen each time would cost more than the reply's own rendering. Same
            # labels and value widths: same size, no layout.
            self._stats_shown = (rows, style)
            table = _table(rows, state_style=style)
            shape = tuple((label, cell_len(value)) for label, value in rows)
            self.query_one("#sidebar-stats", Static).update(table, layout=shape != self._stats_shape)
            self._stats_shape = shape
        # Only a retry's note: a reply's own error is shown once, under the reply.
        note = None if stats is None or stats.retry is None else stats.retry.error
        note = one_line(note, 300) if note else None  # provider text: one safe line
        error = self.query_one("#sidebar-error", Static)
        if (note or "") != self._error_note:
            error.update(note or "")
            self._error_note = note or ""
        error.display = bool(note)
        self.set_class(
            stats is not None and stats.state in ("waiting", "retrying", "streaming"), "-streaming"
        )

    def show_meter(self, cost: str | None = None, context: str | None = None, *, over: bool = False) -> None:
        """Show the conversation's cost and its context bar (None: leave that line as it is);
        `over`: the conversation with the draft would not fit the context window."""
        if cost is not None:
            self.query_one("#sidebar-cost", Static).update(f"Cost {cost}")
        if context is not None:
            line = self.query_one("#sidebar-context", Static)
            line.update(f"Context {context}")
            line.set_class(over, "-over")

    def _state_style(self, stats: ReplyStats | None) -> str:
        style = _STATE_STYLE[stats.state if stats else "idle"]
        variables = self.app.theme_variables
        for name in ("warning", "primary", "success", "error"):
            style = style.replace(f"${name}", variables.get(name, ""))
        return style


def _table(rows: list[tuple[str, str]], state_style: str = "") -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, Text(value, style=state_style if label == "State" else ""))
    return table
