"""StreamingMarkdown: a Markdown reply that grows token by token, rendered at the frame rate.

Textual's ``Markdown.append`` re-joins and re-splits the whole source and re-lays out the widget on
every call, so a long reply gets slower with every token. Here the text is cut into top-level
Markdown blocks, found by markdown-it (the parser Textual uses, block rules only) run on the *open
tail* only (markdown_blocks.py):

- a block followed by another block is *finished*: no later text can change it, so it becomes part
  of a frozen chunk, rendered by a ``ChatMarkdown`` widget and never updated;
- only the last (open) block changes: the tail ``ChatMarkdown`` gets the new text at most once per
  render pass (``Markdown.append``, which updates its last block in place).

When a pass finishes a few blocks while the view follows the stream, the tail widget itself
becomes their chunk (its widgets are already built and laid out; building them again was half
the cost of a pass): it gives up the widget of the block still open, which a new tail widget
takes over. That is done only when the tail's blocks start on the very lines where the finished
blocks start (a partial last line can make Textual's incremental parse cut a block where the
complete line does not) and no table among them was updated in place; otherwise, and for passes
that bring more than a screenful, the finished blocks are built afresh from their text, for the
chunks near the viewport only (tail_promotion.py).

``append`` only buffers (synchronous and cheap). A timer starts a render pass for what is pending,
about once per new row of text and at once when the stream goes quiet (pass_pacing.py: a pass
costs a layout and a repaint of the view, so a reply of prose at 200 tokens/s, about ten rows a
second, gets about ten passes, not thirty), and paced by how long the last pass took (``PACE``), so a busy
screen gets fewer, larger passes instead of falling behind. ``flush`` renders now and
``finish`` renders the rest and ends the stream. The result equals a one-shot ``Markdown`` render
of the whole text. Frozen chunks far from the viewport have no widgets (chunk_window.py): the cost
of a frame depends on what is near the screen, not on the length of the reply.

A stream too fast to read (more than a screenful a second, :data:`SKIM_ABOVE`) is drawn, while
the view follows it, by a :class:`SkimView` (skim_view.py): one widget, Rich's Markdown renderer,
no Markdown widgets for text that only flies past. The Markdown widgets take over when the rate
falls, the stream pauses for :data:`SKIM_SETTLE`, the view is scrolled away, or it ends
(stream_skim.py).

On a screen that is not visible (a background tab), nothing is rendered: the text is buffered,
``finish`` ends the stream without its final pass, and :meth:`StreamingMarkdown.reveal` (called
when the screen shows again) renders what waited, in one pass.

Limitation: a reference-style link definition (``[label]: url``) only applies to the chunk it was
frozen with while the reply streams; when the text defines any, ``finish`` renders the whole reply
once, in one piece, so that the final render is still exact (that reply is no longer virtual).
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import monotonic

from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import MountError, Widget

from llmchat.tui.widgets.chunk_window import ChunkWindow
from llmchat.tui.widgets.markdown_blocks import BlockSplitter, ChatMarkdown, MarginLift, normalize_newlines
from llmchat.tui.widgets.pass_pacing import QUIET, RowFlow, Runway, pass_interval
from llmchat.tui.widgets.skim_view import SkimView
from llmchat.tui.widgets.stream_skim import SKIM_ABOVE, SKIM_BELOW, SKIM_PACE, SKIM_ROWS, SKIM_SETTLE, SkimPath
from llmchat.tui.widgets.tail_promotion import TailPromotion

__all__ = ["FRAME_RATE", "PACE", "SKIM_ABOVE", "SKIM_BELOW", "SKIM_PACE", "SKIM_ROWS", "SKIM_SETTLE",
           "StreamingMarkdown"]

FRAME_RATE = 30
"""Render passes per second, at most, while text arrives."""

PACE = 1.0
"""After a pass is on screen, wait this many times as long as it took (with its layout) before the
next one: rendering takes about half the time at most, the rest is left to input and network."""

class StreamingMarkdown(SkimPath, TailPromotion, Widget):
    """A Markdown document that is appended to many times a second.

    Call :meth:`append` for each piece of text (no await), then ``await`` :meth:`finish` once.
    """

    DEFAULT_CSS = """
    StreamingMarkdown {
        height: auto;
        layout: vertical;
        padding: 0 2 0 2;
        color: $foreground;
        overflow-y: hidden;
    }
    StreamingMarkdown > ChatMarkdown {
        padding: 0;
        margin: 0;
    }
    """

    def __init__(
        self,
        markdown: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        hold_when_hidden: bool = False,
    ) -> None:
        """Args:
        markdown: Initial text (rendered once mounted; more may be appended).
        name: The name of the widget.
        id: The ID of the widget in the DOM.
        classes: The CSS classes of the widget.
        hold_when_hidden: Also hold rendering while the widget or an ancestor is not displayed
            (``display: none``, a compare column behind the others); whoever shows it again
            calls :meth:`reveal`.
        """
        super().__init__(name=name, id=id, classes=classes)
        self._hold_when_hidden = hold_when_hidden
        self._parts: list[str] = [markdown] if markdown else []
        """Everything appended, in order (joined lazily by :attr:`source`)."""
        self._pending: list[str] = [markdown] if markdown else []
        """Text appended since the last render pass."""
        self._rendered_length = 0
        self._tail_text = ""
        """The open tail (from the start of the last top-level block to the end), as rendered."""
        self._tail = ChatMarkdown()
        self._tail_lift = MarginLift()
        self._tail_appended = False
        """The tail was changed by Markdown.append since its last update() (not exact yet)."""
        self._splitter = BlockSplitter()
        self._window = ChunkWindow(self, self._tail)
        self._skim = SkimView()
        self._arrivals: deque[tuple[float, int]] = deque()
        """(time, estimated rows) of the text each pass of the last second brought."""
        self._flow = RowFlow()
        """The rows of text the last second brought (no rounding up per pass, unlike _arrivals)."""
        self._runway = Runway()
        """Blank rows below the text while the view follows the stream (it scrolls in steps)."""
        self._text_at = 0.0
        """When text was last appended."""
        self._skim_ended = False
        """The end of the stream was shown in the skim view (the final pass comes next)."""
        self._timer: Timer | None = None
        self._idle = True
        """True while the frame timer is paused (nothing pending)."""
        self._next_pass_at = 0.0
        self._pass_scheduled = False
        self._reconcile_scheduled = False
        self._waiters: list[asyncio.Future[None]] = []
        """flush() calls waiting for the next render pass."""
        self._finished = False
        self._held = False
        """Rendering waits for the screen to show (:meth:`reveal`)."""
        self.render_passes = 0
        """How many render passes ran (for tests and benchmarks)."""
        self.promotions = 0
        """How many times the tail widget became a chunk (for tests and benchmarks)."""

    def compose(self) -> ComposeResult:
        yield self._tail
        yield self._skim

    def on_mount(self) -> None:
        self._idle = not self._pending
        self._timer = self.set_interval(1 / FRAME_RATE, self._on_frame, pause=self._idle)
        self._window.attach()
        self.screen.screen_layout_refresh_signal.subscribe(self, self._on_layout, immediate=True)

    def on_unmount(self) -> None:
        self._release_waiters(self._waiters)

    @property
    def source(self) -> str:
        """All the text appended so far."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def pending(self) -> bool:
        """True while some appended text is not rendered yet."""
        return bool(self._pending) or self._pass_scheduled

    @property
    def rendered_length(self) -> int:
        """How many characters of :attr:`source` have been rendered."""
        return self._rendered_length

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` was called (no more text is accepted)."""
        return self._finished

    @property
    def skimming(self) -> bool:
        """True while the newest text is drawn by the skim view (a stream too fast to read)."""
        return self._skim.active

    @property
    def chunk_counts(self) -> tuple[int, int]:
        """(mounted, all) frozen chunks: how much of the reply has widgets right now."""
        return self._window.counts

    def append(self, text: str) -> None:
        """Add text at the end; it shows at the next frame. Cheap: it only buffers.

        Raises:
            RuntimeError: After :meth:`finish` (the document is complete; appending is a bug).
        """
        if self._finished:
            raise RuntimeError("StreamingMarkdown.append() after finish()")
        if text:
            self._text_at = monotonic()
            self._parts.append(text)
            self._pending.append(text)
            if self._idle and self._timer is not None and not self._held:
                self._idle = False
                self._timer.resume()

    async def flush(self) -> None:
        """Render everything appended so far, now (returns once the pass is done; chunks far from
        the viewport get their widgets when they come near)."""
        if not self.is_attached:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._schedule_pass()
        await waiter

    def show_pending(self) -> None:
        """Render what is pending now, whatever the pace: the text has stopped (the model's
        finish reason came; the end of the reply follows once the stream is recorded)."""
        if self._pending and self.is_attached and not self._finished and not self._hold():
            self._schedule_pass()

    async def finish(self) -> None:
        """Render the rest and end the stream: later appends raise. Calling it again does nothing.

        The final render runs in the widget's own message loop, so it completes even when the
        caller is cancelled while it waits. On a screen that is not visible it waits for
        :meth:`reveal` instead (this returns at once).
        """
        if self._finished:
            return
        self._finished = True
        if self._timer is not None:
            self._timer.stop()
        if self._hold():
            return
        await self.flush()

    @property
    def held(self) -> bool:
        """True while rendering waits for the screen to show."""
        return self._held

    def _hold(self) -> bool:
        """Hold rendering back while the screen is not visible (or, with `hold_when_hidden`,
        the widget is not displayed); returns True when held."""
        if not self._held and self.is_attached and (not self.screen.is_current or self._hidden()):
            self._held = True
            self._idle = True
            if self._timer is not None and not self._finished:
                self._timer.pause()
        return self._held

    def _hidden(self) -> bool:
        """With `hold_when_hidden`: whether it or an ancestor (below the screen) is not displayed."""
        return self._hold_when_hidden and any(
            not node.display for node in self.ancestors_with_self if isinstance(node, Widget) and not isinstance(node, Screen)
        )

    def reveal(self) -> None:
        """The screen shows (again): render what waited while it was hidden."""
        if not self._held:
            return
        self._held = False
        if self._finished:
            self._schedule_pass()
        elif (self._pending or self._skim.active) and self._timer is not None:
            self._idle = False
            self._timer.resume()

    # -- render passes --------------------------------------------------------------------

    def _on_frame(self) -> None:
        """The frame timer: start a render pass if text is pending and the pace allows."""
        if self._hold():
            return
        if self._pending:
            now = monotonic()
            if now >= self._next_pass_at or now - self._text_at >= QUIET:
                self._schedule_pass()
        elif self._skim.active:
            if monotonic() - self._text_at > SKIM_SETTLE:  # the stream paused: settle
                self._schedule_pass()
        elif not self._pass_scheduled and self._timer is not None:
            self._idle = True
            self._timer.pause()

    def _schedule_pass(self) -> None:
        """Queue one render pass in this widget's message loop (at most one is queued)."""
        if self._pass_scheduled:
            return
        if self.call_later(self._run_pass):
            self._pass_scheduled = True
        else:  # closing: nothing will render any more
            self._release_waiters(self._waiters)

    async def _run_pass(self) -> None:
        self._pass_scheduled = False
        if self._finished and self._skim.active and not self._skim_ended:
            # The end of a skimmed stream: show the rest where the stream is shown (a frame's
            # work), and leave the final render by the Markdown widgets to the next pass, once
            # the screen shows it (also when the last pass took the rest already).
            self._skim_ended = True
            try:
                if self.is_attached and self._pending:
                    await self._render_pass(final=False)
            except MountError:  # removed while rendering
                pass
            if self.call_after_refresh(self._run_pass):
                self._pass_scheduled = True
                return
        waiters, self._waiters = self._waiters, []
        started = monotonic()
        try:
            if self.is_attached:
                await self._render_pass(final=self._finished)
                if self._finished:
                    self._runway.clear(self)
        except MountError:  # removed while rendering
            pass
        finally:
            self._release_waiters(waiters)
        self.call_after_refresh(self._pace, started)

    def _pace(self, started: float) -> None:
        """After a pass is on screen: hold the next one back in proportion to its cost, and until
        about a new row of text has arrived; keep blank rows below the text while the view
        follows (pass_pacing.py)."""
        now = monotonic()
        pace = SKIM_PACE if self._skim.active else PACE
        interval = pass_interval(self._flow.rows_per_second(now))
        self._next_pass_at = max(now + pace * (now - started), started + interval)
        viewport = self._window.viewport()
        if not self._finished and self.is_attached and viewport is not None and self._window.following():
            self._runway.keep(self, self._text_rows(), viewport)

    def _text_rows(self) -> int:
        """Rows the children take, as last laid out (without the runway below them)."""
        top = self.region.y
        bottom = top
        for child in self.displayed_children:
            bottom = max(bottom, child.region.bottom + child.styles.margin.bottom)
        return bottom - top

    @staticmethod
    def _release_waiters(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()

    async def _render_pass(self, *, final: bool) -> None:
        """Freeze the blocks that are finished, mount those near the viewport, update the tail."""
        references = self._splitter.has_references
        if not self._pending and not self._skim.active and not (final and (self._tail_appended or references)):
            return
        new = "".join(self._pending)
        self._pending.clear()
        if not final and new.endswith("\r"):
            # A CR may be the first half of a CRLF: keep it for the next pass.
            self._pending.append("\r")
            new = new[:-1]
        arrived = len(new)
        new = normalize_newlines(new)
        blocks, tail = self._splitter.split(self._tail_text + new, final=final)
        references = self._splitter.has_references
        self.render_passes += 1
        with self.app.batch_update():
            if await self._skimmed(blocks, tail, new, final=final):
                self._tail_text = tail
                self._rendered_length += arrived
                return
            if self._skim.active:
                new = await self._unskim(blocks, tail, final=final)
                blocks = []
            if final and references:
                # Reference definitions reach across blocks: render the whole text in one piece.
                await self._window.clear()
                blocks, tail = [], normalize_newlines(self.source)
            elif blocks and final and self._one_piece(blocks, tail):
                blocks, tail = [], "".join(blocks) + tail
            elif blocks and await self._promote_tail(new, blocks, tail, final=final):
                blocks = []
                new = ""
            if blocks:
                await self._window.add(blocks)
            if final:
                if blocks or new or self._tail_appended or references:
                    # The last pass renders the open block afresh, exactly as a one-shot would.
                    await self._tail.update(tail)
                    self._tail_lift = MarginLift()
                    self._tail_appended = False
            elif blocks:
                # The open block starts anew. Built by append() from empty, so that the next
                # appends re-parse from its first line (after update(), Markdown.append would
                # re-parse from the last line only and lose the start of a multi-line block).
                await self._tail.update("")
                if tail:
                    await self._tail.append(tail)
                self._tail_lift = MarginLift()
                self._tail_appended = True
            elif new:
                # Only the open block grew: Markdown.append updates its last block in place.
                await self._tail.append(new)
                self._tail_appended = True
            self._tail_lift.apply(self._tail)
        self._tail_text = tail
        self._rendered_length += arrived

    # -- virtual chunks -------------------------------------------------------------------

    def _on_layout(self, screen: Screen[object]) -> None:
        """After every layout of the screen (scroll, resize, new text): check what is near.

        Not while the view follows a stream that has text waiting: the next pass mounts and
        removes chunks itself (by height from the bottom), and a second layout per pass would
        cost as much as the pass.
        """
        if not self._window.chunks or self._reconcile_scheduled:
            return
        if not self._finished and (self.pending or self._skim.active) and self._window.following():
            return
        if self.call_later(self._reconcile):
            self._reconcile_scheduled = True

    async def _reconcile(self) -> None:
        self._reconcile_scheduled = False
        if self.is_attached:
            await self._window.reconcile()
