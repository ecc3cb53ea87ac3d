"""ToolApprovalScreen: asks before a tool that is not read-only runs."""

from __future__ import annotations

import json
from typing import Any, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from llmchat.safety import terminal_safe

Decision = Literal["once", "always", "deny"]


class ToolApprovalScreen(ModalScreen[Decision]):
    """Shows the tool's name, description and arguments; dismisses with the decision.

    Keys: ``y`` allow once, ``a`` always (for this conversation), ``n`` / Escape deny.
    """

    BINDINGS = [
        Binding("y", "decide('once')", "Allow once", id="approve.once"),
        Binding("a", "decide('always')", "Always", id="approve.always"),
        Binding("n,escape", "decide('deny')", "Deny", id="approve.deny"),
    ]

    def __init__(self, name: str, description: str, arguments: dict[str, Any] | None) -> None:
        super().__init__()
        self.tool_name = name
        self.description = description
        self.arguments = arguments

    def compose(self) -> ComposeResult:
        shown = json.dumps(self.arguments, indent=2, ensure_ascii=False) if self.arguments else "{}"
        with Vertical(id="approve-dialog"):
            yield Static(f"The model wants to run {terminal_safe(self.tool_name)}", id="approve-title", markup=False)
            yield Static(terminal_safe(self.description), id="approve-description", markup=False)
            yield Static(terminal_safe(shown), id="approve-arguments", markup=False)
            with Horizontal(id="approve-buttons"):
                yield Button("Allow once (y)", id="approve-once", variant="primary")
                yield Button("Always (a)", id="approve-always")
                yield Button("Deny (n)", id="approve-deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#approve-deny", Button).focus()

    def action_decide(self, decision: Decision) -> None:
        """Close with `decision`."""
        self.dismiss(decision)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        decision = (event.button.id or "approve-deny").removeprefix("approve-")
        self.dismiss(decision)  # type: ignore[arg-type]
