"""TranscriptWheel: the app's mouse-wheel shortcut to the transcript under the pointer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.errors import NoWidget
from textual.geometry import Offset
from textual.widget import Widget

from llmchat.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from textual.app import App

    _Base = App[None]
else:
    _Base = object


class TranscriptWheel(_Base):
    """Mixed into the app (LlmChatApp) before Textual's App."""

    async def on_event(self, event: events.Event) -> None:
        """A vertical mouse wheel step over the transcript goes straight to the transcript.

        Textual hands it to the widget under the pointer, from which it bubbles up, one message
        queue per level, to the first widget that scrolls. Over a streaming reply that is a
        dozen levels of Markdown widgets, each queue waiting behind the render work (wheel steps
        took up to 0.7 s at 2,000 tokens/s), and a widget that the stream replaces before it
        handles the step drops it. Nothing inside the transcript scrolls vertically itself.
        """
        if (
            isinstance(event, (events.MouseScrollUp, events.MouseScrollDown))
            and not event.is_forwarded
            and not (event.shift or event.ctrl)
        ):
            transcript = self._transcript_at(event.x, event.y)
            if transcript is not None and hasattr(event, "_set_forwarded"):
                self.mouse_position = Offset(event.x, event.y)
                event._set_forwarded()  # (so that it is not forwarded again if it bubbles back)
                transcript.post_message(event)
                return
        await super().on_event(event)

    def _transcript_at(self, x: int, y: int) -> Widget | None:
        """The transcript that the screen point (x, y) is over, if any (or the scrolling
        column of a compare reply in it, which scrolls on its own)."""
        try:
            widget, _ = self.get_widget_at(x, y)
        except NoWidget:
            return None
        for node in widget.ancestors_with_self:
            if isinstance(node, Transcript) or (isinstance(node, Widget) and node.has_class("compare-scroll")):
                return node
        return None
