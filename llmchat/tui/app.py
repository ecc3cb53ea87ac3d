"""LlmChatApp: loads themes, builds the provider, and shows the chat (or the setup) screen."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import WorkerCancelled, WorkerFailed

from llmchat import paths
from llmchat.chat.models import Attachment
from llmchat.chat.toollimits import ToolLimits
from llmchat.clipboard import Copied, copy_text
from llmchat.config import DEFAULT_THEME, Settings
from llmchat.discovery import LocalServer
from llmchat.first_run import Candidate, find_candidates, remember_provider, use_candidate
from llmchat.hangup import detach, terminal_fds
from llmchat.providers import make_client
from llmchat.providers.base import Provider
from llmchat.safety import one_line, safe_lines
from llmchat.store import Store, StoreError
from llmchat.tui.alt_digits import prefer_alt_digits
from llmchat.tui.app_mcp import McpServers
from llmchat.tui.commands import ChatCommands
from llmchat.tui.key_table import bindings_of
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.chat_tabs import TabStateChanged
from llmchat.tui.screens.setup import SetupScreen
from llmchat.tui.strip_cycles import break_strip_cycles
from llmchat.tui.tabs import TabSet
from llmchat.tui.themes import load_themes
from llmchat.tui.wheel import TranscriptWheel
from llmchat.tui.ui_state import read_ui_state, remember, tabs_file

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.tools import ToolRegistry

    from llmchat.mcp.session import McpSession


BROWSER_KEYMAP: dict[str, str] = {
    "chat.new": "alt+n,ctrl+n",
    "chat.history": "alt+o,ctrl+o",
    "app.palette": "alt+p,ctrl+p",
}
"""Keys in a web browser (``llmchat serve``), by binding id: on Linux and Windows browsers
keep Ctrl+N for themselves (and may keep Ctrl+O and Ctrl+P), while Alt+letter reaches the
page. The footer shows the first key; the Ctrl key stays as a second one (on macOS, Ctrl is
not the browser's modifier and reaches the page)."""


def session_bindings() -> dict[str, Binding]:
    """The session's bindings with an id, by id (the key table's source: README, "Keys")."""
    from llmchat.tui.screens.history import HistoryScreen
    from llmchat.tui.widgets.compare_column import CompareColumn
    from llmchat.tui.widgets.message_view import MessageView
    from llmchat.tui.widgets.prompt_input import PromptInput

    return bindings_of(PromptInput, ChatScreen, MessageView, CompareColumn, HistoryScreen, LlmChatApp)


class LlmChatApp(McpServers, TranscriptWheel, App[None]):
    """The full-screen session.

    Args:
        settings: resolved settings (provider, model, system prompt, theme).
        provider: a ready provider (tests inject one); by default built from `settings`.
        theme_dirs: where themes are read from; by default the shipped and the user's.
        history: the SQLite history file (default: in the data directory).
        conversation: a stored conversation to continue (an ID or "latest").
        tools: offer the tools (built-in, config, plugins); those that are not read-only
            ask first.
        ui_state: the JSON file where the chosen theme is remembered (default:
            ``paths.ui_state_file()``); the open tabs are kept beside it (``tabs.json``).
        browser: use :data:`BROWSER_KEYMAP` (default: when the app runs in a web browser
            through textual-serve, Textual's ``is_web``).
        mcp: MCP servers of ``mcp.json`` switched on at start (``--mcp NAME``; ``all``);
            the others can be switched on in ``/mcp``.
        mcp_config: read MCP servers from this file instead of ``mcp.json``.
    """

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "llmchat"
    COMMANDS = App.COMMANDS | {ChatCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        # Textual's own palette binding has no id, so no keymap could move it (see BROWSER_KEYMAP).
        Binding("ctrl+p", "command_palette", "palette", show=False, id="app.palette", priority=True,
                tooltip="Open the command palette"),
    ]
    _remember_theme = False

    def __init__(
        self,
        settings: Settings,
        *,
        provider: Provider | None = None,
        theme_dirs: tuple[Path, ...] | None = None,
        history: Path | None = None,
        conversation: str | None = None,
        tools: bool = False,
        ui_state: Path | None = None,
        browser: bool | None = None,
        mcp: tuple[str, ...] = (),
        mcp_config: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        super().__init__()
        self._attachments = list(attachments)
        """``llmchat -a``: sent with the first message (put above the prompt at start)."""
        self._browser = browser
        self.settings = settings
        self._provider = provider
        self._history_path = history or paths.history_db()
        self._conversation = conversation
        self._tools = tools
        self._mcp_names = mcp
        self.mcp_config = mcp_config
        """``--mcp-config FILE`` (None: ``mcp.json`` in the config directory)."""
        self.mcp: McpSession | None = None
        """The session's MCP servers, made at start with ``--mcp`` or when ``/mcp`` opens."""
        self.store: Store | None = None
        self._gc_threshold = gc.get_threshold()
        self._client: httpx.AsyncClient | None = None
        self._theme_dirs = theme_dirs or (paths.builtin_themes_dir(), paths.user_themes_dir())
        self._ui_state = ui_state or paths.ui_state_file()
        self._remember_theme = False
        """False until the start-up theme is applied: only the user's later changes are saved."""
        self.keymap_in_use: dict[str, str] = {}
        """Binding id -> keys: the browser's keys (``serve``) and the config's ``[keys]``."""
        self.tabs = TabSet(self, self.new_chat_screen, tabs_file(self._ui_state))
        """The open tabs (each a ChatScreen): :mod:`llmchat.tui.tabs`."""
        self._tool_registry: ToolRegistry | None = None
        """The tools offered in every tab (made once, at start)."""

    def on_mount(self) -> None:
        # Textual keeps many small objects alive; full collections of them stalled key presses
        # for up to half a second during long replies (docs/performance.md). Objects made at
        # start-up are frozen out of collection and full collections are made rarer.
        gc.freeze()
        gc.set_threshold(700, 10, 1000)
        break_strip_cycles()  # ... and Textual's rendered lines are freed without them (strip_cycles.py)
        prefer_alt_digits()  # Alt+1..9 (tabs) as xterm and tmux send them (alt_digits.py)
        if self.is_web if self._browser is None else self._browser:
            self.COMMAND_PALETTE_BINDING = BROWSER_KEYMAP["app.palette"].split(",")[0]  # the footer's
            self.keymap_in_use.update(BROWSER_KEYMAP)
        self.keymap_in_use.update(self.settings.keymap)  # the config's [keys] win
        if self.keymap_in_use:
            self.update_keymap(self.keymap_in_use)
        self._apply_themes()
        self._open_history()
        try:  # SIGTERM, SIGHUP: stop the reply (its partial text is saved), restore the terminal, exit
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: self.call_later(self._terminate))
            loop.add_signal_handler(signal.SIGHUP, self._hang_up, terminal_fds())
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass
        if self._provider is None:
            problem = self.settings.provider.missing_credentials()
            if problem:
                self.run_worker(self._first_run(problem), group="first-run", exit_on_error=False)
                return
        self._start_chat()

    async def _first_run(self, problem: str) -> None:
        """No key for the default provider: use the one the environment allows, or let the
        user pick among several (the pick is remembered), or show what is missing."""
        candidates = await find_candidates(self.settings, os.environ, paths.keys_file())
        if len(candidates) == 1:
            self.settings = use_candidate(self.settings, candidates[0])
            self.notify(f"Using {candidates[0].name} ({candidates[0].reason}).", title="Provider")
            self._start_chat()
            return
        self.push_screen(SetupScreen(problem, candidates), self._use_local_server)

    def _apply_themes(self) -> None:
        themes, failures = load_themes(*self._theme_dirs)
        for theme in themes:
            self.register_theme(theme)
        wanted = self.settings.theme
        if not self.settings.theme_explicit:
            remembered = read_ui_state(self._ui_state).get("theme")
            if isinstance(remembered, str) and remembered in self.available_themes:
                wanted = remembered
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            if DEFAULT_THEME in self.available_themes:
                self.theme = DEFAULT_THEME
            failures.append(f"unknown theme {wanted!r}; using {self.theme!r}")
        if failures:
            self.notify("\n".join(failures), title="Theme problems", severity="warning", markup=False)
        self._remember_theme = True

    def watch_theme(self, theme: str) -> None:
        """Remember a theme the user picks (command palette, /theme) for the next session."""
        if self._remember_theme and not remember(self._ui_state, theme=theme):
            self.notify(f"Could not save the theme choice to {self._ui_state}.", title="Theme",
                        severity="warning", markup=False)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification of the app (widgets and screens call this one) is made safe
        here: server text in a message or title (an error body, a model id, a conversation
        title) cannot carry a terminal escape, bidi control or invisible character, and a
        line cannot run on (:func:`llmchat.safety.safe_lines`). Content markup is always off
        (`markup` is ignored): text like ``[@click=app.quit]`` from a server stays text."""
        super().notify(
            safe_lines(message), title=one_line(title, 80), severity=severity, timeout=timeout, markup=False
        )

    last_copy: Copied | None = None
    """How the latest copy went (:mod:`llmchat.clipboard`): what the notification says."""

    def copy_to_clipboard(self, text: str) -> None:
        """Copy `text`: the local clipboard when the session is local, tmux's buffer inside
        tmux, else OSC 52 (wrapped for tmux / screen); :attr:`last_copy` says which, and
        :meth:`copy_note` words the notification by it."""
        self._clipboard = text
        self.last_copy = copy_text(text)
        if self.last_copy.sequence and self._driver is not None:
            self._driver.write(self.last_copy.sequence)

    def copy_note(self, what: str) -> str:
        """The notification for a copy of `what` just made, worded by what is known."""
        return (self.last_copy or Copied("osc52")).describe(what)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's system commands, with "Keys" showing the session's own key table."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                yield SystemCommand("Keys", "The session's keys (rebind them in the config's \\[keys])",
                                    self.action_show_keys)
            else:
                yield command

    def action_show_keys(self) -> None:
        """Show the key table (:class:`~llmchat.tui.screens.keys.KeysScreen`)."""
        from llmchat.tui.screens.keys import KeysScreen

        self.push_screen(KeysScreen(session_bindings(), self.keymap_in_use))

    def make_provider(self, name: str) -> tuple[Provider, str]:
        """A provider for `name` (built-in or profile) with its default model, on this app's
        HTTP client.

        Raises:
            ConfigError: unknown name, a bad config, or a hosted provider without its key.
        """
        from llmchat.config import load_settings
        from llmchat.errors import ConfigError

        settings = load_settings(
            self.settings.config_path, os.environ, provider=name, keys_path=paths.keys_file()
        )
        problem = settings.provider.missing_credentials()
        if problem:
            raise ConfigError(problem)
        if self._client is None:
            self._client = make_client()
        return settings.provider.create(self._client, self.settings.policy), settings.provider.model

    def _hang_up(self, terminals: list[int]) -> None:
        """SIGHUP: the terminal is gone. Writes go to /dev/null from now on, so Textual can
        wind down; the reply is saved as for SIGTERM, and the exit status is 129."""
        detach(terminals)
        self.call_later(self._terminate, 129)

    async def _hung_up(self) -> None:
        """After SIGHUP, once the reply is saved: close the history and leave at once.

        Textual's own shutdown would restore a terminal that no longer exists, and the
        SIGCONT the kernel sends with the hang-up makes its driver start a second output
        thread; waiting for it never ends. There is nothing left to show or restore.
        """
        if self.store is not None:
            self.store.close()
        if self.mcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.mcp.aclose(), 5)
        os._exit(129)

    async def _terminate(self, return_code: int = 143) -> None:
        """Cancel every worker (a streaming reply is finalized as cancelled and stored), then
        exit normally so Textual restores the terminal; `return_code` is 143 for SIGTERM,
        129 for SIGHUP (the terminal was closed)."""
        workers = list(self.workers)
        self.workers.cancel_all()
        for worker in workers:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        if return_code == 129:
            await self._hung_up()
        self.exit(return_code=return_code)

    def _open_history(self) -> None:
        try:  # a history this session may not write is still there to read (as `llmchat history`)
            self.store = Store.open_or_read(self._history_path)
        except StoreError as exc:
            self.notify(f"History is off for this session: {exc}", title="History",
                        severity="warning", timeout=10, markup=False)
            return
        if self.store.read_only:
            self.notify(f"History is read-only: {self._history_path} cannot be written; new replies "
                        "will not be stored.", title="History", severity="warning", timeout=10, markup=False)
            return
        if self.store.recovered:
            self.notify(f"{self.store.recovered} reply(ies) cut off by an earlier crash were kept, "
                        "marked interrupted.", title="History", timeout=8, markup=False)

    def _use_local_server(self, server: LocalServer | Candidate | None) -> None:
        if server is None:
            self.exit(return_code=2)  # nothing to chat with: as `ask` without credentials
            return
        if isinstance(server, Candidate):
            self.settings = use_candidate(self.settings, server)
            trouble = remember_provider(self.settings.config_path, server.name)
            self.notify(f"Could not remember the choice: {trouble}" if trouble else
                        f"Remembered provider = {server.name!r} in {self.settings.config_path}.",
                        title="Provider", severity="warning" if trouble else "information")
        else:
            self.settings = self.settings.with_provider(server.provider_settings())
        self._start_chat()

    def _start_chat(self) -> None:
        if self._provider is None:
            self._client = make_client()
            self._provider = self.settings.provider.create(self._client, self.settings.policy)
        if self._tools:
            from llmchat.chat.builtin_tools import default_registry
            from llmchat.errors import ConfigError

            try:
                self._tool_registry, problems = default_registry(
                    os.getcwd(), self._client, config=self.settings.tools,
                    max_output_chars=self.settings.tool_output_chars,
                    allow_private_addresses=self.settings.allow_private_addresses,
                )
            except ConfigError as exc:
                problems = [str(exc)]
            if problems:
                self.notify("\n".join(problems), title="Tools", severity="warning", markup=False)
        notes = self.tabs.restore(self.store, self._conversation)
        if notes:
            self.notify("\n".join(notes), title="Tabs", severity="warning", timeout=10, markup=False)
        mcp = self.tabs.screens[0].mcp
        if mcp is not None and mcp.active:
            self.run_worker(self._start_mcp(mcp), exit_on_error=False)

    def new_chat_screen(
        self, conversation_id: str | None = None, like: ChatScreen | None = None, *,
        provider: str | None = None, model: str | None = None,
    ) -> ChatScreen:
        """A tab's screen: stored conversation `conversation_id` (None: a new one), with the
        provider, model, system prompt and options of tab `like` (None: the settings', or
        provider or profile `provider` and `model` when given: a restored tab's), the
        session's tools and MCP servers. The first one gets ``llmchat -a``'s attachments.

        Raises:
            ConfigError: `provider` cannot be made (unknown, no key).
        """
        assert self._provider is not None
        if like is not None:
            made, chosen, system, options = like.provider, like.model, like.conversation.system, dict(like.options)
        else:
            made, chosen = self._provider, self.settings.provider.model
            if provider is not None and provider != self._provider.name:
                made, chosen = self.make_provider(provider)
            chosen, system, options = model or chosen, self.settings.system, self.settings.options
        screen = ChatScreen(made, chosen, system, options=options, store=self.store, conversation_id=conversation_id,
                            registry=self._tool_registry)
        screen.max_tool_rounds = self.settings.max_tool_rounds
        screen.session.tool_limits = ToolLimits(self.settings.max_tool_calls, self.settings.tool_results_chars)
        screen.tool_output_chars = self.settings.tool_output_chars
        screen.initial_attachments, self._attachments = self._attachments, []
        if like is not None:
            screen.mcp = like.mcp
        elif self._mcp_names:
            screen.mcp = self.mcp_session()
        return screen

    def on_tab_state_changed(self, event: TabStateChanged) -> None:
        """A tab's title, mark or conversation changed: redraw the bar, save the open tabs."""
        self.tabs.refresh()

    def _fatal_error(self) -> None:
        """Report a crash without local variables: Textual's report shows them, and a local
        may hold an API key (headers, settings). Textual has no public switch for this, so
        its Traceback is swapped for one that leaves locals out while it reports."""
        import rich.traceback

        original = rich.traceback.Traceback

        class NoLocals(original):  # type: ignore[valid-type,misc]
            def __init__(self, *args: object, **kwargs: object) -> None:
                kwargs["show_locals"] = False
                super().__init__(*args, **kwargs)  # type: ignore[arg-type]

        rich.traceback.Traceback = NoLocals  # type: ignore[misc]
        try:
            super()._fatal_error()
        finally:
            rich.traceback.Traceback = original  # type: ignore[misc]

    async def on_unmount(self) -> None:
        self.tabs.save()
        gc.unfreeze()
        gc.set_threshold(*self._gc_threshold)
        if self.mcp is not None:  # stop the MCP servers (a stdio server's process tree ends)
            await self.mcp.aclose()
        if self._client is not None:
            await self._client.aclose()
        if self.store is not None:
            self.store.close()
