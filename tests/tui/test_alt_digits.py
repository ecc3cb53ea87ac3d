"""Alt+digit as terminals send it (ESC, digit) reaches the tab keys, not the prompt."""

from __future__ import annotations

from textual import events
from textual._xterm_parser import XTermParser

from llmchat.tui.alt_digits import prefer_alt_digits


def keys_of(data: str) -> list[str]:
    parser = XTermParser()
    messages = [*parser.feed(data), *parser.feed("")]
    return [message.key for message in messages if isinstance(message, events.Key)]


def test_escape_digit_is_alt_digit_and_typed_characters_stay_characters() -> None:
    prefer_alt_digits()
    assert keys_of("\x1b1") == ["alt+1"]
    assert keys_of("\x1b9") == ["alt+9"]
    assert keys_of("\x1b0") == ["alt+0"]
    assert keys_of("£") == ["pound_sign"]  # a UK keyboard's Shift+3 is not a tab key
    assert keys_of("1") == ["1"]
    assert prefer_alt_digits() == []  # idempotent
