"""The session's key table, made from the bindings themselves (with the user's ``[keys]``
rebinding applied), so that the README, the palette's "Keys" screen and the code cannot drift
apart (issue 17). ``python tools/keys_table.py`` rewrites the README's table; a test checks it.

A binding is listed by its id; :data:`DOES` says what it does in the words of the README.
Keys handled without a binding of ours (the prompt's line editing, completion, recall) are
in :data:`OTHER_KEYS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from textual.binding import Binding

DOES: dict[str, tuple[str, str]] = {
    "prompt.send": ("prompt", "send the message (while a reply streams, it is queued, marked \"queued\", "
                    "and sent when the reply ends)"),
    "prompt.newline": ("prompt", "new line in the message (Shift+Enter / Alt+Enter where the terminal "
                       "reports them)"),
    "prompt.editor": ("prompt", "edit the prompt in `$VISUAL` / `$EDITOR`"),
    "chat.cancel": ("chat", "stop the reply that is streaming (queued messages go back into the prompt)"),
    "chat.new": ("chat", "new conversation"),
    "chat.sidebar": ("chat", "show / hide the sidebar"),
    "chat.history": ("chat", "open the history"),
    "tab.new": ("chat", "new tab: a conversation of its own, with this tab's provider, model and system "
                "prompt (see \"Tabs\")"),
    "tab.next": ("chat", "next tab (Ctrl+Tab where the terminal reports it)"),
    "tab.previous": ("chat", "previous tab"),
    "tab.go-1": ("chat", "go to tab N (`/tab N` works in every terminal and browser)"),
    "tab.close": ("chat", "close the tab (asks first while its reply streams); in the prompt only when "
                  "the prompt is empty, else Ctrl+W deletes the word to the left"),
    "app.palette": ("everywhere", "command palette: new conversation, toggle sidebar, open history, copy "
                    "last answer, export conversation, switch model…, switch provider…, set system "
                    "prompt…, compare models…, regenerate / edit last, new / close / next / previous / switch tab, keys, change theme, quit"),
    "app.quit": ("everywhere", "quit"),
    "message.copy": ("selected message", "copy it to the clipboard (see \"Copying\")"),
    "message.copy-block-1": ("selected message", "copy its code block N (the message's hint line "
                             "lists them)"),
    "message.previous": ("selected message", "select the previous message"),
    "message.next": ("selected message", "select the next message"),
    "message.prompt": ("selected message", "back to the prompt"),
    "message.branch-previous": ("selected message", "show its previous branch (a message with siblings "
                                "shows \"branch 2/3\"); the transcript follows that path"),
    "message.branch-next": ("selected message", "show its next branch"),
    "message.edit": ("selected message", "edit your message: it goes into the prompt, and sending makes a "
                     "new branch (the old one stays)"),
    "compare.pick": ("compare column", "go on with this reply (the other replies stay as branches); "
                     "its Use button does the same"),
    "compare.stop": ("compare column", "stop this model's reply only (Escape stops them all)"),
    "compare.previous": ("compare column", "the previous model's reply (one at a time on a narrow terminal)"),
    "compare.next": ("compare column", "the next model's reply"),
    "compare.prompt": ("compare column", "back to the prompt"),
    "history.rename": ("history", "rename the highlighted conversation"),
    "history.delete": ("history", "delete the highlighted conversation (asks first)"),
    "history.close": ("history", "close the history"),
}
"""Binding id -> (where it works, what it does). Bindings not named here are not listed
(dialogs' own y / n / Escape, which their buttons show)."""

UNLISTED = frozenset({*(f"message.copy-block-{n}" for n in range(2, 10)), *(f"tab.go-{n}" for n in range(2, 10)),
                      "history.delete-key"})
"""Bindings the table covers under another row (``1–9``, ``Alt+1–9``; Delete beside Ctrl+D)."""

RANGES = {"message.copy-block-1": "1–9", "tab.go-1": "Alt+1–9"}
"""Rows that stand for nine bindings (N = 1 to 9), shown by their range unless rebound."""

OTHER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Ctrl+A / Ctrl+E (also Home / End)", "prompt", "start / end of the line (readline habit)"),
    ("Up / Down (on the first / last line)", "prompt", "recall earlier prompts of this session"),
    ("Right (while a `/command` is suggested)", "prompt", "complete the slash command (Enter on an "
     "unambiguous prefix runs it too)"),
    ("Shift+Tab (from the prompt), or a click", "chat", "select a message"),
)
"""Keys that are not bindings of llmchat's own: (keys, where, what they do)."""

KEY_NAMES = {"escape": "Escape", "enter": "Enter", "delete": "Delete", "up": "Up", "down": "Down",
             "tab": "Tab", "space": "Space", "backspace": "Backspace", "pagedown": "PageDown", "pageup": "PageUp"}


class KeyRow(NamedTuple):
    """One line of the table."""

    keys: str
    where: str
    does: str
    binding_id: str
    """The id to rebind in the config's ``[keys]`` ("" for :data:`OTHER_KEYS`)."""


def pretty(keys: str) -> str:
    """``"ctrl+d,delete"`` -> ``"Ctrl+D / Delete"``."""
    shown = []
    for key in keys.split(","):
        parts = key.strip().split("+")
        if len(parts) == 1 and len(parts[0]) == 1:
            shown.append(parts[0])  # a plain letter is typed as it is: "c"
            continue
        shown.append("+".join(KEY_NAMES.get(p, p.upper() if len(p) == 1 else p.capitalize()) for p in parts))
    return " / ".join(shown)


def bindings_of(*owners: type) -> dict[str, Binding]:
    """Every binding of `owners` (classes with ``BINDINGS``) that has an id, by id; the
    first owner wins. :func:`llmchat.tui.app.session_bindings` names the session's owners."""
    found: dict[str, Binding] = {}
    for owner in owners:
        for binding in getattr(owner, "BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                found.setdefault(binding.id, binding)
    return found


def key_rows(known: Mapping[str, Binding], keymap: Mapping[str, str] | None = None) -> list[KeyRow]:
    """The table's rows for the bindings `known` (by id), in :data:`DOES` order, then
    :data:`OTHER_KEYS`; `keymap` (binding id -> keys, as ``App.update_keymap`` takes)
    replaces a binding's keys."""
    keymap = keymap or {}
    rows = []
    for binding_id, (where, does) in DOES.items():
        binding = known.get(binding_id)
        if binding is None:
            continue
        keys = keymap.get(binding_id) or binding.key
        shown = pretty(keys)
        if binding_id in RANGES and binding_id not in keymap:
            shown = RANGES[binding_id]
        rows.append(KeyRow(shown, where, does, binding_id))
    rows += [KeyRow(keys, where, does, "") for keys, where, does in OTHER_KEYS]
    return rows


def markdown_table(known: Mapping[str, Binding], keymap: Mapping[str, str] | None = None) -> str:
    """The rows as the README's Markdown table (ends with a newline)."""
    lines = ["| key | where | does | id (for `[keys]`) |", "| --- | --- | --- | --- |"]
    for row in key_rows(known, keymap):
        lines.append(f"| {row.keys} | {row.where} | {row.does} | {f'`{row.binding_id}`' if row.binding_id else ''} |")
    return "\n".join(lines) + "\n"


START = "<!-- keys-table:start (generated by tools/keys_table.py from the bindings) -->"
END = "<!-- keys-table:end -->"


def replace_table(readme: str, table: str) -> str:
    """`readme` with the text between :data:`START` and :data:`END` replaced by `table`.

    Raises:
        ValueError: the markers are missing.
    """
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError("the README has no keys-table markers")
    return f"{head}{START}\n{table}{END}{tail}"
