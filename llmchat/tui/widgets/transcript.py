"""The scrolling list of messages.

A long stored conversation is shown a page at a time (ChatScreen.open_conversation): the newest
messages that fill about a screen, with a "Show earlier messages" button above them. Scrolling
up towards it presses it (:data:`EARLIER_WITHIN`), and the page of earlier messages is mounted
above what the user is reading without moving it (:meth:`Transcript.keep_in_view`).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.scrollbar import ScrollBar
from textual.widget import Widget
from textual.widgets import Button

from llmchat.chat.models import Attachment, Message
from llmchat.tui.widgets.markdown_blocks import estimate_height
from llmchat.tui.widgets.message_view import MessageView

LOAD_EARLIER_ID = "load-earlier"
"""The id of the button at the top of the transcript that loads the earlier messages."""

EARLIER_WITHIN = 1.0
"""Scrolling up to within this many viewport heights of the top presses that button."""

MESSAGE_ROWS = 3
"""Rows a message takes besides its text (its role line, the margin above it, a spare one)."""


class Transcript(VerticalScroll):
    """Holds the :class:`MessageView` of every message; stays at the bottom unless scrolled up."""

    can_focus = True

    _keep: tuple[Widget, float] | None = None
    """A widget to keep where it is on screen, and its offset from the top of the viewport, until
    the user scrolls after :meth:`settle` (see keep_in_view)."""
    _settling = False
    """Between keep_in_view and settle: the user's scrolling moves the kept offset with it."""
    _pressed: Widget | None = None
    """The last "load earlier" button that scrolling pressed."""

    async def add_message(
        self, role: str, text: str = "", *, before: int | None = None, attachments: Sequence[Attachment] = ()
    ) -> MessageView:
        """Mount a message view (at the end, or before the child at index `before`)."""
        view = MessageView(role, text, attachments=attachments)
        await self.mount(view, before=before if before is not None and before < len(self.children) else None)
        return view

    async def clear(self) -> None:
        """Remove every message."""
        self._keep = None
        await self.remove_children()

    # -- pages of stored messages ---------------------------------------------------------

    def page_size(self, messages: Sequence[Message], *, screens: float = 1.0, limit: int = 50) -> int:
        """How many of the newest of `messages` fill `screens` viewport heights (estimated from
        their text at the transcript's width): at least 1 when there are any, at most `limit`."""
        width = max(self.scrollable_content_region.width - 4, 20) if self.size.width else 76
        height = self.scrollable_content_region.height or self.app.size.height
        wanted = max(1, int(height * screens))
        rows = count = 0
        for message in reversed(messages):
            if count >= limit or (count and rows >= wanted):
                break
            rows += MESSAGE_ROWS + estimate_height(message.content, width)
            count += 1
        return count

    def keep_in_view(self, widget: Widget) -> None:
        """Keep `widget` where it is on screen, whatever is mounted or removed above it (a page
        of earlier messages), until the user scrolls: at every layout the scroll offset moves by
        as much as the widget moved, in that same layout, so nothing jumps.

        Call it before changing what is above (its place is read from the last layout), and
        :meth:`settle` once the change is laid out. Until then the user's scrolling moves the
        kept offset with it (scrolling during a page load neither undoes the scroll nor lets the
        rest of the load push the text down); after it, the user's next scroll ends the keep."""
        if widget.is_attached and widget.parent is self and widget.outer_size.width:
            self._keep = (widget, widget.virtual_region.y - self.scroll_y)
            self._settling = True

    def settle(self) -> None:
        """What keep_in_view was called for is laid out: the user's next scroll ends the keep."""
        self._settling = False

    def anchor(self, anchor: bool = True) -> None:
        """Anchor to the bottom (Textual's anchor); ends a keep_in_view."""
        if anchor:
            self._keep = None
        super().anchor(anchor)

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Arrange the messages; then apply :meth:`keep_in_view`.

        The scroll offset is set as Textual sets it for an anchored view (the compositor reads it
        right after arranging), so the new offset is used in this very layout.
        """
        arrangement = super().arrange(size, optimal)
        if self._keep is not None and not optimal:
            widget, offset = self._keep
            placement = next((p for p in arrangement.placements if p.widget is widget), None)
            if placement is None:
                self._keep = None
            else:
                height = size.height - self.scrollbar_size_horizontal
                top = max(0, min(placement.region.y - offset, arrangement.total_region.bottom - height))
                self.set_reactive(VerticalScroll.scroll_y, top)
                self.set_reactive(VerticalScroll.scroll_target_y, top)
                self.vertical_scrollbar.set_reactive(ScrollBar.position, top)
        return arrangement

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # The user scrolled (the offsets set for keep_in_view call no watcher).
        if self._keep is not None and self._settling:
            widget, offset = self._keep
            self._keep = (widget, offset - (new_value - old_value))
        else:
            self._keep = None
        if new_value < old_value and new_value <= EARLIER_WITHIN * self.scrollable_content_region.height:
            first = self.children[0] if self.children else None
            if isinstance(first, Button) and first.id == LOAD_EARLIER_ID and first is not self._pressed:
                self._pressed = first  # once: the handler removes it
                # From the button's own loop: a message it sends from ours would stop bubbling here.
                first.call_later(first.press)
