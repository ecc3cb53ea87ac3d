"""TabSet: the session's open tabs, each a ChatScreen in a Textual mode of its own.

A mode has its own screen stack, so each tab keeps its own modals, and only the visible
tab's screen gets keys (Escape stops the visible tab's reply only). A tab's screen mounts
the first time it shows (a restored tab costs nothing until then); a tab that is not
visible keeps streaming and recording while its rendering waits (see
:mod:`llmchat.tui.screens.chat_tabs`).

The open tabs (each one's conversation id, and which one is visible) are saved in
``tabs.json`` beside the UI state file whenever they change, and come back at the next
start when there were two or more; a conversation deleted meanwhile is skipped, a damaged
file ignored, each with a note.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.css.query import NoMatches
from textual.worker import WorkerCancelled, WorkerFailed

from llmchat.errors import ConfigError
from llmchat.store import StoreError
from llmchat.tui.screens.chat import STREAM_GROUP, ChatScreen
from llmchat.tui.screens.chat_tabs import TabControl
from llmchat.tui.screens.history import ConfirmScreen
from llmchat.tui.ui_state import SavedTab, read_tabs, write_tabs
from llmchat.tui.widgets.tab_bar import TabEntry

if TYPE_CHECKING:
    from textual.app import App

    from llmchat.store import Store

__all__ = ["ScreenFactory", "TabControl", "TabSet"]

ScreenFactory = Callable[..., ChatScreen]
"""``make(conversation_id, like, provider=None, model=None)``: a ChatScreen for a stored
conversation (None: a new one), with the provider, model and system prompt of `like` (None:
the settings', or provider or profile `provider` and `model` when given). Raises ConfigError
for a provider that cannot be made."""

CLOSE_GROUP = "tab-close"
"""Worker group (of the app) that stops a closed tab's reply and removes the tab."""


class TabSet:
    """The open tabs of the session, in order; the app owns one (``app.tabs``).

    Args:
        app: the app whose modes hold the tabs.
        make: builds a tab's screen (:data:`ScreenFactory`).
        state_file: where the open tabs are saved (``tabs.json``).
    """

    def __init__(self, app: App[None], make: ScreenFactory, state_file: Path) -> None:
        self.app = app
        self._make = make
        self.state_file = state_file
        self.screens: list[ChatScreen] = []
        """The tabs' screens, in the bar's order."""
        self._modes: dict[ChatScreen, str] = {}
        self._opened = 0
        self._saved: tuple[list[SavedTab], int] | None = None
        """What was last written to the state file."""
        self.close_key_at = float("-inf")
        """When Ctrl+W was last pressed on a tab (the tabs' guard against a held key)."""

    # -- which tab ------------------------------------------------------------------------

    @property
    def current(self) -> ChatScreen | None:
        """The visible tab's screen (None before the first tab opens)."""
        mode = self.app.current_mode
        return next((screen for screen, name in self._modes.items() if name == mode), None)

    @property
    def active(self) -> int:
        """The visible tab's position (0 with no tab)."""
        current = self.current
        return self.screens.index(current) if current is not None else 0

    def tab_list(self) -> list[tuple[int, TabEntry, bool]]:
        """(number, entry, visible) of every tab, in order."""
        current = self.current
        return [(index + 1, screen.tab_entry(), screen is current) for index, screen in enumerate(self.screens)]

    # -- opening, switching, closing ----------------------------------------------------------

    def add(self, screen: ChatScreen, *, show: bool = True) -> ChatScreen:
        """Add `screen` as the last tab (and show it)."""
        self._opened += 1
        mode = f"tab-{self._opened}"
        self._modes[screen] = mode
        self.screens.append(screen)
        self.app.add_mode(mode, lambda: screen)
        if show:
            self.app.switch_mode(mode)
        self.refresh()
        return screen

    def open_tab(self, conversation_id: str | None = None) -> ChatScreen:
        """Open a tab for stored conversation `conversation_id` (None: a new conversation with
        the visible tab's provider, model and system prompt) and show it."""
        return self.add(self._make(conversation_id, self.current))

    def show(self, index: int) -> None:
        """Show the tab at `index` (from 0)."""
        screen = self.screens[index]
        if self.app.current_mode != self._modes[screen]:
            self._draw(screen, index)  # its bar is right in the first frame it shows
            self.app.switch_mode(self._modes[screen])
        self.refresh()

    def step_tab(self, step: int) -> None:
        """Show the tab `step` places away from the visible one (wrapping around)."""
        if len(self.screens) > 1:
            self.show((self.active + step) % len(self.screens))

    def go_tab(self, number: int) -> bool:
        """Show tab `number` (from 1); False when there is no such tab."""
        if not 1 <= number <= len(self.screens):
            return False
        self.show(number - 1)
        return True

    def close_tab(self, screen: object, *, ask: bool = True) -> None:
        """Close `screen`'s tab. While its reply streams (or messages wait in its queue) it
        asks first, when `ask`; closing stops the reply, which is kept marked cancelled. The
        last tab stays open. The tab to the right (else left) shows next, as in a browser."""
        if not isinstance(screen, ChatScreen) or screen not in self._modes or len(self.screens) < 2:
            return
        if ask and (screen.streaming or screen.queue):
            number = self.screens.index(screen) + 1
            waiting = f" and {len(screen.queue)} queued message(s) are dropped" if screen.queue else ""
            question = (f"A reply is streaming in tab {number}. Close the tab? The reply stops and "
                        f"is kept in the history, marked cancelled{waiting}.")

            def answered(yes: bool | None) -> None:
                if yes:
                    self.close_tab(screen, ask=False)

            self.app.push_screen(ConfirmScreen(question), answered)
            return
        # In a worker of the app: the screen's own handler (Ctrl+W, /tab close) must not wait
        # for the screen's removal.
        self.app.run_worker(self._close(screen), group=CLOSE_GROUP, exit_on_error=False)

    async def _close(self, screen: ChatScreen) -> None:
        mode = self._modes.get(screen)
        if mode is None or len(self.screens) < 2:
            return
        screen.queue.clear()  # (a closed tab puts nothing back in its prompt)
        streams = [worker for worker in self.app.workers if worker.node is screen and worker.group == STREAM_GROUP]
        self.app.workers.cancel_group(screen, STREAM_GROUP)
        for worker in streams:  # the engine records the partial reply, marked cancelled
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        index = self.screens.index(screen)
        self.screens.remove(screen)
        del self._modes[screen]
        if self.app.current_mode == mode:
            index = min(index, len(self.screens) - 1)
            self._draw(self.screens[index], index)
            self.app.switch_mode(self._modes[self.screens[index]])
        await self.app.remove_mode(mode)
        self.refresh()

    # -- the bar and the saved state ----------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the visible tab's bar and save the open tabs (when they changed)."""
        current = self.current
        if current is not None:
            self._draw(current, self.active)
        self.save()

    def _draw(self, screen: ChatScreen, active: int) -> None:
        """Draw the tab bar of `screen` (when mounted) with tab `active` highlighted."""
        if screen.is_mounted:
            with contextlib.suppress(NoMatches):
                screen.show_tabs([tab.tab_entry() for tab in self.screens], active)

    def save(self) -> None:
        """Write the open tabs to the state file, if they changed since the last write."""
        if not self.screens:
            return
        state = ([SavedTab(screen.tab_conversation(), screen.provider.name, screen.model) for screen in self.screens],
                 self.active)
        if state != self._saved and write_tabs(self.state_file, *state):
            self._saved = state

    def restore(self, store: Store | None, wanted: str | None = None) -> list[str]:
        """Open the tabs saved by the last session, when it had two or more, and show the one
        that was visible; then conversation `wanted` (``--conversation``), in a tab of its own
        unless one of them holds it. With nothing to restore, open one tab as before tabs.

        Returns:
            Notes on what could not be restored (a damaged file, deleted conversations).
        """
        saved = read_tabs(self.state_file)
        notes = [saved.problem] if saved.problem else []
        tabs = saved.tabs if len(saved.tabs) > 1 else []
        if store is None and any(tab.conversation for tab in tabs):
            notes.append("History is off: the tabs of the last session are not restored.")
            tabs = []
        titles: dict[str, str | None] = {}
        if any(tab.conversation for tab in tabs) and store is not None:
            with contextlib.suppress(StoreError):
                titles = {summary.id: summary.title for summary in store.list_conversations()}
        visible: ChatScreen | None = None
        for position, tab in enumerate(tabs):
            if tab.conversation is not None and tab.conversation not in titles:
                notes.append(f"Tab {position + 1}: its conversation ({tab.conversation[:8]}) is no longer in the "
                             "history; not restored.")
                continue
            try:
                screen = self._make(tab.conversation, None, provider=tab.provider, model=tab.model)
            except ConfigError as exc:
                notes.append(f"Tab {position + 1}: {exc}; it uses the default provider.")
                screen = self._make(tab.conversation, None)
            self.add(screen, show=False)
            screen.stored_title = titles.get(tab.conversation) if tab.conversation is not None else None
            if position == saved.active or visible is None:
                visible = screen
        if wanted is not None:
            resolved = wanted
            if store is not None:
                with contextlib.suppress(StoreError):
                    resolved = store.resolve(wanted)
            visible = next((s for s in self.screens if s.tab_conversation() == resolved), None)
            if visible is None:
                visible = self.add(self._make(wanted, None), show=False)
        if visible is None:
            visible = self.add(self._make(None, None), show=False)
        self.show(self.screens.index(visible))
        return notes
