"""TextPromptScreen: a one-line input dialog (system prompt, model name)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for one line of text: Enter returns it (possibly empty), Escape returns None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="text-prompt.cancel")]

    def __init__(self, title: str, value: str = "", *, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="text-prompt-input")
            yield Static("Enter to apply, Escape to cancel", classes="dialog-hint", markup=False)

    @on(Input.Submitted, "#text-prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)
