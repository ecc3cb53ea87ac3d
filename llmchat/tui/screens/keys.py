"""KeysScreen: the session's key table (the palette's "Keys"); Escape closes it."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from llmchat.tui.key_table import key_rows


class KeysScreen(ModalScreen[None]):
    """The keys of the session (with the config's ``[keys]`` applied), as in the README."""

    DEFAULT_CSS = """
    KeysScreen { align: center middle; }
    KeysScreen > Vertical { width: 90%; height: 80%; border: round $primary; background: $surface; }
    KeysScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close", id="keys.close")]

    def __init__(self, known: Mapping[str, Binding], keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.known = dict(known)
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Keys — Escape closes; rebind them in the config's [keys] by id", markup=False)
            yield DataTable(id="keys-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "where", "does", "id")
        for row in key_rows(self.known, self.keymap):
            table.add_row(row.keys, row.where, row.does.replace("`", ""), row.binding_id)
        table.focus()
