"""The scrolling list of messages."""

from __future__ import annotations

from textual.containers import VerticalScroll

from llmchat.tui.widgets.message_view import MessageView


class Transcript(VerticalScroll):
    """Holds the :class:`MessageView` of every message; stays at the bottom unless scrolled up."""

    can_focus = True

    async def add_message(self, role: str, text: str = "", *, before: int | None = None) -> MessageView:
        """Mount a message view (at the end, or before the child at index `before`)."""
        view = MessageView(role, text)
        await self.mount(view, before=before if before is not None and before < len(self.children) else None)
        return view

    async def clear(self) -> None:
        """Remove every message."""
        await self.remove_children()
