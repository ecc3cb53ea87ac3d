"""ChatActions: the slash commands and the palette's actions of ChatScreen (switch model or
provider, template, system prompt, retry, edit, continue; copy and export are in chat_copy.py).

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) holds the conversation and the stream;
these methods only read and change that state, and start replies through ``start_reply``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual import work
from textual.widgets import Static

from llmchat.chat.engine import CONTINUE_PROMPT
from llmchat.providers.errors import ProviderError
from llmchat.safety import one_line
from llmchat.tui import slash
from llmchat.tui.screens.text_prompt import TextPromptScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from textual.screen import Screen

    from llmchat.chat.engine import ChatSession, EngineEvent
    from llmchat.chat.models import Conversation
    from llmchat.config import Settings
    from llmchat.providers.base import Provider
    from llmchat.store import Store
    from llmchat.store.recorder import Recorder

    _Base = Screen[None]
else:
    _Base = object

@runtime_checkable
class ProviderHost(Protocol):
    """What these actions need of the app (LlmChatApp) to switch providers; a protocol, so
    that the screens never import the app that imports them."""

    settings: Settings

    def make_provider(self, name: str) -> tuple[Provider, str]:
        """A provider for `name` (built-in or profile) and its default model."""
        ...


class ChatActions(_Base):
    """Slash commands and palette actions, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        provider: Provider
        model: str
        conversation: Conversation
        recorder: Recorder
        streaming: bool
        queue: list[MessageView]

        session: ChatSession
        store: Store | None

        def _history_failed(self, message: str) -> None: ...

        def start_reply(self, view: MessageView, turn: AsyncGenerator[EngineEvent, None] | None = None) -> None: ...

        async def attach_paths(self, argument: str) -> None: ...

        async def run_tab_command(self, argument: str) -> None: ...

        def compare_command(self, argument: str) -> None: ...

        def copy_from_last(self, argument: str) -> None: ...

        def action_export(self) -> None: ...

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        """Under the prompt, the slash commands that match what is typed.

        (A handler named by convention: ``@on`` only registers in classes Textual builds,
        not in this mixin.)
        """
        if event.text_area.id != "prompt":
            return
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
        mcp_session = getattr(self, "mcp", None)
        if mcp_session is None or name not in mcp_session.prompt_commands():
            name = slash.resolve(name)  # "/hel" + Enter runs /help
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
        elif name == "attach":
            await self.attach_paths(argument)  # ChatAttachments
        elif name == "retry":
            await self.action_retry()
        elif name == "continue":
            self.post_message(PromptInput.Submitted(self.query_one(PromptInput), CONTINUE_PROMPT))
        elif name == "edit":
            await self.action_edit_last()
        elif name == "fork":
            self.action_fork()
        elif name == "compare":
            self.compare_command(argument)  # ChatCompare
        elif name == "compact":
            self.run_worker(self.compact_conversation(), exit_on_error=False)  # ChatMeter
        elif name == "copy":
            self.copy_from_last(argument)
        elif name == "save":
            self.copy_from_last(f"> {argument}" if argument else ">")
        elif name == "export":
            self.action_export()
        elif name == "template":
            self.use_template(argument)
        elif name == "tab":
            await self.run_tab_command(argument)  # ChatTabs
        elif name == "theme":
            if not argument:
                self.app.search_themes()
            elif argument in self.app.available_themes:
                self.app.theme = argument
                self.notify(f"Theme: {argument}", title="Theme", timeout=3, markup=False)
            else:
                self.notify(f"Unknown theme {argument!r}. Known: {', '.join(sorted(self.app.available_themes))}",
                            title="Theme", severity="warning", markup=False)
        elif name == "mcp":
            from llmchat.tui.screens.mcp import open_mcp_screen

            open_mcp_screen(self)
        elif getattr(self, "mcp", None) is not None and name in self.mcp.prompt_commands():  # type: ignore[attr-defined]
            from llmchat.tui.screens.mcp import run_prompt_command

            self.run_worker(run_prompt_command(self, name, argument), exit_on_error=False)  # type: ignore[arg-type]
        elif name == "help":
            from llmchat.tui.screens.help import HelpScreen

            self.app.push_screen(HelpScreen(slash.help_text()))
        else:
            self.notify(f"Unknown command /{name}. Type /help for the list.", title="Command",
                        severity="warning", markup=False)

    def use_template(self, argument: str) -> None:
        """``/template NAME [TEXT]``: use ``[templates.NAME]`` (:mod:`llmchat.templates`) from the
        next request on; with TEXT send its prompt filled in, else put its prompt in the box."""
        settings = getattr(self.app, "settings", None)
        templates = settings.templates if settings is not None else {}
        name, _, text = argument.strip().partition(" ")
        template = templates.get(name)
        if template is None:
            known = ", ".join(sorted(templates)) or "none: add [templates.NAME] to the config file"
            self.notify(f"Usage: /template NAME [TEXT]. Templates: {known}", title="Template",
                        severity="warning", markup=False)
            return
        if template.provider:
            self.action_switch_provider(template.provider)
        if template.model:
            self.action_switch_model(template.model)
        if template.system is not None:
            self.set_system(template.system)
        if template.options:
            self.session.options.update(template.options)
        self.notify(f"Template {name}: {template.summary()}", title="Template", timeout=5, markup=False)
        prompt = self.query_one(PromptInput)
        if text.strip():
            self.post_message(PromptInput.Submitted(prompt, template.render(text.strip())))
        elif template.prompt:
            prompt.load_text(template.prompt)
            prompt.move_cursor(prompt.document.end)
            prompt.focus()

    def action_switch_model(self, name: str) -> None:
        """Use model `name` from the next request on (same provider and conversation)."""
        name = name.strip()
        if not name:
            self.notify("Usage: /model NAME", title="Model", markup=False)
            return
        self.session.use(model=name)
        self.query_one(Sidebar).model = name
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
            # Model ids come from the server: the list shows them made safe; the id sent stays exact.
            [(one_line(name, 200), partial(self.action_switch_model, name),
              "current" if name == self.model else None) for name in names],
            placeholder="Switch model…",
        )

    def action_switch_provider(self, name: str) -> None:
        """Use provider or profile `name` (and its default model) from the next request on."""
        from llmchat.errors import ConfigError

        app = self.app
        assert isinstance(app, ProviderHost)
        try:
            provider, model = app.make_provider(name)
        except ConfigError as exc:
            self.notify(str(exc), title="Provider", severity="error", markup=False)
            return
        self.session.use(provider, model)
        sidebar = self.query_one(Sidebar)
        sidebar.provider, sidebar.model = provider.name, model
        self.notify(f"{provider.name} · {model}", title="Provider", timeout=3, markup=False)

    async def choose_provider(self) -> None:
        """Offer the built-in providers and the config file's profiles in the palette."""
        from llmchat.config import BUILTIN_PROFILES

        app = self.app
        assert isinstance(app, ProviderHost)
        names = sorted({*BUILTIN_PROFILES, *app.settings.profiles})
        await app.search_commands(
            [(name, partial(self.action_switch_provider, name),
              "current" if name == self.provider.name else None) for name in names],
            placeholder="Switch provider…",
        )

    def set_system(self, text: str | None) -> None:
        """Use `text` as the system prompt from the next request on (blank: none)."""
        system = (text or "").strip() or None
        self.session.set_system(system)
        self.notify("System prompt set." if system else "System prompt cleared.", title="System prompt",
                    timeout=3, markup=False)

    def action_set_system_prompt(self) -> None:
        """Edit the system prompt in a small dialog."""
        def chosen(text: str | None) -> None:
            if text is not None:
                self.set_system(text)

        self.app.push_screen(TextPromptScreen("System prompt (empty: none)", self.conversation.system or ""),
                             chosen)

    async def _remove_views_after_last_user(self) -> MessageView | None:
        """Remove every widget after the last user message's view; return that view."""
        transcript = self.query_one(Transcript)
        users = [v for v in transcript.query(MessageView) if v.role == "user"]
        if not users:
            return None
        after = transcript.children[transcript.children.index(users[-1]) + 1:]
        for widget in list(after):
            await widget.remove()
        return users[-1]

    async def action_retry(self) -> None:
        """Regenerate the last answer: stream a new one beside it (the old one stays, a branch)."""
        if self.streaming or self.queue:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        try:
            turn = self.session.regenerate()  # the old answer stays in the history, as a branch
        except ValueError:
            self.notify("There is no message to answer again.", title="Retry", markup=False)
            return
        await self._remove_views_after_last_user()
        view = await self.query_one(Transcript).add_message("assistant")
        self.query_one(Transcript).anchor()
        self.start_reply(view, turn)

    def action_fork(self) -> None:
        """Go on in a copy of this conversation (a new one in the history, the same messages on
        screen); the original stays as it is, to come back to from the history."""
        from llmchat.store.recorder import Recorder

        if self.streaming or self.queue:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        if not self.conversation.messages:
            self.notify("There is nothing to fork yet.", title="Fork", markup=False)
            return
        original = self.recorder.conversation_id
        self.recorder = Recorder(self.store, self._history_failed)
        self.session = self.session.fork(self.recorder)
        where = " (the original stays in the history)" if original and self.recorder.conversation_id else ""
        self.notify(f"Forked: this conversation goes on as a copy{where}.", title="Fork", timeout=4,
                    markup=False)

    async def action_edit_last(self) -> None:
        """Put the last user message back in the prompt; drop it and its answer."""
        if self.streaming or self.queue:
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        try:
            message = self.session.rewind()
        except ValueError:
            self.notify("There is no message to edit.", title="Edit", markup=False)
            return
        last_user = await self._remove_views_after_last_user()
        if last_user is not None:
            await last_user.remove()
        prompt = self.query_one(PromptInput)
        prompt.load_text(message.content)
        prompt.move_cursor(prompt.document.end)
        prompt.focus()
