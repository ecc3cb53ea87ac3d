"""One message in the transcript: a role line, then the text (streaming Markdown for the assistant).

A message can be selected (it is focusable: click it, Shift+Tab from the prompt, Up / Down from
another message). The selected message copies itself with ``c`` and its code block N with the
digit N; a hint under it lists the keys. A stored message with siblings (a regenerated answer,
an edited question) shows "branch 2/3"; ``[`` / ``]`` (or Left / Right) move between them,
and ``e`` on a user message edits it into a new branch (the screen does both). While its reply is awaited or streams, a one-line
progress note under the text shows a spinner with the time waited, then tokens and tokens/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from time import monotonic
from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message as Event
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from llmchat.chat.accumulator import ReplyStats
from llmchat.chat.attachments import size_text
from llmchat.chat.models import Attachment, Message
from llmchat.safety import one_line, terminal_safe
from llmchat.tui.widgets.figures_text import FiguresText
from llmchat.tui.widgets.markdown_blocks import block_parser
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
"""Spinner frames, one per tick (the chat screen ticks ten times a second)."""
PREVIEW_LINES = 40
"""A user or tool message longer than this many lines shows only its start (all of it is sent
and copied): a Static wraps its whole text at every layout, which for a 1 MB paste takes seconds."""
PREVIEW_CHARS = 8_000
"""The same limit in characters (for very long lines)."""
ROLE_LABELS = {"user": "You", "assistant": "Assistant", "tool": "Tool result"}


class CodeBlock(NamedTuple):
    """One fenced or indented code block of a Markdown text."""

    language: str
    """The fence's info word ("python"), or "" when it has none."""
    code: str
    """The code, without the fences and without the final newline."""

    @property
    def lines(self) -> int:
        """How many lines the code has."""
        return self.code.count("\n") + 1 if self.code else 0

    def describe(self) -> str:
        """``"python, 14 lines"``: what a notification says about the block."""
        lines = f"{self.lines} line{'s' if self.lines != 1 else ''}"
        return f"{self.language}, {lines}" if self.language else lines


@lru_cache(maxsize=32)
def code_blocks(markdown: str) -> tuple[CodeBlock, ...]:
    """The code blocks of `markdown`, in document order (also those inside lists and quotes),
    parsed the way Textual's Markdown widget parses them, so block N is the Nth one shown.

    About 1.5 ms per 1,000 characters; results are cached for the texts seen last.
    """
    if "```" not in markdown and "~~~" not in markdown and "    " not in markdown and "\t" not in markdown:
        return ()
    blocks = []
    for token in block_parser().parse(markdown):  # (inline parsing is not needed here)
        if token.type in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            blocks.append(CodeBlock(language, token.content.removesuffix("\n")))
    return tuple(blocks)


def copy_hint(blocks: tuple[CodeBlock, ...], branch: tuple[int, int] = (1, 1)) -> str:
    """The keys line of a selected message: ``c copy · 1 python · 2 bash · ↑↓ select · esc prompt``,
    after ``branch 2/3 · [ ] switch`` when the message has siblings (`branch`: which, how many)."""
    parts = [f"branch {branch[0]}/{branch[1]} · [ ] switch"] if branch[1] > 1 else []
    parts.append("c copy")
    if len(blocks) == 1:
        parts.append(f"1 copy the code ({blocks[0].describe()})")
    elif 1 < len(blocks) <= 4:
        parts += [f"{n} {block.language or 'code'}" for n, block in enumerate(blocks, 1)]
    elif blocks:
        last = min(len(blocks), 9)
        parts.append(f"1–{last} copy code block ({len(blocks)} blocks)")
    parts += ["↑↓ select", "esc prompt"]
    return " · ".join(parts)


def attachment_lines(attachments: Sequence[Attachment]) -> str:
    """One line per attachment of a user message: ``📎 notes.txt · 1.2 KiB · text/plain``."""
    return "\n".join(
        f"📎 {one_line(a.name, 200)} · {size_text(a.size)} · {a.media_type}" for a in attachments
    )


def preview(text: str) -> tuple[str, str]:
    """(the start of `text` to show, a note on what is left out or "") for a long plain message."""
    if len(text) <= PREVIEW_CHARS and text.count("\n") < PREVIEW_LINES:
        return text, ""
    head = text[:PREVIEW_CHARS]
    cut = -1
    for _ in range(PREVIEW_LINES):
        cut = head.find("\n", cut + 1)
        if cut < 0:
            break
    if cut >= 0:
        head = head[:cut]
    rest = text[len(head):]
    lines = rest.count("\n")
    size = f"{len(text) / 1_000_000:.1f} MB" if len(text) >= 100_000 else f"{len(text):,} characters"
    more = f"{lines:,} more lines" if lines else f"{len(rest):,} more characters"
    return head, f"… {more} ({size} in all; all of it is sent — select the message and press c to copy it)"


class MessageView(Vertical, can_focus=True):
    """Shows one message. Assistant replies stream into :attr:`body` (a StreamingMarkdown)."""

    BINDINGS = [
        Binding("c,y", "copy_message", "Copy", id="message.copy", key_display="c"),
        *[
            Binding(str(n), f"copy_block({n})", f"Copy code block {n}", show=False, id=f"message.copy-block-{n}")
            for n in range(1, 10)
        ],
        Binding("up", "select(-1)", "Previous message", show=False, id="message.previous"),
        Binding("down", "select(1)", "Next message", show=False, id="message.next"),
        Binding("escape", "screen.focus_prompt", "Prompt", id="message.prompt"),
        Binding("[,left", "branch(-1)", "Previous branch", show=False, id="message.branch-previous"),
        Binding("],right", "branch(1)", "Next branch", show=False, id="message.branch-next"),
        Binding("e", "edit", "Edit", show=False, id="message.edit"),
    ]

    class Selected(Event):
        """The message was selected (the screen tells it its branch, :meth:`show_branch`)."""

        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    class SwitchBranch(Event):
        """``[`` / ``]`` on the message: show its sibling `step` places away instead."""

        def __init__(self, view: MessageView, step: int) -> None:
            super().__init__()
            self.view = view
            self.step = step

    class Edit(Event):
        """``e`` on the message: edit it into a new branch."""

        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, role: str, text: str = "", *, attachments: Sequence[Attachment] = ()) -> None:
        super().__init__(classes=f"message -{role}")
        self.role = role
        self.message: Message | None = None
        """The conversation's message shown here, once known (stored, sent or finished)."""
        self.branch = (1, 1)
        """(which, how many) among its siblings, as the screen last said (:meth:`show_branch`)."""
        self.text = text
        """The message's own text (user and tool messages; an assistant's is in :attr:`body`)."""
        self.attachments = list(attachments)
        """A user message's attachments, listed above its text."""
        self._reasoning = ""
        self.header = Static(Text(ROLE_LABELS.get(role, role)), classes="message-role")
        self.hint = Static("", classes="message-hint", markup=False)
        """The copy keys, next to the role while the message is selected (the top of a message
        is what selecting it scrolls into view)."""
        self.reasoning_text = Static("", classes="message-reasoning", markup=False)
        self.reasoning = Collapsible(
            self.reasoning_text, title="Thinking…", collapsed=False, classes="message-thinking"
        )
        """The model's reasoning: open while it streams, collapsed once the answer starts."""
        self.reasoning.display = False
        shown, self._left_out = ("", "") if role == "assistant" else preview(text)
        self.body: StreamingMarkdown | Static = (
            StreamingMarkdown(classes="message-body")
            if role == "assistant"
            else Static(terminal_safe(shown), classes="message-body", markup=False)
        )
        self.more = Static(self._left_out, classes="message-more", markup=False)
        self.progress = Static("", classes="message-progress", markup=False)
        """The live line while the reply is awaited or streams (see :meth:`show_progress`)."""
        self.progress.display = False
        self._progress_text = ""
        self._retry_seen: object = None
        self._retry_since = 0.0
        self.status = Static("", classes="message-status", markup=False)
        self.status.display = False
        self.figures = Static("", classes="message-figures", markup=False)
        """The quiet line under a finished reply: model, tokens, TTFT, tok/s, duration, cost."""
        self.figures.display = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="message-top"):
            yield self.header
            yield self.hint
        yield self.reasoning
        if self.attachments:
            yield Static(attachment_lines(self.attachments), classes="message-attachments", markup=False)
            for attachment in self.attachments:
                if attachment.is_image:
                    from llmchat.tui.widgets.image_view import image_widget

                    drawn = image_widget(attachment.data)
                    if drawn is not None:
                        yield drawn
        yield self.body
        if self._left_out:  # (widgets cost time to mount: only those a message needs)
            yield self.more
        if self.role == "assistant":
            yield self.progress
        yield self.status
        if self.role == "assistant":
            yield self.figures

    # -- the reply's text -----------------------------------------------------------------

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
        """Mark how the reply ended (cancelled, error, length ...) under its text; the progress
        line goes away."""
        self.show_progress(None)
        self.message = message
        reason = message.finish_reason
        self.set_class(reason == "cancelled", "-cancelled")
        self.set_class(reason == "error", "-error")
        if reason == "cancelled":
            note = "■ cancelled"
        elif reason == "error":
            note = f"✖ {one_line(message.error or 'error', 300)}"
            if message.content:  # nothing is retried by itself once text was shown
                note += "  · /retry asks again from the start; /continue asks the model to go on"
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
        if self.has_focus:
            self._show_hint()

    def show_figures(self, line: str) -> None:
        """Show the reply's figures under it (see :func:`llmchat.chat.meter.reply_line`)."""
        self.figures.update(FiguresText(line))  # wrapped between figures, never inside one
        self.figures.display = bool(line)

    # -- live progress --------------------------------------------------------------------

    def show_progress(self, stats: ReplyStats | None) -> None:
        """Show where the reply is, under its text: a spinner and the seconds waited before the
        first token (or the retry countdown), then ``~412 tokens · 1,980 tok/s``; None or a
        finished reply hides the line.

        Called ten times a second while a reply streams: an unchanged line costs nothing, and a
        changed one is redrawn without a layout (the line's size does not depend on its text).
        """
        text = _progress_line(stats, self._retry_countdown(stats)) if stats is not None else ""
        if text == self._progress_text:
            return
        shown = bool(self._progress_text)
        self._progress_text = text
        if text:
            self.progress.update(text, layout=not shown)
        self.progress.display = bool(text)

    def _retry_countdown(self, stats: ReplyStats) -> float | None:
        """Seconds left before the announced retry is sent (None when no retry is waiting)."""
        if stats.state != "retrying" or stats.retry is None:
            return None
        if stats.retry is not self._retry_seen:
            self._retry_seen, self._retry_since = stats.retry, monotonic()
        return max(0.0, stats.retry.delay - (monotonic() - self._retry_since))

    # -- queued messages ------------------------------------------------------------------

    def set_queued(self, queued: bool) -> None:
        """Mark a user message as waiting to be sent (after the reply that streams), or sent."""
        self.set_class(queued, "-queued")
        label = ROLE_LABELS.get(self.role, self.role)
        self.header.update(Text.assemble(label, (" · queued, sent when the reply ends", "italic")) if queued
                           else Text(label))

    @property
    def queued(self) -> bool:
        """True while the message waits to be sent."""
        return self.has_class("-queued")

    # -- selecting and copying ------------------------------------------------------------

    @property
    def copy_text(self) -> str:
        """What ``c`` copies: the message's Markdown source as shown (control characters appear
        as visible stand-ins, as on screen, so a paste cannot carry terminal escapes)."""
        if isinstance(self.body, StreamingMarkdown):
            return self.body.source
        return terminal_safe(self.text)

    def on_focus(self) -> None:
        self._show_hint()
        self.post_message(self.Selected(self))

    def _show_hint(self) -> None:
        self.hint.update(copy_hint(code_blocks(self.copy_text), self.branch))

    def show_branch(self, which: int, of: int) -> None:
        """Show ``branch which/of`` in the hint (nothing when `of` is 1)."""
        self.branch = (which, of)
        if self.has_focus:
            self._show_hint()

    def action_branch(self, step: int) -> None:
        """Ask the screen to show the sibling `step` places away (-1: the previous branch)."""
        self.post_message(self.SwitchBranch(self, step))

    def action_edit(self) -> None:
        """Ask the screen to put this (user) message in the prompt, to send as a new branch."""
        self.post_message(self.Edit(self))

    def action_copy_message(self) -> None:
        """Copy the whole message (Textual's clipboard: OSC 52, works over SSH)."""
        text = self.copy_text
        if not text.strip():
            self.notify("This message has no text to copy yet.", title="Copy", markup=False)
            return
        self.app.copy_to_clipboard(text)
        what = {"user": "your message", "assistant": "the answer", "tool": "the tool result"}.get(self.role, "it")
        self.notify(copy_note(self.app, f"{what} ({len(text):,} characters)"), title="Copy", timeout=5,
                    markup=False)

    def action_copy_block(self, number: int) -> None:
        """Copy code block `number` (1 is the first) of this message."""
        copy_code_block(self, code_blocks(self.copy_text), number)

    def action_select(self, step: int) -> None:
        """Select the message `step` places away (-1: the one above), if there is one."""
        views = [w for w in self.screen.focus_chain if isinstance(w, MessageView)]
        index = views.index(self) + step if self in views else -1
        if 0 <= index < len(views):
            views[index].focus()


def copy_code_block(widget: Widget, blocks: tuple[CodeBlock, ...], number: int) -> None:
    """Copy ``blocks[number - 1]`` to the clipboard and say so (or say why not), through
    `widget`'s app and notifications."""
    if not blocks:
        widget.notify("This message has no code blocks.", title="Copy", markup=False)
        return
    if not 1 <= number <= len(blocks):
        count = f"{len(blocks)} code block{'s' if len(blocks) != 1 else ''}"
        widget.notify(f"There is no code block {number}: the message has {count}.", title="Copy",
                      severity="warning", markup=False)
        return
    block = blocks[number - 1]
    widget.app.copy_to_clipboard(block.code)
    widget.notify(copy_note(widget.app, f"code block {number} ({block.describe()})"), title="Copy", timeout=5,
                  markup=False)


def copy_note(app: object, what: str) -> str:
    """What to say after copying `what`: the app's wording when it knows how the copy went
    (``LlmChatApp.copy_note``), else Textual's OSC 52 (sent, not known to arrive)."""
    note = getattr(app, "copy_note", None)
    return note(what) if callable(note) else f"Sent {what} to the terminal's clipboard."


def _progress_line(stats: ReplyStats, retry_left: float | None) -> str:
    """The progress line's text for `stats` ("" once the reply ended)."""
    elapsed = stats.elapsed or 0.0
    spinner = SPINNER[int(monotonic() * 10) % len(SPINNER)]
    if stats.state == "waiting":
        return f"{spinner} waiting for first token… {elapsed:.1f} s"
    if stats.state == "retrying" and stats.retry is not None:
        left = stats.retry.delay if retry_left is None else retry_left
        return f"{spinner} retrying in {left:.1f} s (attempt {stats.retry.attempt})"
    if stats.state == "streaming":
        approx = "~" if stats.estimated else ""  # deltas counted until the provider's usage comes
        tokens = f"{approx}{stats.output_tokens:,} token{'s' if stats.output_tokens != 1 else ''}"
        speed = f" · {stats.tokens_per_second:,.0f} tok/s" if stats.tokens_per_second else ""
        return f"{tokens}{speed}"
    return ""
