"""ChatScreen: the conversation, the prompt, the sidebar; owns the stream worker and Escape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.engine import (
    ChatSession,
    ContentDelta,
    EngineEvent,
    Failed,
    Finish,
    ReasoningDelta,
    ReplyFinished,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolResult,
)
from llmchat.chat.models import Attachment, Conversation, Message
from llmchat.chat.toolloop import ConversationApprovals
from llmchat.chat.tools import DEFAULT_MAX_OUTPUT_CHARS, Tool, ToolRegistry
from llmchat.providers.base import Provider
from llmchat.providers.errors import ProviderError
from llmchat.safety import one_line, safe_lines, terminal_safe
from llmchat.store import Store
from llmchat.store.recorder import Recorder
from llmchat.tui import slash
from llmchat.tui.screens.approve import Decision, ToolApprovalScreen
from llmchat.tui.screens.chat_actions import ChatActions
from llmchat.tui.screens.chat_attach import ChatAttachments
from llmchat.tui.screens.chat_compare import ChatCompare
from llmchat.tui.screens.chat_copy import ChatCopy
from llmchat.tui.screens.chat_history import SHOWN_AT_OPEN, ChatHistory
from llmchat.tui.screens.chat_layout import PLACEHOLDER, ChatLayout
from llmchat.tui.screens.chat_meter import ChatMeter
from llmchat.tui.screens.chat_tabs import TAB_BINDINGS, ChatTabs
from llmchat.tui.widgets.attachment_chips import AttachmentChips
from llmchat.tui.widgets.fitting_footer import FittingFooter
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.tab_bar import TabBar
from llmchat.tui.widgets.tool_call_view import ToolCallView
from llmchat.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from llmchat.mcp.session import McpSession

__all__ = ["SHOWN_AT_OPEN", "STREAM_GROUP", "ChatScreen"]

STREAM_GROUP = "stream"
"""Worker group of the reply stream; cancelling it stops the reply."""

STATS_INTERVAL = 0.25
"""Seconds between refreshes of the live figures while a reply streams (a human rate: each
refresh that changes them repaints part of the screen)."""


class ChatScreen(ChatActions, ChatCopy, ChatHistory, ChatMeter, ChatAttachments, ChatCompare, ChatLayout, ChatTabs, Screen[None]):
    """One conversation with one provider and model: one tab of the session."""

    BINDINGS = [
        Binding("escape", "cancel_stream", "Stop reply", id="chat.cancel", priority=True),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new", priority=True),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="chat.sidebar"),
        Binding("ctrl+o", "open_history", "History", id="chat.history"),
        *TAB_BINDINGS,
    ]

    streaming: reactive[bool] = reactive(False, bindings=True)
    """True while a reply streams (enables Escape)."""

    def __init__(
        self,
        provider: Provider,
        model: str,
        system: str | None = None,
        *,
        options: Mapping[str, Any] | None = None,
        store: Store | None = None,
        conversation_id: str | None = None,
        registry: ToolRegistry | None = None,
    ) -> None:
        super().__init__()
        self.accumulator: Accumulator | None = None
        """The current or last reply's accumulator (its figures are shown)."""
        self.store = store
        self.recorder = Recorder(store, self._history_failed)
        """Writes every message ahead into the history (nothing when `store` is None)."""
        self.approvals = ConversationApprovals(self._ask_approval)
        self.session = ChatSession(
            provider, model, system=system, options=options, tools=registry, approve=self.approvals,
            recorder=self.recorder,
        )
        """The conversation engine: it runs every turn; this screen renders its events."""
        self.mcp: McpSession | None = None
        """The session's MCP servers (the app sets it; None: no mcp.json was read yet)."""
        self.tool_output_chars = DEFAULT_MAX_OUTPUT_CHARS
        """Tool output is cut to this many characters (the app sets it from the config)."""
        self._open_at_start = conversation_id
        self._first_shown: int | None = None
        """Position of the earliest stored message on screen (older ones load on demand)."""
        self.queue: list[MessageView] = []
        """User messages typed while a reply streamed, oldest first: shown marked "queued" and
        sent one after another once the reply ends normally (see :meth:`_reply_ended`)."""
        self._live_view: MessageView | None = None
        """The assistant view of the reply in progress (its progress line follows the tick)."""
        self._reply_failed = False
        """The last reply ended with a provider error."""
        self.initial_attachments: list[Any] = []
        """``llmchat -a``: attachments put above the prompt at start (sent with the first message)."""

    # -- the session's state, by the names the screen and its actions use -------------------

    @property
    def provider(self) -> Provider:
        """The provider of the next request."""
        return self.session.provider

    @provider.setter
    def provider(self, provider: Provider) -> None:
        self.session.provider = provider

    @property
    def model(self) -> str:
        """The model of the next request."""
        return self.session.model

    @model.setter
    def model(self, model: str) -> None:
        self.session.model = model

    @property
    def options(self) -> dict[str, Any]:
        """Generation options sent with every request."""
        return self.session.options

    @property
    def conversation(self) -> Conversation:
        """The conversation on screen."""
        return self.session.conversation

    @conversation.setter
    def conversation(self, conversation: Conversation) -> None:
        self.session.conversation = conversation

    @property
    def registry(self) -> ToolRegistry | None:
        """Tools offered to the model (None: no tools)."""
        return self.session.tools

    @registry.setter
    def registry(self, registry: ToolRegistry | None) -> None:
        self.session.tools = registry

    @property
    def max_tool_rounds(self) -> int:
        """The most requests one turn with tools may send (the app sets it from the config)."""
        return self.session.max_tool_rounds

    @max_tool_rounds.setter
    def max_tool_rounds(self, rounds: int) -> None:
        self.session.max_tool_rounds = rounds

    def compose(self) -> ComposeResult:
        yield TabBar(id="tab-bar")
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript")
                yield AttachmentChips(id="attachments")
                yield PromptInput(id="prompt", placeholder=PLACEHOLDER)
                yield Static("", id="prompt-hint", markup=False)
            yield Sidebar(id="sidebar")
        yield FittingFooter()

    def on_mount(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.provider = self.provider.name
        sidebar.model = self.model
        self.set_interval(STATS_INTERVAL, self._tick)
        prompt = self.query_one(PromptInput)
        prompt.completions = slash.completions(list(self.app.available_themes))
        self.query_one("#prompt-hint").display = False
        prompt.focus()
        self.meter_reset()
        if self._open_at_start is not None:
            self.run_worker(self.open_conversation(self._open_at_start), exit_on_error=False)
        if self.initial_attachments:
            self.run_worker(self.add_attachments(self.initial_attachments), exit_on_error=False)

    def _history_failed(self, message: str) -> None:
        self.notify(message, title="History", severity="warning", timeout=8, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_stream":  # offered only while a reply streams (the footer hides it
            return self.streaming  # otherwise, and Escape goes on: e.g. from a message to the prompt)
        return True

    # -- sending ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Append the user's message and stream the reply to the whole conversation.

        Slash commands run at once, even while a reply streams. A message sent while a reply
        streams (or while earlier ones wait) is queued: shown marked, sent after them.
        """
        if slash.is_command(event.text):
            name, _ = slash.parse(event.text)
            if slash.resolve(name) not in slash.NAMES and not (
                self.mcp is not None and name in self.mcp.prompt_commands()
            ):
                # the text stays in the prompt: maybe it was a path
                self.notify(f"Unknown command /{name}. Type /help for the list; //text sends text "
                            "that starts with /.", title="Command", severity="warning", markup=False)
                return
            event.prompt_input.clear()
            await self.run_slash(event.text)
            return
        if self.compare_blocks_sending():  # the models still answer, or a reply is to be picked first
            return
        text = slash.unescape(event.text)
        if self.mcp is not None and "@" in text:  # @SERVER:URI attaches an MCP resource
            from llmchat.tui.screens.mcp import attach_mentions

            text = await attach_mentions(self, text)
        if not self.meter_may_send(text):  # over the window or the budget: a warning first; Enter again sends it
            return
        pending = self.pending_attachments(text)
        attachments = None if pending is None else self.ready_attachments(pending)
        if attachments is None:
            return  # the text and the chips stay
        event.prompt_input.clear()
        await self.query_one(AttachmentChips).take()
        transcript = self.query_one(Transcript)
        if self.streaming or self.queue:
            view = MessageView("user", text, attachments=attachments)
            self.queue.append(view)
            await transcript.mount(view)
            view.set_queued(True)
            transcript.anchor()
            return
        await self._send_text(text, attachments=attachments)

    async def _send_text(
        self, text: str, shown: MessageView | None = None, attachments: Sequence[Attachment] = ()
    ) -> None:
        """Add user message `text` (with `attachments`) to the conversation and stream the
        reply; `shown` is its queued view (already in the transcript), else a view is added
        at the end."""
        if self.compare_pending and self.editing is None:  # /compare: this message goes to several models
            await self.send_compare(text, shown, attachments)
            return
        transcript = self.query_one(Transcript)
        edited = self.take_edit() if shown is None else None
        if edited is not None:  # `e` on an earlier message: the new one is its sibling branch
            turn = self.session.edit(text, edited, attachments)
            await self.show_path()
            view = MessageView("assistant")
            await transcript.mount(view)
            transcript.anchor()
            self.start_reply(view, turn)
            return
        turn = self.session.send(text, attachments)
        sent = self.session.conversation.messages[-1]
        view = MessageView("assistant")
        if shown is not None and shown.is_attached:
            shown.set_queued(False)
            shown.message = sent
            await transcript.mount(view, after=shown)
        else:
            (await transcript.add_message("user", text, attachments=attachments)).message = sent
            await transcript.mount(view)
        transcript.anchor()
        self.start_reply(view, turn)

    async def _reply_ended(self, normally: bool) -> None:
        """After a reply (and its tool loop): send the next queued message when it ended
        normally; after Escape, an error or a new conversation, put the queued messages back in
        the prompt instead (in order, blank-line separated, before any draft), so none is lost
        and none is sent to a conversation that just failed."""
        self._live_view = None
        if not self.queue:
            return
        if normally:
            view = self.queue.pop(0)
            await self._send_text(view.text, view, view.attachments)
            return
        queued, self.queue = self.queue, []
        for view in queued:
            if view.is_attached:
                await view.remove()
        prompt = self.query_one(PromptInput)
        prompt.put_back([view.text for view in queued])
        await self.query_one(AttachmentChips).add([a for view in queued for a in view.attachments])
        count = f"{len(queued)} queued message{'s' if len(queued) != 1 else ''}"
        self.notify(f"The reply stopped: {count} {'are' if len(queued) != 1 else 'is'} back in the prompt "
                    "(Enter sends, edit first if you like).", title="Queue", timeout=6, markup=False)

    def start_reply(self, view: MessageView, turn: AsyncGenerator[EngineEvent, None] | None = None) -> None:
        """Stream `turn` (default: a reply to the conversation as it stands) into `view`."""
        self.fetch_reply(view, turn if turn is not None else self.session.reply())

    async def _ask_approval(self, tool: Tool, arguments: dict[str, Any]) -> Decision:
        """The approval modal, for a tool that is not read-only or a read-only call of a secret
        location, which the modal names (runs inside the worker)."""
        reason = tool.approval_reason(arguments) if tool.read_only else None
        description = f"It reads {reason}.\n{tool.description}" if reason else tool.description
        if not self.is_current:  # the question comes up on the visible tab: say which tab asks
            description = f"(Asked in the tab \"{one_line(self.tab_title(), 40)}\".)\n{description}"
        return await self.app.push_screen_wait(ToolApprovalScreen(tool.name, description, arguments))

    @work(exclusive=True, group=STREAM_GROUP, exit_on_error=False)
    async def fetch_reply(self, view: MessageView, turn: AsyncGenerator[EngineEvent, None]) -> None:
        """Render one turn of the session: each round's reply in its own assistant view (the
        first is `view`), each tool call a collapsible block with its result.

        Each delta is only buffered by the view's StreamingMarkdown (no await), which renders at
        the frame rate: the network read never waits for the screen. However the turn ends, the
        session has kept and recorded the (partial) reply before this method's ``finally``.
        """
        transcript = self.query_one(Transcript)
        calls: dict[tuple[int, int], ToolCallView] = {}
        refused = 0  # calls of the current reply answered "not run" by its tool limits
        ended: Message | None = None  # the last reply whose view was finished
        self.streaming, self._reply_failed, self._live_view = True, False, view
        if self.mcp is not None:  # the MCP tools switched on now (servers start once)
            try:
                self.session.tools, problems = await self.mcp.turn_tools(self.session.tools, self.tool_output_chars)
                if problems:
                    self.notify(safe_lines("\n".join(problems)), title="MCP", severity="warning", timeout=10,
                                markup=False)
            except asyncio.CancelledError:  # Escape while the MCP servers started
                await self._end_view(view, Message("assistant", finish_reason="cancelled"))
                self.streaming = False
                raise
        try:
            # aclosing: a cancellation that lands in an await outside the provider must still
            # close the stream, so the connection drops and the reply is marked cancelled.
            async with aclosing(turn) as events:
                async for event in events:
                    if isinstance(event, ContentDelta):
                        assert isinstance(view.body, StreamingMarkdown)
                        view.body.append(terminal_safe(event.text))
                        view.answer_started()
                    elif isinstance(event, Finish) and isinstance(view.body, StreamingMarkdown):
                        view.body.show_pending()  # the text is complete: no pacing for its end
                    elif isinstance(event, ReasoningDelta):
                        view.add_reasoning(event.text)
                    elif isinstance(event, RoundStarted):
                        refused = 0
                        if event.round > 1:
                            view = MessageView("assistant")
                            await transcript.mount(view, before=self._first_queued())
                            self._live_view = view
                        self.accumulator = self.session.accumulator
                    elif isinstance(event, ReplyFinished):
                        ended = event.message
                        await self._end_view(view, event.message)
                    elif isinstance(event, ToolCallStarted) and event.refused:
                        refused += 1  # past the reply's cap: one notification, not a block each
                    elif isinstance(event, ToolCallStarted):
                        block = calls[(event.round, event.index)] = ToolCallView(
                            event.call.name, event.call.arguments)
                        await transcript.mount(block, before=self._first_queued())
                    elif isinstance(event, ToolResult):
                        shown = calls.pop((event.round, event.index), None)
                        if shown is not None:
                            shown.show_result(event.output.status, event.output.text)
                        elif refused == 1:
                            self.notify(f"Some tool calls were {event.output.text.removeprefix('Error: ')}",
                                        title="Tools", severity="warning", markup=False)
                    elif isinstance(event, RoundLimitReached):
                        self.notify(f"Stopped after {event.max_rounds} rounds of tool calls.",
                                    title="Tools", severity="warning", markup=False)
                    elif isinstance(event, Failed):
                        self._report_failure(event.error)
        finally:
            for block in calls.values():  # calls that never got a result: the turn was stopped
                block.show_result("cancelled", "stopped before it finished")
            outcome = self.session.outcome()
            try:
                if outcome is not None and outcome.replies and outcome.replies[-1] is not ended:
                    # a cancelled or failed round ends here, not in ReplyFinished
                    await self._end_view(view, outcome.replies[-1])
            finally:
                self.streaming = False
                self._show_stats()
                if outcome is not None:
                    self.query_one(Sidebar).rounds = (outcome.rounds, outcome.usage)

    def _first_queued(self) -> MessageView | None:
        """The first queued message on screen: what the reply's own widgets go before."""
        return next((view for view in self.queue if view.is_attached), None)

    async def _end_view(self, view: MessageView, message: Message) -> None:
        """Mark how the reply ended, show the figures, then finish its render (at 2,000
        tokens/s the final render of what is pending can take a few hundred milliseconds, so
        the mark and the figures come first). The render completes even if cancelled meanwhile."""
        view.finish(message)
        self._show_stats()
        self.meter_replies([(view, message)])
        if isinstance(view.body, StreamingMarkdown) and not view.body.finished:
            await view.body.finish()

    def _report_failure(self, error: ProviderError) -> None:
        """A failed reply is shown once, where the reply is: the view's ✖ line says what
        failed and, after partial text, how to go on (:meth:`MessageView.finish`); no toast
        and no sidebar copy, so nothing stale stays up after a /retry that works."""
        self._reply_failed = True

    def _tick(self) -> None:
        """Every STATS_INTERVAL while a reply streams: refresh the live figures (the sidebar and
        the progress line of the reply's view); tell the tab set of a new title or mark."""
        if self.streaming:
            self._show_stats()
        self.check_tab_state()

    def _show_stats(self) -> None:
        if self.accumulator is not None:
            stats = self.accumulator.stats()
            self.query_one(Sidebar).stats = stats
            if self._live_view is not None:
                self._live_view.show_progress(stats if self.streaming else None)

    # -- actions ------------------------------------------------------------------------

    def action_cancel_stream(self) -> None:
        """Stop the reply now: the connection closes, the partial answer stays, marked cancelled."""
        self.workers.cancel_group(self, STREAM_GROUP)

    def action_focus_prompt(self) -> None:
        """Back to the prompt (Escape on a selected message)."""
        self.query_one(PromptInput).focus()

    async def action_new_conversation(self) -> None:
        """Stop any reply and start an empty conversation (same provider, model, system prompt);
        queued messages go back to the prompt."""
        self.workers.cancel_group(self, STREAM_GROUP)
        await self._reply_ended(normally=False)
        self.session.new_conversation()
        self._first_shown = None
        self.accumulator = None
        await self.query_one(Transcript).clear()
        self.query_one(Sidebar).stats = None
        self.meter_reset()
        self.query_one(PromptInput).focus()

    @on(Button.Pressed, "#load-earlier")
    async def load_earlier(self, event: Button.Pressed) -> None:
        """Mount the page of messages before the earliest one shown (about a screenful)."""
        await self.load_earlier_page(event.button)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Report an unexpected failure of a worker without stopping the app; when a reply
        ends, go on with the queued messages (:meth:`_reply_ended`)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Unexpected error", severity="error",
                        markup=False)
        if event.worker.group == STREAM_GROUP and event.state in (
            WorkerState.SUCCESS, WorkerState.CANCELLED, WorkerState.ERROR
        ):
            await self._reply_ended(event.state is WorkerState.SUCCESS and not self._reply_failed)
