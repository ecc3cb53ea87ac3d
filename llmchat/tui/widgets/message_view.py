"""One message in the transcript: a role line, then the text (streaming Markdown for the assistant)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from llmchat.chat.models import Message
from llmchat.safety import terminal_safe
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown


class MessageView(Vertical):
    """Shows one message. Assistant replies stream into :attr:`body` (a StreamingMarkdown)."""

    def __init__(self, role: str, text: str = "") -> None:
        super().__init__(classes=f"message -{role}")
        self.role = role
        self._reasoning = ""
        label = {"user": "You", "assistant": "Assistant", "tool": "Tool result"}.get(role, role)
        self.header = Static(Text(label), classes="message-role")
        self.reasoning_text = Static("", classes="message-reasoning", markup=False)
        self.reasoning = Collapsible(
            self.reasoning_text, title="Thinking…", collapsed=False, classes="message-thinking"
        )
        """The model's reasoning: open while it streams, collapsed once the answer starts."""
        self.reasoning.display = False
        self.body: StreamingMarkdown | Static = (
            StreamingMarkdown(classes="message-body")
            if role == "assistant"
            else Static(terminal_safe(text), classes="message-body", markup=False)
        )
        self.status = Static("", classes="message-status", markup=False)
        self.status.display = False

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.reasoning
        yield self.body
        yield self.status

    def add_reasoning(self, text: str) -> None:
        """Append reasoning text (shown dimmed above the answer, in a collapsible block)."""
        self._reasoning += terminal_safe(text)
        self.reasoning.display = True
        self.reasoning_text.update(self._reasoning)

    def answer_started(self) -> None:
        """The answer began: fold the reasoning away (a click opens it again)."""
        if self.reasoning.display and not self.reasoning.collapsed:
            self.reasoning.collapsed = True
            self.reasoning.title = f"Thought ({len(self._reasoning.split())} words)"

    def finish(self, message: Message) -> None:
        """Mark how the reply ended (cancelled, error, length ...) under its text."""
        reason = message.finish_reason
        self.set_class(reason == "cancelled", "-cancelled")
        self.set_class(reason == "error", "-error")
        if reason == "cancelled":
            note = "■ cancelled"
        elif reason == "error":
            note = f"✖ {message.error or 'error'}"
        elif reason == "length":
            note = "… cut off at the token limit (length)"
        elif reason == "content_filter":
            note = "⚠ stopped by the provider's content filter"
        else:
            note = ""
        if message.refusal:
            note = f"⚠ refusal: {terminal_safe(message.refusal)}" + (f"  {note}" if note else "")
        self.status.update(note)
        self.status.display = bool(note)
