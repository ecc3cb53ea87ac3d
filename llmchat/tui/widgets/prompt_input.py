"""The multi-line prompt: Enter sends, Ctrl+J / Shift+Enter / Alt+Enter insert a newline."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    """A TextArea that posts :class:`PromptInput.Submitted` on Enter and then clears itself."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
    }
    """

    BINDINGS = [
        Binding("enter", "submit", "Send", id="prompt.send", priority=True),
        Binding(
            "ctrl+j,shift+enter,alt+enter", "newline", "Newline", id="prompt.newline", key_display="^J"
        ),
    ]

    @dataclass
    class Submitted(Message):
        """The user sent `text` (never blank)."""

        prompt_input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(
            id=id,
            tab_behavior="focus",
            soft_wrap=True,
            show_line_numbers=False,
            compact=True,
            placeholder=placeholder,
        )

    def action_submit(self) -> None:
        """Send the text (blank text is ignored)."""
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
