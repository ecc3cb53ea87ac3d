"""Terminal rendering for `llmchat ask`: block splitting, and untrusted model text made safe."""

from __future__ import annotations

import io

import pytest

from llmchat.providers.events import ContentDelta, ReasoningDelta
from llmchat.render import TerminalSink, split_finished
from llmchat.safety import terminal_safe

# -- split_finished ---------------------------------------------------------------------------


def test_blank_line_outside_a_fence_splits() -> None:
    text = "First paragraph.\n\nSecond, still open"
    assert text[: split_finished(text)] == "First paragraph.\n\n"


def test_last_blank_line_is_the_cut() -> None:
    text = "# Title\n\npara one\n\npara two"
    assert text[: split_finished(text)] == "# Title\n\npara one\n\n"


@pytest.mark.parametrize("text", ["", "no newline yet", "one line\n", "line\nline\n"])
def test_nothing_finished_without_a_blank_line(text: str) -> None:
    assert split_finished(text) == 0


@pytest.mark.parametrize("fence", ["```", "~~~", "```python", "  ````", "~~~~ info"])
def test_blank_line_inside_a_fence_does_not_split(fence: str) -> None:
    text = f"{fence}\ndef f():\n\n    return 1\n"
    assert split_finished(text) == 0


def test_split_after_a_closed_fence() -> None:
    text = "```\na\n\nb\n```\n\nafter"
    assert text[: split_finished(text)] == "```\na\n\nb\n```\n\n"


def test_split_before_an_open_fence() -> None:
    text = "intro\n\n```\ncode\n\nmore code"
    assert text[: split_finished(text)] == "intro\n\n"


@pytest.mark.parametrize(
    "inner",
    ["~~~", "```python", "``", "````", "``` not a closer"],
    ids=["other-char", "info-string", "too-short", "longer-ok-in-tilde", "text-after"],
)
def test_only_a_matching_fence_closes(inner: str) -> None:
    # Inside a ~~~~ fence, none of these lines closes it, so the blank line is still code.
    text = f"~~~~\n{inner}\n\ncode\n~~~~\n\nafter"
    assert text[: split_finished(text)] == f"~~~~\n{inner}\n\ncode\n~~~~\n\n"


def test_backtick_fence_closes_with_a_longer_run() -> None:
    text = "```\ncode\n\n`````\n\nafter"
    assert text[: split_finished(text)] == "```\ncode\n\n`````\n\n"


def test_inline_backticks_are_not_a_fence() -> None:
    text = "```not a fence``` here\n\nnext"
    assert text[: split_finished(text)] == "```not a fence``` here\n\n"


# -- terminal_safe ----------------------------------------------------------------------------

ESC_PIC, BEL_PIC = "\u241b", "\u2407"


def test_escape_and_csi_become_visible() -> None:
    assert terminal_safe("\x1b") == ESC_PIC
    assert terminal_safe("a\x1b[31mred\x1b[0m") == f"a{ESC_PIC}[31mred{ESC_PIC}[0m"


def test_osc_52_clipboard_write_is_defused() -> None:
    out = terminal_safe("\x1b]52;c;ZXZpbA==\x07")
    assert out == f"{ESC_PIC}]52;c;ZXZpbA=={BEL_PIC}"
    assert "\x1b" not in out and "\x07" not in out


def test_bel_c1_and_bidi_become_visible() -> None:
    assert terminal_safe("\x07") == BEL_PIC
    assert terminal_safe("\x9b31m") == "<U+009B>31m"  # C1 CSI
    assert terminal_safe("\x9d52;c;x\x9c") == "<U+009D>52;c;x<U+009C>"  # C1 OSC ... ST
    assert terminal_safe("abc\u202edef") == "abc<U+202E>def"  # right-to-left override
    assert terminal_safe("\u2066x\u2069") == "<U+2066>x<U+2069>"  # bidi isolates
    assert terminal_safe("\x7f") == "\u2421"


def test_newline_tab_and_ordinary_text_are_kept() -> None:
    text = "line one\n\tindented — héllo 世界 🎉 **bold**\n"
    assert terminal_safe(text) == text


def test_carriage_return_is_dropped() -> None:
    assert terminal_safe("safe\rEVIL\r\n") == "safeEVIL\n"


def test_every_control_is_replaced_one_by_one() -> None:
    controls = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t\r"]
    out = terminal_safe("".join(controls))
    assert not any(ch in out for ch in controls)
    # Works on any split of a stream: safe(a + b) == safe(a) + safe(b).
    text = "x\x1b]52;c;y\x07z\u202e"
    for i in range(len(text) + 1):
        assert terminal_safe(text[:i]) + terminal_safe(text[i:]) == terminal_safe(text)


# -- TerminalSink -----------------------------------------------------------------------------


def test_terminal_sink_never_passes_escape_sequences_from_the_model() -> None:
    out = io.StringIO()
    sink = TerminalSink(out)
    for piece in [
        ReasoningDelta("thinking \x1b[31mred\x1b[0m\n"),
        ContentDelta("Hello \x1b]52;c;"),
        ContentDelta("ZXZpbA==\x07 and \x1b[31mred"),
        ContentDelta(" text\x1b[0m\n\nsecond \x9b31m block \u202e\n"),
        ContentDelta("```\ncode \x1b]52;c;QUJD\x07\n\n```\n\ntail \x1b[31m"),
    ]:
        sink.event(piece)
    sink.close()
    text = out.getvalue()
    assert "\x1b]52" not in text
    assert "\x1b[31m" not in text
    assert "\x07" not in text
    assert "\x9b" not in text
    assert "\u202e" not in text
    # The model's text is shown, with the controls as visible stand-ins.
    assert "Hello" in text and "second" in text and "tail" in text
    assert f"{ESC_PIC}]52;c;ZXZpbA=={BEL_PIC}" in text
    assert f"{ESC_PIC}[31m" in text
    assert "<U+009B>" in text and "<U+202E>" in text

