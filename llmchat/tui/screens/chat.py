"""ChatScreen: the conversation, the prompt, the sidebar; owns the stream worker and Escape."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import aclosing
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Conversation, Message
from llmchat.chat.reply import stream_reply
from llmchat.chat.toolloop import (
    ConversationApprovals,
    ReplyFinished,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolLoop,
    ToolResult,
)
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.base import Provider
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import ContentDelta, ReasoningDelta
from llmchat.safety import terminal_safe
from llmchat.store import Store, StoreError
from llmchat.store.recorder import Recorder
from llmchat.tui import slash
from llmchat.tui.screens.approve import Decision, ToolApprovalScreen
from llmchat.tui.screens.history import HistoryScreen
from llmchat.tui.screens.text_prompt import TextPromptScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.tool_call_view import ToolCallView
from llmchat.tui.widgets.transcript import Transcript

CONTINUE_PROMPT = "Continue exactly where your last answer stopped."
"""What /continue sends after a reply was cut off."""
SHOWN_AT_OPEN = 10
"""Stored messages shown when a conversation opens (and per "Show earlier"): about a screenful,
because mounting Markdown widgets costs several milliseconds each (benchmarks/tui_open.py)."""
STREAM_GROUP = "stream"
"""Worker group of the reply stream; cancelling it stops the reply."""


class ChatScreen(Screen[None]):
    """One conversation with one provider and model."""

    BINDINGS = [
        Binding("escape", "cancel_stream", "Stop reply", id="chat.cancel", priority=True),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new", priority=True),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="chat.sidebar"),
        Binding("ctrl+o", "open_history", "History", id="chat.history"),
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
        self.provider = provider
        self.model = model
        self.options = dict(options or {})
        """Generation options sent with every request."""
        self.conversation = Conversation(system=system)
        self.accumulator: Accumulator | None = None
        """The current or last reply's accumulator."""
        self.store = store
        self.recorder = Recorder(store, self._history_failed)
        """Writes every message ahead into the history (nothing when `store` is None)."""
        self.recorder.open(None, provider.name, model, system)
        self._open_at_start = conversation_id
        self._first_shown: int | None = None
        """Position of the earliest stored message on screen (older ones load on demand)."""
        self.registry = registry
        """Tools offered to the model (None: no tools)."""
        self.approvals = ConversationApprovals(self._ask_approval)
        self.max_tool_rounds = 8
        """The most requests one turn with tools may send (the app sets it from the config)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript")
                yield PromptInput(
                    id="prompt", placeholder="Message (Enter to send, Ctrl+J for a new line, /help for commands)"
                )
                yield Static("", id="prompt-hint", markup=False)
            yield Sidebar(id="sidebar")
        yield Footer()

    def on_mount(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.provider = self.provider.name
        sidebar.model = self.model
        self.set_interval(0.1, self._tick)
        prompt = self.query_one(PromptInput)
        prompt.completions = slash.completions(list(self.app.available_themes))
        self.query_one("#prompt-hint").display = False
        prompt.focus()
        if self._open_at_start is not None:
            self.run_worker(self.open_conversation(self._open_at_start), exit_on_error=False)

    def _history_failed(self, message: str) -> None:
        self.notify(message, title="History", severity="warning", timeout=8, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_stream":
            return True if self.streaming else None
        return True

    # -- sending ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        """Append the user's message and stream the reply to the whole conversation."""
        if slash.is_command(event.text):
            event.prompt_input.clear()
            await self.run_slash(event.text)
            return
        if self.streaming:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        event.prompt_input.clear()
        text = slash.unescape(event.text)
        message = Message("user", text)
        self.conversation.messages.append(message)
        self.recorder.user(message)
        transcript = self.query_one(Transcript)
        await transcript.add_message("user", text)
        view = await transcript.add_message("assistant")
        transcript.anchor()
        if self.registry is not None and self.registry.names():
            self.fetch_with_tools(view)
        else:
            self.fetch_reply(view)

    async def _ask_approval(self, tool: Tool, arguments: dict[str, Any]) -> Decision:
        """The approval modal, for a tool that is not read-only (runs inside the worker)."""
        return await self.app.push_screen_wait(ToolApprovalScreen(tool.name, tool.description, arguments))

    @work(exclusive=True, group=STREAM_GROUP, exit_on_error=False)
    async def fetch_with_tools(self, view: MessageView) -> None:
        """Stream replies and run the tools they call, round after round (ToolLoop).

        Each round gets its own assistant view; each call a collapsible block with its result.
        The loop adds every message to the conversation itself; the recorder stores them.
        """
        transcript = self.query_one(Transcript)
        loop = ToolLoop(self.provider, self.conversation, self.model, self.registry or ToolRegistry(),
                        options=self.options, approve=self.approvals, max_rounds=self.max_tool_rounds)
        calls: dict[tuple[int, int], ToolCallView] = {}
        self.streaming = True
        try:
            async with aclosing(loop.events()) as events:
                async for event in events:
                    if isinstance(event, RoundStarted):
                        if event.round > 1:
                            view = await transcript.add_message("assistant")
                        self.recorder.begin_reply(self.provider.name, self.model)
                    elif isinstance(event, ContentDelta):
                        self.accumulator = loop.accumulator
                        assert isinstance(view.body, StreamingMarkdown)
                        view.body.append(terminal_safe(event.text))
                        view.answer_started()
                    elif isinstance(event, ReasoningDelta):
                        view.add_reasoning(event.text)
                    elif isinstance(event, ReplyFinished):
                        self.accumulator = loop.accumulator
                        event.message.provider, event.message.model = self.provider.name, self.model
                        self.recorder.finish(event.message)
                        await self._end_view(view, event.message)
                    elif isinstance(event, ToolCallStarted):
                        block = calls[(event.round, event.index)] = ToolCallView(
                            event.call.name, event.call.arguments)
                        await transcript.mount(block)
                    elif isinstance(event, ToolResult):
                        calls.pop((event.round, event.index)).show_result(event.output.status, event.output.text)
                        self.recorder.user(event.message)
                    elif isinstance(event, RoundLimitReached):
                        self.notify(f"Stopped after {event.max_rounds} rounds of tool calls.",
                                    title="Tools", severity="warning", markup=False)
                    self.accumulator = loop.accumulator or self.accumulator
        except ProviderError as exc:
            self._report_failure(exc)
        finally:
            for block in calls.values():  # calls that never got a result: the loop was stopped
                block.show_result("cancelled", "stopped before it finished")
            outcome = loop.outcome()
            if outcome.replies:  # a cancelled or failed round ends here, not in ReplyFinished
                last = outcome.replies[-1]
                last.provider, last.model = self.provider.name, self.model
                self.recorder.finish(last)  # nothing happens when it was finished already
                await self._end_view(view, last)
            self.streaming = False
            self._show_stats()
            self.query_one(Sidebar).rounds = (outcome.rounds, outcome.usage)

    async def _end_view(self, view: MessageView, message: Message) -> None:
        if isinstance(view.body, StreamingMarkdown) and not view.body.finished:
            await view.body.finish()
        view.finish(message)

    @work(exclusive=True, group=STREAM_GROUP, exit_on_error=False)
    async def fetch_reply(self, view: MessageView) -> None:
        """Stream one reply into `view`; on any end the partial reply is kept in the conversation.

        Each delta is only buffered by the view's StreamingMarkdown (no await), which renders at
        the frame rate: the network read never waits for the screen.
        """
        accumulator = self.accumulator = Accumulator()
        conversation = self.conversation
        request = conversation.request(self.model, **self.options)
        body = view.body
        assert isinstance(body, StreamingMarkdown)
        self.streaming = True
        self.recorder.begin_reply(self.provider.name, self.model)
        try:
            # aclosing: a cancellation that lands in an await outside the provider must still
            # close the stream, so the connection drops and the reply is marked cancelled.
            async with aclosing(stream_reply(self.provider, request, accumulator)) as events:
                async for event in events:
                    if isinstance(event, ContentDelta):
                        body.append(terminal_safe(event.text))
                        view.answer_started()
                    elif isinstance(event, ReasoningDelta):
                        view.add_reasoning(event.text)
        except ProviderError as exc:
            self._report_failure(exc)
        finally:
            # Store the reply before any await, so nothing below can lose it.
            message = accumulator.message()
            message.provider, message.model = self.provider.name, self.model
            conversation.messages.append(message)
            self.recorder.finish(message)
            try:
                # Renders what is still pending; it completes even if we are cancelled meanwhile.
                await body.finish()
            finally:
                view.finish(message)
                self.streaming = False
                self._show_stats()

    def _report_failure(self, error: ProviderError) -> None:
        """One notification for a failed reply; after partial text, how to go on (nothing is
        retried by itself once text was shown)."""
        text = error.describe()
        if self.accumulator is not None and self.accumulator.content:
            text += "\n/retry asks again from the start; /continue asks the model to go on."
        self.notify(text, title="Provider error", severity="error", timeout=12, markup=False)

    def _tick(self) -> None:
        """Ten times a second while a reply streams: refresh the sidebar's live figures."""
        if self.streaming:
            self._show_stats()
            if self.accumulator is not None:
                self.recorder.heartbeat(self.accumulator)  # the partial reply, once a second

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
        self.recorder.new_conversation()
        self._first_shown = None
        self.accumulator = None
        await self.query_one(Transcript).clear()
        self.query_one(Sidebar).stats = None
        self.query_one(PromptInput).focus()

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
        """Continue a stored conversation: its newest messages are shown (older ones on
        demand, so 2,000 messages open at once) and the whole of it is sent with the next
        request."""
        if self.store is None:
            return
        self.workers.cancel_group(self, STREAM_GROUP)
        try:
            summary, conversation = self.store.load_conversation(ref)
            page = self.store.load_messages(summary.id, limit=SHOWN_AT_OPEN)
        except StoreError as exc:
            self.notify(str(exc), title="History", severity="error", markup=False)
            return
        self.conversation = conversation
        self.recorder.open(summary.id, self.provider.name, self.model, conversation.system)
        self.accumulator = None
        self.query_one(Sidebar).stats = None
        transcript = self.query_one(Transcript)
        await transcript.clear()
        await self._show_page(page.messages, page.has_more, page.first_position)
        transcript.scroll_end(animate=False)
        transcript.anchor()
        self.notify(summary.display_title, title="Opened", timeout=3, markup=False)

    async def _show_page(self, messages: list[Message], more: bool, first: int) -> None:
        """Mount stored `messages` at the top of the transcript (older ones above a button).

        All views are mounted in one go and their Markdown rendered concurrently, so a page
        costs about one render pass, not one per message.
        """
        transcript = self.query_one(Transcript)
        views = [MessageView(m.role, m.content if m.role != "assistant" else "") for m in messages]
        await transcript.mount_all(views, before=0 if transcript.children else None)
        bodies = []
        for view, message in zip(views, messages):
            if isinstance(view.body, StreamingMarkdown):
                view.body.append(terminal_safe(message.content))
                bodies.append(view.body.finish())
        await asyncio.gather(*bodies)
        for view, message in zip(views, messages):
            if message.role == "assistant":
                view.finish(message)
        self._first_shown = first
        if more:
            await transcript.mount(Button("Show earlier messages", id="load-earlier"), before=0)

    @on(Button.Pressed, "#load-earlier")
    async def load_earlier(self, event: Button.Pressed) -> None:
        """Load the page of messages before the earliest one shown."""
        await event.button.remove()
        if self.store is None or self.recorder.conversation_id is None or self._first_shown is None:
            return
        page = self.store.load_messages(self.recorder.conversation_id, limit=SHOWN_AT_OPEN,
                                        before_position=self._first_shown)
        await self._show_page(page.messages, page.has_more, page.first_position)

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar."""
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Report an unexpected failure of the stream worker without stopping the app."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Unexpected error", severity="error",
                        markup=False)

    # -- commands (palette, slash commands, keys) ---------------------------------------

    @on(PromptInput.Changed, "#prompt")
    def show_slash_hint(self, event: PromptInput.Changed) -> None:
        """Under the prompt, the slash commands that match what is typed."""
        hint = self.query_one("#prompt-hint", Static)
        text = event.text_area.text
        if not slash.is_command(text) or "\n" in text:
            hint.display = False
            return
        typed, _, _ = text.strip()[1:].partition(" ")
        matches = [c for c in slash.COMMANDS if c.name.startswith(typed.lower())]
        if not matches:
            hint.update(f"unknown command /{typed} — /help lists them")
        elif len(matches) == 1 or " " in text:
            c = matches[0]
            hint.update(f"/{c.name}{' ' + c.argument if c.argument else ''} — {c.help}  (→ completes)")
        else:
            hint.update("  ".join(f"/{c.name}" for c in matches) + "  (→ completes)")
        hint.display = True

    async def run_slash(self, text: str) -> None:
        """Run one slash command typed in the prompt (see :mod:`llmchat.tui.slash`)."""
        name, argument = slash.parse(text)
        if name == "new":
            await self.action_new_conversation()
        elif name == "model":
            if argument:
                self.action_switch_model(argument)
            else:
                self.choose_model()
        elif name == "provider":
            if argument:
                self.action_switch_provider(argument)
            else:
                await self.choose_provider()
        elif name == "system":
            if argument:
                self.set_system(argument)
            else:
                self.action_set_system_prompt()
        elif name == "retry":
            await self.action_retry()
        elif name == "continue":
            self.post_message(PromptInput.Submitted(self.query_one(PromptInput), CONTINUE_PROMPT))
        elif name == "edit":
            await self.action_edit_last()
        elif name == "copy":
            self.action_copy_last()
        elif name == "export":
            self.action_export()
        elif name == "theme":
            if not argument:
                self.app.search_themes()
            elif argument in self.app.available_themes:
                self.app.theme = argument
                self.notify(f"Theme: {argument}", title="Theme", timeout=3, markup=False)
            else:
                self.notify(f"Unknown theme {argument!r}. Known: {', '.join(sorted(self.app.available_themes))}",
                            title="Theme", severity="warning", markup=False)
        elif name == "help":
            self.notify(slash.help_text(), title="Slash commands", timeout=15, markup=False)
        else:
            self.notify(f"Unknown command /{name}. Type /help for the list.", title="Command",
                        severity="warning", markup=False)

    def last_answer(self) -> str | None:
        """The text of the newest assistant reply that has any, or None."""
        for message in reversed(self.conversation.messages):
            if message.role == "assistant" and message.content.strip():
                return message.content
        return None

    def action_copy_last(self) -> None:
        """Copy the last answer to the clipboard (Textual's OSC 52: works over SSH)."""
        text = self.last_answer()
        if text is None:
            self.notify("There is no answer to copy yet.", title="Copy", markup=False)
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the last answer ({len(text)} characters).", title="Copy", timeout=3,
                    markup=False)

    def conversation_markdown(self) -> str:
        """The conversation as Markdown: the system prompt, then one section per message."""
        lines = ["# llmchat conversation", "", f"- Provider: {self.provider.name}", f"- Model: {self.model}",
                 f"- Exported: {datetime.now().isoformat(timespec='seconds')}", ""]
        if self.conversation.system:
            lines += ["## System", "", self.conversation.system, ""]
        titles = {"user": "You", "assistant": "Assistant", "tool": "Tool result"}
        for message in self.conversation.messages:
            lines += [f"## {titles.get(message.role, message.role)}", ""]
            if message.content:
                lines += [message.content, ""]
            for call in message.tool_calls:
                lines += [f"Tool call: `{call.name}`", "", "```json", str(call.arguments), "```", ""]
            if message.role == "assistant" and message.finish_reason not in (None, "stop", "tool_calls"):
                lines += [f"*({message.finish_reason})*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def action_export(self) -> Path | None:
        """Write the conversation as Markdown to ``llmchat-<id or time>.md`` in the working
        directory; notify the path. Returns it (None when there was nothing to write)."""
        if not self.conversation.messages:
            self.notify("Nothing to export yet.", title="Export", markup=False)
            return None
        stem = self.recorder.conversation_id or datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path.cwd() / f"llmchat-{stem}.md"
        try:
            path.write_text(self.conversation_markdown(), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}", title="Export", severity="error",
                        markup=False)
            return None
        self.notify(f"Exported to {path}", title="Export", timeout=6, markup=False)
        return path

    def action_switch_model(self, name: str) -> None:
        """Use model `name` from the next request on (same provider and conversation)."""
        name = name.strip()
        if not name:
            self.notify("Usage: /model NAME", title="Model", markup=False)
            return
        self.model = name
        self.query_one(Sidebar).model = name
        self.recorder.open(self.recorder.conversation_id, self.provider.name, name, self.conversation.system)
        self.notify(f"Model: {name}", title="Model", timeout=3, markup=False)

    @work(exclusive=True, group="models", exit_on_error=False)
    async def choose_model(self) -> None:
        """Offer the provider's models in the command palette; if they cannot be listed, say
        why and ask for a name instead."""
        try:
            names = await self.provider.list_models()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, then a name is asked for
            reason = exc.describe() if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
            self.notify(f"Could not list the models: {reason}", title="Model", severity="warning",
                        markup=False)
            self.app.push_screen(TextPromptScreen("Model name", self.model),
                                 lambda name: self.action_switch_model(name) if name else None)
            return
        if not names:
            self.notify("The provider lists no models.", title="Model", severity="warning", markup=False)
            return
        await self.app.search_commands(
            [(name, partial(self.action_switch_model, name), "current" if name == self.model else None)
             for name in names],
            placeholder="Switch model…",
        )

    def action_switch_provider(self, name: str) -> None:
        """Use provider or profile `name` (and its default model) from the next request on."""
        from llmchat.errors import ConfigError
        from llmchat.tui.app import LlmChatApp

        app = self.app
        assert isinstance(app, LlmChatApp)
        try:
            provider, model = app.make_provider(name)
        except ConfigError as exc:
            self.notify(str(exc), title="Provider", severity="error", markup=False)
            return
        self.provider, self.model = provider, model
        sidebar = self.query_one(Sidebar)
        sidebar.provider, sidebar.model = provider.name, model
        self.notify(f"{provider.name} · {model}", title="Provider", timeout=3, markup=False)

    async def choose_provider(self) -> None:
        """Offer the built-in providers and the config file's profiles in the palette."""
        from llmchat.config import BUILTIN_PROFILES
        from llmchat.tui.app import LlmChatApp

        app = self.app
        assert isinstance(app, LlmChatApp)
        names = sorted({*BUILTIN_PROFILES, *app.settings.profiles})
        await app.search_commands(
            [(name, partial(self.action_switch_provider, name),
              "current" if name == self.provider.name else None) for name in names],
            placeholder="Switch provider…",
        )

    def set_system(self, text: str | None) -> None:
        """Use `text` as the system prompt from the next request on (blank: none)."""
        system = (text or "").strip() or None
        self.conversation.system = system
        self.recorder.open(self.recorder.conversation_id, self.provider.name, self.model, system)
        self.notify("System prompt set." if system else "System prompt cleared.", title="System prompt",
                    timeout=3, markup=False)

    def action_set_system_prompt(self) -> None:
        """Edit the system prompt in a small dialog."""
        def chosen(text: str | None) -> None:
            if text is not None:
                self.set_system(text)

        self.app.push_screen(TextPromptScreen("System prompt (empty: none)", self.conversation.system or ""),
                             chosen)

    async def _drop_after_last_user(self) -> int | None:
        """Remove every message after the last user message (from the conversation and the
        transcript). Returns the index of that user message, or None when there is none."""
        messages = self.conversation.messages
        index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
        if index is None:
            return None
        del messages[index + 1:]
        views = [v for v in self.query_one(Transcript).query(MessageView)]
        users = [i for i, v in enumerate(views) if v.role == "user"]
        if users:
            last_user_view = views[users[-1]]
            transcript = self.query_one(Transcript)
            after = transcript.children[transcript.children.index(last_user_view) + 1:]
            for widget in list(after):
                await widget.remove()
        return index

    async def action_retry(self) -> None:
        """Regenerate the last answer: drop it and stream a new one to the same conversation."""
        if self.streaming:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        if await self._drop_after_last_user() is None:
            self.notify("There is no message to answer again.", title="Retry", markup=False)
            return
        view = await self.query_one(Transcript).add_message("assistant")
        self.query_one(Transcript).anchor()
        if self.registry is not None and self.registry.names():
            self.fetch_with_tools(view)
        else:
            self.fetch_reply(view)

    async def action_edit_last(self) -> None:
        """Put the last user message back in the prompt; drop it and its answer."""
        if self.streaming:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        index = await self._drop_after_last_user()
        if index is None:
            self.notify("There is no message to edit.", title="Edit", markup=False)
            return
        message = self.conversation.messages.pop(index)
        users = [v for v in self.query_one(Transcript).query(MessageView) if v.role == "user"]
        if users:
            await users[-1].remove()
        prompt = self.query_one(PromptInput)
        prompt.load_text(message.content)
        prompt.move_cursor(prompt.document.end)
        prompt.focus()
