"""ChatHistory: opening a stored conversation in ChatScreen, a screenful at a time.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) holds the session and the transcript;
these methods load a conversation from the store, hand it to the session and mount its
newest messages, and earlier ones a page at a time as the user scrolls up. Branches: a
selected message shows which of its siblings it is, ``[`` / ``]`` show another one (the
transcript follows that path), ``e`` edits an earlier question into a new branch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.widgets import Button

from llmchat.chat.meter import stats_of
from llmchat.chat.models import Message
from llmchat.safety import terminal_safe
from llmchat.store import StoreError
from llmchat.tui.screens.history import HistoryScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.accumulator import Accumulator
    from llmchat.chat.engine import ChatSession
    from llmchat.chat.models import Conversation
    from llmchat.store import Store
    from llmchat.store.recorder import Recorder

    _Base = Screen[None]
else:
    _Base = object

SHOWN_AT_OPEN = 10
"""At most this many stored messages are mounted when a conversation opens (and per page of
earlier ones): fewer when the newest already fill a screen, because mounting a message costs tens
of milliseconds (benchmarks/tui_open.py)."""


class ChatHistory(_Base):
    """Stored conversations in the chat screen, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        store: Store | None
        session: ChatSession
        recorder: Recorder
        accumulator: Accumulator | None
        conversation: Conversation
        _first_shown: int | None
        streaming: bool
        queue: list[MessageView]

        def action_cancel_stream(self) -> None: ...

        def meter_replies(self, pairs: list[tuple[MessageView, Message]]) -> None: ...

        def meter_reset(self) -> None: ...

    def action_open_history(self) -> None:
        """Show the stored conversations; the one chosen replaces this one."""
        if self.store is None:
            self.notify("History is off for this session.", title="History", markup=False)
            return

        def chosen(conversation_id: str | None) -> None:
            if conversation_id:
                self.run_worker(self.open_conversation(conversation_id), exit_on_error=False)

        self.app.push_screen(HistoryScreen(self.store), chosen)

    async def open_conversation(self, ref: str) -> None:
        """Continue a stored conversation: the newest messages that fill the screen are shown
        (older ones a page at a time as the user scrolls up, so 2,000 messages open at once)
        and the whole of it is sent with the next request."""
        if self.store is None:
            return
        self.action_cancel_stream()
        try:
            summary, conversation = self.store.load_conversation(ref)
        except StoreError as exc:
            self.notify(str(exc), title="History", severity="error", markup=False)
            return
        self.session.resume(conversation, summary.id)
        self.accumulator = None
        replies = [m for m in conversation.messages if m.role == "assistant"]
        self.query_one(Sidebar).stats = stats_of(replies[-1]) if replies else None  # its last reply's figures
        self.meter_reset()
        transcript = self.query_one(Transcript)
        with self.app.batch_update():  # one layout: the old messages go, the new ones come
            await transcript.clear()
            messages = conversation.messages
            first = len(messages) - transcript.page_size(messages, limit=SHOWN_AT_OPEN)
            await self._show_page(messages[first:], first)
        transcript.scroll_end(animate=False)
        transcript.anchor()
        self.notify(summary.display_title, title="Opened", timeout=3, markup=False)

    async def show_compacted(self) -> None:
        """Show the conversation as it now stands, from its first message (after /compact)."""
        transcript = self.query_one(Transcript)
        self.accumulator = None
        with self.app.batch_update():
            await transcript.clear()
            await self._show_page(self.session.conversation.messages, 0)
        transcript.scroll_end(animate=False)
        transcript.anchor()

    async def _show_page(self, messages: list[Message], first: int) -> None:
        """Mount stored `messages` (``conversation.messages[first:first + len(messages)]``) at the
        top of the transcript, under a "Show earlier messages" button when `first` > 0.

        All views are mounted in one go and their Markdown rendered concurrently, in one batch:
        a page costs one layout. What the user was reading stays where it is on screen.
        """
        transcript = self.query_one(Transcript)
        shown = next(iter(transcript.query_children(MessageView)), None)
        if shown is not None:
            transcript.keep_in_view(shown)
        views = [MessageView(m.role, m.content if m.role != "assistant" else "", attachments=m.attachments)
                 for m in messages]
        for view, message in zip(views, messages):
            view.message = message
        with self.app.batch_update():
            await transcript.mount_all(views, before=0 if transcript.children else None)
            bodies = []
            for view, message in zip(views, messages):
                if isinstance(view.body, StreamingMarkdown):
                    view.body.append(terminal_safe(message.content))
                    bodies.append(view.body.finish())
            await asyncio.gather(*bodies)
            replies = [(view, message) for view, message in zip(views, messages) if message.role == "assistant"]
            for view, message in replies:
                view.finish(message)
            self.meter_replies(replies)
            self._first_shown = first
            if first > 0:  # (the id is transcript.LOAD_EARLIER_ID: scrolling up presses it)
                await transcript.mount(Button("Show earlier messages", id="load-earlier"), before=0)
        transcript.call_after_refresh(transcript.settle)

    async def load_earlier_page(self, button: Button) -> None:
        """Mount the page of messages before the earliest one shown (about a screenful), in
        place of the "Show earlier messages" `button`."""
        transcript = self.query_one(Transcript)
        with self.app.batch_update():  # one layout, where the page replaces the button
            await button.remove()
            first = self._first_shown
            if self.recorder.conversation_id is None or not first:
                return
            earlier = self.conversation.messages[:first]
            count = transcript.page_size(earlier, limit=SHOWN_AT_OPEN)
            await self._show_page(earlier[-count:], first - count)

    # -- branches -------------------------------------------------------------------------

    editing: Message | None = None
    """The earlier user message `e` put in the prompt: sending makes its sibling branch."""

    def _busy(self) -> bool:
        if self.streaming or self.queue:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return True
        return False

    def on_message_view_selected(self, event: MessageView.Selected) -> None:
        """A selected message shows which branch it is (``branch 2/3``)."""
        message = event.view.message
        if message is not None and message.id and not self.streaming:
            event.view.show_branch(*self.session.branches(message))

    async def on_message_view_switch_branch(self, event: MessageView.SwitchBranch) -> None:
        """Show the sibling `event.step` places away: the transcript follows its path."""
        message = event.view.message
        if message is None or self._busy():
            return
        which, of = self.session.branches(message)
        target = which + event.step
        if not 1 <= target <= of:
            if of > 1:
                self.notify(f"This is branch {which} of {of}.", title="Branches", timeout=2, markup=False)
            return
        depth = next((i for i, m in enumerate(self.conversation.messages) if m is message), None)
        try:
            self.session.switch_branch(message, target)
        except (ValueError, RuntimeError) as exc:
            self.notify(str(exc), title="Branches", severity="warning", markup=False)
            return
        self.editing = None
        await self.show_path(depth)

    def on_message_view_edit(self, event: MessageView.Edit) -> None:
        """Put a user message's text in the prompt; sending it makes a sibling branch."""
        from llmchat.tui.widgets.prompt_input import PromptInput

        message = event.view.message
        if event.view.role != "user" or message is None:
            self.notify("Only your own messages can be edited.", title="Edit", markup=False)
            return
        if self._busy():
            return
        self.editing = message
        prompt = self.query_one(PromptInput)
        prompt.load_text(message.content)
        prompt.move_cursor(prompt.document.end)
        prompt.focus()
        self.notify("Sending makes a new branch; the old one stays.", title="Edit", timeout=3, markup=False)

    def take_edit(self) -> int | None:
        """The index of the message being edited (and forget it), or None."""
        message, self.editing = self.editing, None
        return next((i for i, m in enumerate(self.conversation.messages) if m is message), None)

    async def show_path(self, focus: int | None = None) -> None:
        """Show the conversation as it now stands (another branch): the newest messages, or
        from message `focus` on, which is then selected."""
        transcript = self.query_one(Transcript)
        messages = self.conversation.messages
        first = len(messages) - transcript.page_size(messages, limit=SHOWN_AT_OPEN)
        if focus is not None:
            first = max(0, min(first, focus))
        self.accumulator = None
        with self.app.batch_update():
            await transcript.clear()
            await self._show_page(messages[first:], first)
        views = list(transcript.query_children(MessageView))
        if focus is not None and 0 <= focus - first < len(views):
            views[focus - first].focus()
            views[focus - first].scroll_visible(animate=False)
        else:
            transcript.scroll_end(animate=False)
            transcript.anchor()
