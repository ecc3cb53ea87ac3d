"""One column of a compare turn (:mod:`llmchat.tui.widgets.compare_view`): a model's reply
with its title, "Use" button and live figures; and the lines and summary table of the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import monotonic
from typing import NamedTuple

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as Event
from textual.widgets import Button, Static

from llmchat.chat.accumulator import ReplyStats
from llmchat.chat.meter import tokens_per_second
from llmchat.chat.models import Message
from llmchat.chat.pricing import format_usd
from llmchat.safety import one_line, terminal_safe
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

MARKS = {"stop": "✓", "tool_calls": "✓", "length": "…", "content_filter": "⚠", "cancelled": "■",
         "error": "✖"}
"""The mark of a finished column by finish reason (in its tab and its figures line)."""


def live_line(stats: ReplyStats | None) -> str:
    """The figures line of a reply that streams: ``⠋ waiting 1.2 s`` before its first token,
    then ``TTFT 0.42 s · ~312 tokens · 85 tok/s``."""
    if stats is None:
        return f"{SPINNER[0]} starting…"
    spinner = SPINNER[int(monotonic() * 10) % len(SPINNER)]
    if stats.state == "waiting":
        return f"{spinner} waiting for the first token… {stats.elapsed or 0.0:.1f} s"
    if stats.state == "retrying" and stats.retry is not None:
        return f"{spinner} retrying (attempt {stats.retry.attempt})"
    parts = []
    if stats.ttft is not None:
        parts.append(f"TTFT {stats.ttft:.2f} s")
    approx = "~" if stats.estimated else ""
    parts.append(f"{approx}{stats.output_tokens:,} tok")
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:,.0f} tok/s")
    return f"{spinner} " + " · ".join(parts)


def final_line(message: Message, cost: float | None = None) -> str:
    """The figures line of a finished reply: ``✓ stop · TTFT 0.42 s · 312 tok · 85 tok/s ·
    3.10 s · $0.0012`` (each figure only when known)."""
    reason = message.finish_reason or "stop"
    parts = [f"{MARKS.get(reason, '✓')} {reason}"]
    if message.ttft is not None:
        parts.append(f"TTFT {message.ttft:.2f} s")
    if message.usage is not None:
        parts.append(f"{message.usage.output_tokens:,} tok")
    rate = tokens_per_second(message)
    if rate is not None:
        parts.append(f"{rate:,.0f} tok/s")
    if message.duration is not None:
        parts.append(f"{message.duration:.2f} s")
    if cost is not None:
        parts.append(format_usd(cost))
    return " · ".join(parts)


class SummaryRow(NamedTuple):
    """One reply of the summary."""

    label: str
    """The target (``anthropic/claude-sonnet-4-5``)."""
    message: Message
    """The reply, finished (its finish reason, usage and timings)."""
    cost: float | None = None
    """Its cost in USD, None when unknown."""


def _best(rows: Sequence[SummaryRow]) -> tuple[float | None, float | None, float | None]:
    """The best TTFT, tok/s and cost among `rows` (None when fewer than two replies have one:
    nothing to compare)."""
    ttfts = [r.message.ttft for r in rows if r.message.ttft is not None]
    rates = [rate for r in rows if (rate := tokens_per_second(r.message)) is not None]
    costs = [r.cost for r in rows if r.cost is not None]
    return (min(ttfts) if len(ttfts) > 1 else None, max(rates) if len(rates) > 1 else None,
            min(costs) if len(costs) > 1 else None)


def summary_table(rows: Sequence[SummaryRow]) -> Table:
    """The table under the columns once every reply ended: one row per reply with its finish
    reason, TTFT, tok/s, tokens in / out, duration and cost; the best TTFT, speed and cost are
    bold."""
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim", expand=False)
    table.add_column("model", overflow="ellipsis", no_wrap=True, max_width=40)
    table.add_column("finish", no_wrap=True)
    for name in ("TTFT", "tok/s", "in / out", "time", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    best_ttft, best_rate, best_cost = _best(rows)
    for row in rows:
        message = row.message
        rate = tokens_per_second(message)
        usage = message.usage
        reason = message.finish_reason or "–"
        table.add_row(
            Text(one_line(row.label, 120)),
            f"{MARKS.get(reason, '')} {reason}".strip(),
            Text("–" if message.ttft is None else f"{message.ttft:.2f} s",
                 style="bold" if message.ttft is not None and message.ttft == best_ttft else ""),
            Text("–" if rate is None else f"{rate:,.0f}", style="bold" if rate is not None and rate == best_rate
                 else ""),
            f"{usage.input_tokens:,} / {usage.output_tokens:,}" if usage else "–",
            "–" if message.duration is None else f"{message.duration:.2f} s",
            Text("–" if row.cost is None else format_usd(row.cost),
                 style="bold" if row.cost is not None and row.cost == best_cost else ""),
        )
    return table


def best_line(rows: Sequence[SummaryRow]) -> str:
    """The summary in one line, for a narrow terminal (one reply shown at a time): which reply
    was first to answer, fastest and cheapest, e.g. ``first token: o4-mini 0.12 s · fastest:
    gpt-4o-mini 36 tok/s · cheapest: gpt-4o-mini $0.000023``; the replies that ended otherwise
    than normally are counted (``1 error``)."""
    best_ttft, best_rate, best_cost = _best(rows)
    parts = []

    def name(row: SummaryRow) -> str:
        return one_line(row.label.rpartition("/")[2] or row.label, 40)

    for row in rows:
        if best_ttft is not None and row.message.ttft == best_ttft:
            parts.append(f"first token: {name(row)} {best_ttft:.2f} s")
            break
    for row in rows:
        if best_rate is not None and tokens_per_second(row.message) == best_rate:
            parts.append(f"fastest: {name(row)} {best_rate:,.0f} tok/s")
            break
    for row in rows:
        if best_cost is not None and row.cost == best_cost:
            parts.append(f"cheapest: {name(row)} {format_usd(best_cost)}")
            break
    ends: dict[str, int] = {}
    for row in rows:
        reason = row.message.finish_reason or "stop"
        if reason not in ("stop", "tool_calls"):
            ends[reason] = ends.get(reason, 0) + 1
    parts += [f"{count} {reason}" for reason, count in ends.items()]
    return " · ".join(parts) or "no figures to compare"


class CompareColumn(Vertical):
    """One model's reply: a title with a "Use" button, the figures line, the text."""

    BINDINGS = [
        Binding("enter", "pick", "Use this reply", id="compare.pick"),
        Binding("x", "stop", "Stop this reply", id="compare.stop"),
        Binding("left", "step(-1)", "Previous reply", show=False, id="compare.previous"),
        Binding("right", "step(1)", "Next reply", show=False, id="compare.next"),
        Binding("escape", "screen.focus_prompt", "Prompt", id="compare.prompt"),
    ]

    class Pick(Event):
        """Go on with this column's reply (Enter, or its "Use" button)."""

        def __init__(self, column: CompareColumn) -> None:
            super().__init__()
            self.column = column

    class Stop(Event):
        """Stop this column's reply only (``x``)."""

        def __init__(self, column: CompareColumn) -> None:
            super().__init__()
            self.column = column

    def __init__(self, index: int, label: str) -> None:
        super().__init__(classes="compare-column")
        self.index = index
        """The column's place (0: the first target)."""
        self.label = label
        """The target as the user named it."""
        self.message: Message | None = None
        """The reply, once it ended."""
        self.title = Static(Text(one_line(label, 200)), classes="compare-title")
        self.use = Button("Use ⏎", compact=True, classes="compare-use", tooltip="Go on with this reply")
        self.use.display = False
        self.figures = Static(live_line(None), classes="compare-figures", markup=False)
        self.body = StreamingMarkdown(classes="compare-body", hold_when_hidden=True)  # one reply at a time: the others wait
        self.reasoning = Static("", classes="compare-reasoning", markup=False)
        self.reasoning.display = False
        self.status = Static("", classes="compare-status", markup=False)
        self.status.display = False
        self.scroll = VerticalScroll(
            Vertical(self.reasoning, self.body, self.status, classes="compare-content"), classes="compare-scroll")
        """The reply's own scrolling area (focusable: the keys above work in it)."""
        self._reasoning = ""
        self._figures = live_line(None)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="compare-top"):
            yield self.title
            yield self.use
        yield self.figures
        yield self.scroll

    def on_mount(self) -> None:
        self.scroll.anchor()

    @property
    def ended(self) -> bool:
        """True once the reply ended (however)."""
        return self.message is not None

    @property
    def mark(self) -> str:
        """A one-character state: a spinner frame while it streams, else :data:`MARKS`."""
        if self.message is None:
            return SPINNER[int(monotonic() * 10) % len(SPINNER)]
        return MARKS.get(self.message.finish_reason or "stop", "✓")

    def append(self, text: str) -> None:
        """Add reply text (made safe for the terminal here); cheap: it only buffers."""
        self.body.append(terminal_safe(text))

    def add_reasoning(self, text: str) -> None:
        """Add reasoning text (dimmed, above the answer)."""
        self._reasoning += terminal_safe(text)
        self.reasoning.display = True
        self.reasoning.update(self._reasoning)

    def show_stats(self, stats: ReplyStats | None) -> None:
        """Refresh the live figures (several times a second; an unchanged line costs nothing)."""
        if self.message is None:
            self._show_figures(live_line(stats))

    def _show_figures(self, line: str) -> None:
        """Show `line` above the text. While the reply streams the line is one row high (cut
        with an ellipsis), so its refreshes repaint one row and lay nothing out; the final
        line may wrap to two rows."""
        if line != self._figures:
            self._figures = line
            self.figures.update(line, layout=self.message is not None)

    def end(self, message: Message, cost: float | None = None) -> None:
        """The reply ended: show how (and what failed) and its final figures (the rest of its
        text renders with :meth:`finish`, or ``body.finish()`` in a worker of its own)."""
        self.message = message
        reason = message.finish_reason
        self.add_class("-ended")
        self.set_class(reason == "error", "-error")
        self.set_class(reason == "cancelled", "-cancelled")
        note = ""
        if reason == "error":
            note = f"✖ {one_line(message.error or 'error', 300)}"
        elif reason == "cancelled":
            note = "■ stopped"
        elif reason == "length":
            note = "… cut off at the token limit (length)"
        elif reason == "content_filter":
            note = "⚠ stopped by the provider's content filter"
        if message.refusal:
            note = f"⚠ refusal: {terminal_safe(message.refusal)}" + (f"  {note}" if note else "")
        self.status.update(note)
        self.status.display = bool(note)
        self._show_figures(final_line(message, cost))

    async def finish(self, message: Message, cost: float | None = None) -> None:
        """:meth:`end`, then render the rest of the text (returns once it is on screen)."""
        self.end(message, cost)
        if not self.body.finished:
            await self.body.finish()

    def show_cost(self, cost: float | None) -> None:
        """Show the reply's cost in its figures line once priced."""
        if self.message is not None:
            self._show_figures(final_line(self.message, cost))

    def action_pick(self) -> None:
        self.post_message(self.Pick(self))

    def action_stop(self) -> None:
        self.post_message(self.Stop(self))

    class Step(Event):
        """Left / right on the column: show and select the column `step` places away."""

        def __init__(self, column: CompareColumn, step: int) -> None:
            super().__init__()
            self.column = column
            self.step = step

    def action_step(self, step: int) -> None:
        self.post_message(self.Step(self, step))

    @on(Button.Pressed, ".compare-use")
    def _use_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Pick(self))
