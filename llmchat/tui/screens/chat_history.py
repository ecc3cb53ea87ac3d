"""ChatHistory: opening a stored conversation in ChatScreen, a screenful at a time.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) holds the session and the transcript;
these methods load a conversation from the store, hand it to the session and mount its
newest messages, and earlier ones a page at a time as the user scrolls up.
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
