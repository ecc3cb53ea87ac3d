"""A compact, collapsible block for one tool call and its result."""

from __future__ import annotations

import json

from textual.content import Content
from textual.widgets import Collapsible, Static

from llmchat.safety import one_line, terminal_safe

_STATUS = {"ok": "✓", "error": "✖", "denied": "⊘", "cancelled": "■", "skipped": "…"}


class ToolCallView(Collapsible):
    """Shows ``name(arguments)`` as its title; the result goes inside when it arrives."""

    DEFAULT_CSS = """
    ToolCallView { margin: 0 0 1 0; }
    ToolCallView .tool-result { color: $text-muted; }
    """

    def __init__(self, name: str, arguments: str) -> None:
        self.call_name = name
        self.call_arguments = arguments
        self._result = Static("running…", classes="tool-result", markup=False)
        super().__init__(self._result, title=self._heading("⋯"), collapsed=True)  # type: ignore[arg-type]

    def _heading(self, mark: str) -> Content:
        try:
            args = json.dumps(json.loads(self.call_arguments or "{}"), ensure_ascii=False)
        except ValueError:
            args = self.call_arguments
        if len(args) > 60:
            args = args[:59] + "…"
        return Content(one_line(f"{mark} tool {one_line(self.call_name, 60)}({args})", 200))  # never markup

    def show_result(self, status: str, text: str) -> None:
        """Fill in the result; the title gets the status mark."""
        self.title = self._heading(_STATUS.get(status, "?"))  # type: ignore[assignment]
        shown = text if len(text) <= 4000 else text[:4000] + f"\n… ({len(text)} characters)"
        self._result.update(terminal_safe(shown))
        self.set_class(status != "ok", "-failed")
