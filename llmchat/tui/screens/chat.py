"""ChatScreen: the conversation, the prompt, the sidebar; owns the stream worker and Escape."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Markdown
from textual.widgets.markdown import MarkdownStream
from textual.worker import Worker, WorkerState

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Conversation, Message
from llmchat.chat.reply import stream_reply
from llmchat.providers.base import Provider
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import ContentDelta, ReasoningDelta
from llmchat.safety import terminal_safe
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.transcript import Transcript

STREAM_GROUP = "stream"
"""Worker group of the reply stream; cancelling it stops the reply."""


async def _stop_markdown(markdown: MarkdownStream) -> None:
    """Flush and stop a Markdown stream.

    `MarkdownStream.stop` re-raises CancelledError when its task never got to run (a reply
    that failed before yielding to the event loop); that is not a cancellation of ours.
    """
    try:
        await markdown.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


class ChatScreen(Screen[None]):
    """One conversation with one provider and model."""

    BINDINGS = [
        Binding("escape", "cancel_stream", "Stop reply", id="chat.cancel", priority=True),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new", priority=True),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="chat.sidebar"),
    ]

    streaming: reactive[bool] = reactive(False, bindings=True)
    """True while a reply streams (enables Escape)."""

    def __init__(self, provider: Provider, model: str, system: str | None = None) -> None:
        super().__init__()
        self.provider = provider
        self.model = model
        self.conversation = Conversation(system=system)
        self.accumulator: Accumulator | None = None
        """The current or last reply's accumulator."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript")
                yield PromptInput(
                    id="prompt", placeholder="Message (Enter to send, Ctrl+J for a new line)"
                )
            yield Sidebar(id="sidebar")
        yield Footer()

    def on_mount(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.provider = self.provider.name
        sidebar.model = self.model
        self.set_interval(0.1, self._tick)
        self.query_one(PromptInput).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_stream":
            return True if self.streaming else None
        return True

    # -- sending ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Append the user's message and stream the reply to the whole conversation."""
        if self.streaming:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        event.prompt_input.clear()
        self.conversation.messages.append(Message("user", event.text))
        transcript = self.query_one(Transcript)
        await transcript.add_message("user", event.text)
        view = await transcript.add_message("assistant")
        transcript.anchor()
        self.fetch_reply(view)

    @work(exclusive=True, group=STREAM_GROUP, exit_on_error=False)
    async def fetch_reply(self, view: MessageView) -> None:
        """Stream one reply into `view`; on any end the partial reply is kept in the conversation."""
        accumulator = self.accumulator = Accumulator()
        conversation = self.conversation
        request = conversation.request(self.model)
        assert isinstance(view.body, Markdown)
        markdown = Markdown.get_stream(view.body)
        self.streaming = True
        try:
            # aclosing: a cancellation that lands in our own awaits (not the provider's) must
            # still close the stream, so the connection drops and the reply is marked cancelled.
            async with aclosing(stream_reply(self.provider, request, accumulator)) as events:
                async for event in events:
                    if isinstance(event, ContentDelta):
                        await markdown.write(terminal_safe(event.text))
                    elif isinstance(event, ReasoningDelta):
                        view.add_reasoning(event.text)
        except ProviderError as exc:
            self.notify(exc.describe(), title="Provider error", severity="error", timeout=8)
        finally:
            # Store the reply before any await, so nothing below can lose it.
            message = accumulator.message()
            conversation.messages.append(message)
            try:
                await _stop_markdown(markdown)
            finally:
                view.finish(message)
                self.streaming = False
                self._show_stats()

    def _tick(self) -> None:
        """Ten times a second while a reply streams: refresh the sidebar's live figures."""
        if self.streaming:
            self._show_stats()

    def _show_stats(self) -> None:
        if self.accumulator is not None:
            self.query_one(Sidebar).stats = self.accumulator.stats()

    # -- actions ------------------------------------------------------------------------

    def action_cancel_stream(self) -> None:
        """Stop the reply now: the connection closes, the partial answer stays, marked cancelled."""
        self.workers.cancel_group(self, STREAM_GROUP)

    async def action_new_conversation(self) -> None:
        """Stop any reply and start an empty conversation (same provider, model, system prompt)."""
        self.workers.cancel_group(self, STREAM_GROUP)
        self.conversation = Conversation(system=self.conversation.system)
        self.accumulator = None
        await self.query_one(Transcript).clear()
        self.query_one(Sidebar).stats = None
        self.query_one(PromptInput).focus()

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar."""
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Report an unexpected failure of the stream worker without stopping the app."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Unexpected error", severity="error")
