"""ChatCopy: what leaves the session as text (``/copy``, ``/save``, ``/export``), mixed into
ChatScreen.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) holds the conversation; these methods only
read it, and write to the clipboard or a file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from llmchat.chat.models import Message
from llmchat.safety import terminal_safe
from llmchat.tui.widgets.message_view import code_blocks, copy_code_block, copy_note

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.models import Conversation
    from llmchat.providers.base import Provider
    from llmchat.store.recorder import Recorder

    _Base = Screen[None]
else:
    _Base = object

EXPORT_GROUP = "export"
"""Worker group of /export."""
EXPORT_SLICE = 200
"""Messages formatted between two yields to the screen while exporting."""
EXPORT_NOTICE = 500
"""From this many messages on, an export is announced ("Exporting 2,000 messages…")."""


class ChatCopy(_Base):
    """Copy, save and export, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        provider: Provider
        model: str
        conversation: Conversation
        recorder: Recorder

    def last_answer(self) -> str | None:
        """The text of the newest assistant reply that has any, or None."""
        for message in reversed(self.conversation.messages):
            if message.role == "assistant" and message.content.strip():
                return message.content
        return None

    def action_copy_last(self) -> None:
        """Copy the last answer to the clipboard (Textual's OSC 52: works over SSH)."""
        self.copy_from_last("")

    def copy_from_last(self, argument: str) -> None:
        """``/copy``: the last answer; ``/copy N`` or ``/copy code N``: its code block N.

        What is copied is the Markdown source as shown: control characters appear as visible
        stand-ins (:func:`llmchat.safety.terminal_safe`), so a paste cannot carry escapes.
        """
        answer = self.last_answer()
        if answer is None:
            self.notify("There is no answer to copy yet.", title="Copy", markup=False)
            return
        text = terminal_safe(answer)
        argument, to_file, target = argument.partition(">")
        words = argument.lower().split()
        if words and words[0] == "code":
            words = words[1:] or ["1"]
        if words:
            if len(words) != 1 or not words[0].isdigit():
                self.notify("Usage: /copy, /copy N or /copy code N (N: the code block's number).",
                            title="Copy", severity="warning", markup=False)
                return
            if to_file:
                blocks = code_blocks(answer)
                if 1 <= int(words[0]) <= len(blocks):
                    self._save_copy(blocks[int(words[0]) - 1].code + "\n", target, f"code block {words[0]}")
                    return
            copy_code_block(self, code_blocks(text), int(words[0]))
            return
        if to_file:
            self._save_copy(answer, target, "the last answer")
            return
        self.app.copy_to_clipboard(text)
        self.notify(copy_note(self.app, f"the last answer ({len(text):,} characters)"), title="Copy",
                    timeout=5, markup=False)

    def _save_copy(self, text: str, target: str, what: str) -> None:
        """``/copy > FILE``, ``/save FILE``: write `text` (exactly as received) to FILE (relative
        to the working directory; ``~`` expanded; an existing file is replaced, as the
        shell's ``>`` does) and say where."""
        target = target.strip()
        if not target:
            self.notify("Usage: /save FILE or /copy [N] > FILE.", title="Copy", severity="warning", markup=False)
            return
        path = Path(target).expanduser()
        try:
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}", title="Copy", severity="error",
                        markup=False)
            return
        self.notify(f"Wrote {what} to {path.resolve()} ({len(text):,} characters).", title="Copy",
                    timeout=5, markup=False)

    def _markdown_parts(self, messages: list[Message]) -> Iterator[str]:
        """The export's text in pieces: a header, then one piece per message."""
        lines = ["# llmchat conversation", "", f"- Provider: {self.provider.name}", f"- Model: {self.model}",
                 f"- Exported: {datetime.now().isoformat(timespec='seconds')}", ""]
        if self.conversation.system:
            lines += ["## System", "", self.conversation.system, ""]
        yield "\n".join(lines) + "\n"
        titles = {"user": "You", "assistant": "Assistant", "tool": "Tool result"}
        for message in messages:
            lines = [f"## {titles.get(message.role, message.role)}", ""]
            if message.content:
                lines += [message.content, ""]
            for call in message.tool_calls:
                lines += [f"Tool call: `{call.name}`", "", "```json", str(call.arguments), "```", ""]
            if message.role == "assistant" and message.finish_reason not in (None, "stop", "tool_calls"):
                lines += [f"*({message.finish_reason})*", ""]
            yield "\n".join(lines) + "\n"

    def action_export(self) -> None:
        """Write the conversation as Markdown to ``llmchat-<id or time>.md`` in the working
        directory, in a worker (:meth:`export_conversation`); notify the path."""
        if not self.conversation.messages:
            self.notify("Nothing to export yet.", title="Export", markup=False)
            return
        self.export_conversation()

    @work(exclusive=True, group=EXPORT_GROUP, exit_on_error=False)
    async def export_conversation(self) -> Path | None:
        """Format the conversation as it is now, :data:`EXPORT_SLICE` messages between two
        yields to the screen, write it from a thread and notify the path; a long one (from
        :data:`EXPORT_NOTICE` messages) is announced with its count first.

        Returns:
            The file written, or None when it could not be written (the error is notified).
        """
        messages = list(self.conversation.messages)
        stem = self.recorder.conversation_id or datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path.cwd() / f"llmchat-{stem}.md"
        count = f"{len(messages):,} message{'s' if len(messages) != 1 else ''}"
        if len(messages) >= EXPORT_NOTICE:
            self.notify(f"Exporting {count}…", title="Export", timeout=4, markup=False)
        parts: list[str] = []
        for index, part in enumerate(self._markdown_parts(messages)):
            parts.append(part)
            if index % EXPORT_SLICE == 0:
                await asyncio.sleep(0)
        text = "".join(parts).rstrip() + "\n"
        try:
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}", title="Export", severity="error",
                        markup=False)
            return None
        self.notify(f"Exported {count} to {path}", title="Export", timeout=6, markup=False)
        return path
