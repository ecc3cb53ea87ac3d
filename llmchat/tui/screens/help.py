"""HelpScreen: /help's list of slash commands, scrollable; Escape closes it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """The slash commands, one per line (:func:`llmchat.tui.slash.help_text`).

    A screen rather than a notification: a toast is cut at the screen's height, which hid
    the last commands (/theme, /mcp, //text) even on a 48-line terminal.
    """

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; height: 80%; border: round $primary; background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close", id="help.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Slash commands — Escape closes", markup=False)
            with VerticalScroll():
                yield Static(self.text, id="help-text", markup=False)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
