"""Alt+digit keys as terminals send them: Escape, then the digit.

xterm, tmux, GNOME Terminal, Windows Terminal and xterm.js (``llmchat serve``) send Alt+1 as the
two characters ``ESC 1`` (xterm's ``metaSendsEscape``). Textual maps those sequences to the
characters WezTerm on macOS types for Option+digit (``ESC 1`` becomes "¡", ``ESC 3`` "£"), so a
binding on ``alt+1`` (the tab keys, chat_tabs.py) never fires and the prompt gets a stray
character instead. :func:`prefer_alt_digits` removes those ten entries from Textual's sequence
table: ``ESC`` + digit then reaches Textual's own rule for an escaped character, ``alt+DIGIT``.
Typing "£" or "¡" on a keyboard that has them is unaffected (one character, not a sequence).
"""

from __future__ import annotations

from textual import _ansi_sequences

__all__ = ["prefer_alt_digits"]


def prefer_alt_digits() -> list[str]:
    """Make ``ESC`` + a digit parse as ``alt+DIGIT`` (idempotent).

    Returns:
        The sequences that were remapped now (empty when Textual no longer maps them, or when
        its table cannot be changed).
    """
    table = _ansi_sequences.ANSI_SEQUENCES_KEYS
    removed = []
    for digit in "0123456789":
        sequence = "\x1b" + digit
        value = table.get(sequence)
        if isinstance(value, str) and len(value) == 1 and not value.isascii():
            try:
                del table[sequence]  # type: ignore[attr-defined]
            except TypeError:  # a read-only table in some future Textual: leave it
                return removed
            removed.append(sequence)
    return removed
