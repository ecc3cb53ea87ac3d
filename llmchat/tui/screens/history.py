"""HistoryScreen: stored conversations, newest first — search, open, rename, delete."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from llmchat.safety import terminal_safe
from llmchat.store import Store, StoreError

PAGE = 200
"""Conversations listed without a search."""


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no question; ``y`` confirms, ``n`` or Escape cancels."""

    BINDINGS = [
        Binding("y", "dismiss(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "dismiss(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="confirm-yes", variant="error")
                yield Button("No (n)", id="confirm-no")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class RenameScreen(ModalScreen[str | None]):
    """Asks for a new title (Enter saves, Escape cancels)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="rename.cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.current = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("New title (empty: the first message)", markup=False)
            yield Input(self.current, id="rename-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class HistoryScreen(ModalScreen[str | None]):
    """Lists conversations; dismisses with the id to open, or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close", id="history.close"),
        Binding("ctrl+r", "rename", "Rename", id="history.rename"),
        # Priority: the search box (focused on open) would take Ctrl+D as "delete right".
        Binding("ctrl+d", "delete", "Delete", id="history.delete", priority=True),
        Binding("delete", "delete", "Delete", show=False, id="history.delete-key"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._titles: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog"):
            yield Static("History — type to search, Enter opens, Ctrl+R renames, Ctrl+D deletes",
                         id="history-title", markup=False)
            yield Input(placeholder="Search every message", id="history-search")
            yield OptionList(id="history-list")

    def on_mount(self) -> None:
        self.refresh_list("")

    @on(Input.Changed, "#history-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.refresh_list(event.value)

    @work(exclusive=True, group="history-search", exit_on_error=False)
    async def refresh_list(self, text: str) -> None:
        """Fill the list: the newest conversations, or the search hits (debounced)."""
        if text.strip():
            await asyncio.sleep(0.15)  # typing: wait for a pause
        options: list[Option] = []
        self._titles: dict[str, str] = {}
        try:
            if text.strip():
                for hit in await asyncio.to_thread(self.store.search, text, 100):
                    if hit.conversation_id not in self._titles:
                        self._titles[hit.conversation_id] = hit.title or ""
                        line = f"{hit.title or 'Untitled'} — {hit.snippet}"
                        options.append(Option(Content(terminal_safe(line)), id=hit.conversation_id))
            else:
                for row in await asyncio.to_thread(self.store.list_conversations, PAGE):
                    self._titles[row.id] = row.title or ""
                    line = (f"{row.updated_at:%Y-%m-%d %H:%M}  {row.display_title}  "
                            f"({row.message_count} msgs, {row.model or '-'})")
                    options.append(Option(Content(terminal_safe(line)), id=row.id))
        except StoreError as exc:
            self.notify(str(exc), title="History", severity="error", markup=False)
            return
        listing = self.query_one(OptionList)
        listing.clear_options()
        listing.add_options(options or [Option("No conversations", disabled=True)])
        listing.highlighted = 0 if options else None

    @on(Input.Submitted, "#history-search")
    def open_highlighted(self) -> None:
        self._open(self.query_one(OptionList).highlighted_option)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option)

    def _open(self, option: Option | None) -> None:
        if option is not None and option.id:
            self.dismiss(option.id)

    def action_rename(self) -> None:
        """Rename the highlighted conversation."""
        option = self.query_one(OptionList).highlighted_option
        if option is None or not option.id:
            return
        conversation_id = option.id

        def rename(title: str | None) -> None:
            if title is not None:
                try:
                    self.store.rename(conversation_id, title)
                except StoreError as exc:
                    self.notify(str(exc), severity="error", markup=False)
                self.refresh_list(self.query_one("#history-search", Input).value)

        self.app.push_screen(RenameScreen(self._titles.get(conversation_id, "")), rename)

    def action_delete(self) -> None:
        """Delete the highlighted conversation, after confirmation."""
        option = self.query_one(OptionList).highlighted_option
        if option is None or not option.id:
            return
        conversation_id = option.id

        def delete(yes: bool | None) -> None:
            if yes:
                try:
                    self.store.delete(conversation_id)
                except StoreError as exc:
                    self.notify(str(exc), severity="error", markup=False)
                self.refresh_list(self.query_one("#history-search", Input).value)

        self.app.push_screen(ConfirmScreen("Delete this conversation? This cannot be undone."), delete)
