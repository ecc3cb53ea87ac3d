"""The attachments waiting above the prompt: one chip each (name, size, estimated tokens),
removable before sending; they go with the next message, never alone."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.containers import HorizontalGroup
from textual.widgets import Button

from llmchat.chat.attachments import estimate_tokens, size_text
from llmchat.chat.models import Attachment
from llmchat.safety import terminal_safe


def chip_label(attachment: Attachment) -> str:
    """A chip's text: ``name · 1.2 KiB · ~300 tokens ✕``."""
    return f"{terminal_safe(attachment.name)} · {size_text(attachment.size)} · ~{estimate_tokens(attachment):,} tokens ✕"


class Chip(Button, can_focus=False):
    """One pending attachment; pressing it removes it. Not focusable: the prompt keeps the
    keyboard (Enter sends the message)."""


class AttachmentChips(HorizontalGroup):
    """The pending attachments as chips; clicking one (or Enter on it) removes it.

    Hidden while empty. :meth:`take` hands them to the next message and clears the row. When
    the chips do not fit in one row (a narrow terminal, long paths), they are stacked one per
    row (``-stacked``: at most four rows, then it scrolls), each cut with an ellipsis.
    """

    DEFAULT_CSS = """
    AttachmentChips { height: auto; padding: 0 1; }
    AttachmentChips > Chip { min-width: 0; height: 1; border: none; margin: 0 1 0 0; }
    AttachmentChips.-stacked { layout: vertical; max-height: 4; overflow-y: auto; }
    AttachmentChips.-stacked > Chip {
        max-width: 100%; text-wrap: nowrap; text-overflow: ellipsis; content-align: left middle; text-align: left;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.attachments: list[Attachment] = []
        """The pending attachments, in the order they were added."""
        self.display = False

    async def add(self, attachments: Sequence[Attachment]) -> None:
        """Add chips for `attachments` (one already pending, same name and bytes, is not added twice)."""
        for attachment in attachments:
            if attachment in self.attachments:
                continue
            self.attachments.append(attachment)
            await self.mount(Chip(Text(chip_label(attachment)), classes="attachment-chip", compact=True))
        self.display = bool(self.attachments)
        self._arrange()

    def on_resize(self) -> None:
        self._arrange()

    def _arrange(self) -> None:
        """Stack the chips when they would not fit side by side in the width there is."""
        needed = sum(cell_len(chip_label(attachment)) + 1 for attachment in self.attachments)
        width = self.content_size.width or self.app.size.width - 2
        self.set_class(needed > width, "-stacked")

    async def remove_at(self, index: int) -> None:
        """Remove the chip (and attachment) at `index`."""
        del self.attachments[index]
        await self.query(Chip)[index].remove()
        self.display = bool(self.attachments)
        self._arrange()

    async def take(self) -> list[Attachment]:
        """The pending attachments, for the message being sent; the row is emptied."""
        taken, self.attachments = self.attachments, []
        await self.remove_children()
        self.display = False
        return taken

    @on(Button.Pressed, ".attachment-chip")
    async def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        chips = list(self.query(Chip))
        await self.remove_at(chips.index(event.button))
