"""The multi-line prompt: Enter sends, Ctrl+J / Shift+Enter / Alt+Enter insert a newline,
Up / Down on the first / last line recall earlier prompts, Ctrl+G opens ``$EDITOR`` (Ctrl+A /
Ctrl+E move to the line's start / end, the readline habit).

A long paste (more than :data:`PASTE_INLINE_CHARS` characters or :data:`PASTE_INLINE_LINES`
lines) shows as one placeholder, ``[Pasted text #1: 16,394 lines, 1.0 MB]``, that is sent as
the pasted text: a TextArea soft-wraps its whole document on every edit, which for a 1 MB paste
froze the screen for seconds (3.3 s to paste, then 0.2-0.4 s per keystroke).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.app import SuspendNotSupported
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from llmchat.tui.widgets.path_completion import complete_path

PASTE_INLINE_CHARS = 10_000
"""A paste longer than this becomes a placeholder in the prompt (about 30 ms to insert as text)."""
PASTE_INLINE_LINES = 200
"""A paste with this many lines or more becomes a placeholder too."""


def _size(text: str) -> str:
    """``"16,394 lines, 1.0 MB"``: how big a pasted text is."""
    lines = text.count("\n") + (not text.endswith("\n"))  # "a\n" is one line, as `wc -l` counts
    size = f"{len(text) / 1_000_000:.1f} MB" if len(text) >= 100_000 else f"{len(text) / 1000:.0f} kB"
    return f"{lines:,} line{'s' if lines != 1 else ''}, {size}"


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
        Binding("ctrl+g", "external_editor", "Editor", id="prompt.editor"),
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
        self.sent: list[str] = []
        """Prompts submitted in this session, oldest first (recalled with Up / Down)."""
        self.completions: list[str] = []
        """Whole lines suggested while typing (slash commands); Right accepts the suggestion."""
        self.mentions: list[str] = []
        """Words suggested after ``@`` (MCP resources, ``@SERVER:URI``); Right accepts."""
        self._recalled: int | None = None
        """Index in :attr:`sent` of the prompt shown, or None when editing a new one."""
        self._draft = ""
        """What was typed before recalling started (Down past the newest brings it back)."""
        self.pastes: dict[str, str] = {}
        """Long pastes of this session: placeholder -> the pasted text (kept for recall)."""

    def action_submit(self) -> None:
        """Send the text, placeholders replaced by what was pasted (blank text is ignored).

        Enter is a priority binding, so this runs as the App receives the key, possibly
        before keys typed just before it (a burst: fast typing, a browser through
        ``llmchat serve``) reached this widget: the send waits behind them in its queue.
        """
        self.call_later(self._submit)

    def _submit(self) -> None:
        if self.text.strip():
            if not self.sent or self.sent[-1] != self.text:
                self.sent.append(self.text)
            self._recalled = None
            self.post_message(self.Submitted(self, self.expand(self.text)))

    # -- long pastes ----------------------------------------------------------------------

    def expand(self, text: str) -> str:
        """`text` with each paste placeholder replaced by its pasted text."""
        if "[Pasted text #" in text:
            for placeholder, pasted in self.pastes.items():
                text = text.replace(placeholder, pasted)
        return text

    def collapse(self, text: str) -> str:
        """`text` itself when it is short, else a new placeholder that stands for it."""
        if len(text) <= PASTE_INLINE_CHARS and text.count("\n") < PASTE_INLINE_LINES:
            return text
        placeholder = f"[Pasted text #{len(self.pastes) + 1}: {_size(text)}]"
        self.pastes[placeholder] = text
        return placeholder

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        """Alt+letter is a shortcut, never text: terminals send it as ESC + letter, which
        Textual reports as a printable key, so a TextArea would type the letter and hide the
        shortcut (``llmchat serve``'s Alt+N / Alt+O / Alt+P) from the bindings."""
        if key.startswith("alt+") and key != "alt+enter":
            return False
        return super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if event.key.startswith("alt+") and event.is_printable:
            # Not typed (see check_consume_key): stops TextArea's own _on_key, which Textual
            # would call next; the key still goes on to the bindings.
            event.prevent_default()

    async def _on_paste(self, event: events.Paste) -> None:
        """A long paste goes in as a placeholder (instant); a short one as text."""
        if self.read_only:
            return
        # Terminals send a pasted newline as CR (tmux and xterm do): a line break here.
        text = event.text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in event.text else event.text
        shown = self.collapse(text)
        if shown is text:
            return  # TextArea's own handler inserts it (it reads CR as a line break too)
        event.prevent_default()
        result = self.replace(shown, *self.selection)
        self.move_cursor(result.end_location)
        self.focus()

    def action_delete_left(self) -> None:
        """Backspace; right after a paste placeholder it deletes the whole placeholder."""
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        if self.selection.is_empty and before.endswith("]"):
            for placeholder in self.pastes:
                if before.endswith(placeholder):
                    self.delete((row, column - len(placeholder)), (row, column))
                    return
        super().action_delete_left()

    def put_back(self, texts: list[str]) -> None:
        """Put `texts` (messages that were not sent) back, in order and separated by blank
        lines, before whatever the prompt holds; long ones as placeholders."""
        parts = [self.collapse(text) for text in texts]
        if self.text.strip():
            parts.append(self.text)
        self.load_text("\n\n".join(parts))
        self.move_cursor(self.document.end)
        self.focus()

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")

    # -- history ------------------------------------------------------------------------

    def action_cursor_up(self, select: bool = False) -> None:
        """On the first line: the previous prompt of this session; elsewhere: the cursor moves."""
        if not select and self.sent and self._on_first_line() and self._recall(-1):
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        """On the last line while recalling: the next prompt (past the newest, the draft)."""
        if not select and self._recalled is not None and self._on_last_line() and self._recall(1):
            return
        super().action_cursor_down(select)

    def _on_first_line(self) -> bool:
        location = self.cursor_location
        return self.navigator.is_first_document_line(location) and self.navigator.is_first_wrapped_line(location)

    def _on_last_line(self) -> bool:
        location = self.cursor_location
        return self.navigator.is_last_document_line(location) and self.navigator.is_last_wrapped_line(location)

    def _recall(self, step: int) -> bool:
        """Show the prompt `step` away from the current one; False when there is none that way."""
        current = len(self.sent) if self._recalled is None else self._recalled
        index = current + step
        if index < 0:
            return False
        if self._recalled is None:
            self._draft = self.text
        if index >= len(self.sent):
            self._recalled = None
            text = self._draft
        else:
            self._recalled = index
            text = self.sent[index]
        self.load_text(text)
        if step < 0:  # the cursor stays on the first line, so Up keeps going back
            self.move_cursor((0, len(self.document.get_line(0))))
        else:
            self.move_cursor(self.document.end)
        return True

    # -- completion ---------------------------------------------------------------------

    def update_suggestion(self) -> None:
        """Suggest the rest of a slash command, or of an ``@`` mention (Right accepts it)."""
        text = self.text
        self.suggestion = ""
        if self.mentions and text and not text[-1].isspace() and not text.startswith("/"):
            word = text.split()[-1]
            if word.startswith("@"):
                match = next((m for m in self.mentions if m.startswith(word) and m != word), None)
                self.suggestion = match[len(word):] if match else ""
                if match:
                    return
        if text and not text[-1].isspace() and "\n" not in text[-200:]:
            word = text.split()[-1]
            if (word.startswith("@") and len(word) > 1 and not text.startswith("/")) or (
                text.startswith("/attach ") and word != "/attach"
            ):
                self.suggestion = complete_path(word.removeprefix("@"))  # a file to attach
                return
        if not text.startswith("/") or "\n" in text:
            return
        for line in self.completions:
            if line.startswith(text) and line != text:
                self.suggestion = line[len(text):]
                return

    # -- external editor ----------------------------------------------------------------

    def action_external_editor(self) -> None:
        """Edit the prompt in ``$VISUAL`` / ``$EDITOR``; the saved text replaces the prompt."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify("Set $EDITOR (or $VISUAL) to edit the prompt in your editor.", title="Editor",
                        severity="warning", markup=False)
            return
        with tempfile.NamedTemporaryFile("w", suffix=".md", prefix="llmchat-prompt-", delete=False,
                                         encoding="utf-8") as handle:
            handle.write(self.expand(self.text))
        path = Path(handle.name)
        command = [*shlex.split(editor), str(path)]  # the file holds the pasted texts themselves
        try:
            try:
                with self.app.suspend():
                    code = subprocess.call(command)
            except SuspendNotSupported:
                if not self.app.is_headless:
                    self.notify("The editor cannot run here (this terminal cannot be suspended).",
                                title="Editor", severity="warning", markup=False)
                    return
                code = subprocess.call(command, stdin=subprocess.DEVNULL)  # tests: no terminal
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not run {editor!r}: {exc.strerror or exc}", title="Editor",
                        severity="error", markup=False)
            return
        finally:
            path.unlink(missing_ok=True)
        if code != 0:
            self.notify(f"The editor exited with status {code}; the prompt is unchanged.", title="Editor",
                        severity="warning", markup=False)
            return
        self.load_text(self.collapse(text.removesuffix("\n")))
        self.move_cursor(self.document.end)
        self.focus()
