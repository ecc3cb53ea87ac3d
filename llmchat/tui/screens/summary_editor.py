"""SummaryEditorScreen: the summary ``/compact`` got from the model, for the user to correct."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea


class SummaryEditorScreen(ModalScreen[str | None]):
    """Edit a summary: Ctrl+S returns the text (it replaces the older messages), Escape
    returns None (nothing changes)."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Use this summary", id="summary.save", priority=True),
        Binding("escape", "dismiss(None)", "Cancel", id="summary.cancel"),
    ]

    def __init__(self, summary: str, note: str = "") -> None:
        super().__init__()
        self.summary = summary
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog summary-dialog"):
            yield Static("Summary of the earlier messages: correct it, then Ctrl+S", classes="dialog-title",
                         markup=False)
            yield TextArea(self.summary, id="summary-text", soft_wrap=True)
            yield Static(self.note or "Ctrl+S uses it (the original conversation stays in the history), "
                         "Escape cancels", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        """Return the edited summary (an empty one cancels)."""
        text = self.query_one(TextArea).text.strip()
        self.dismiss(text or None)
