"""llmchat.safety against an oracle of its own: every member of each promised character class,
written out here from the Unicode ranges (not read from the module's sets, which a wrong edit
would change together with the test), the neighbours just outside each range kept as they are,
and both sides of each width and line cap."""

from __future__ import annotations

import io
import json
import sys

import pytest

from llmchat.safety import char_class, for_stream, is_terminal, json_safe, json_text, note, one_line, safe_lines, terminal_safe


class Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


# Class name -> the code points the module promises to replace (its docstring and the issue).
REPLACED: dict[str, list[int]] = {
    "C0 but tab, newline, CR": [c for c in span(0x00, 0x1F) if c not in (0x09, 0x0A, 0x0D)],
    "DEL": [0x7F],
    "C1": span(0x80, 0x9F),
    "bidi": [0x061C, 0x200E, 0x200F, *span(0x202A, 0x202E), *span(0x2066, 0x2069)],
    "zero-width": [0x00AD, 0x034F, 0x180E, *span(0x200B, 0x200D), *span(0x2060, 0x2064), *span(0x206A, 0x206F),
                   0xFEFF, *span(0xFFF9, 0xFFFB), *span(0x1D173, 0x1D17A)],
    "tags": span(0xE0000, 0xE007F),
    "variation selectors 17-256": span(0xE0100, 0xE01EF),
}

KEPT = [0x09, 0x0A, 0x20, 0x7E, 0xA0, 0xA9, 0x061B, 0x061D, 0x200A, 0x2010, 0x2030, 0x205F, 0x2070,
        0xFE00, 0xFE0F, 0xFEFE, 0xFFFC, 0xFFFD, 0x1D172, 0x1D17B, 0x1F600, 0xE0080, 0xE00FF, 0xE01F0]
"""Characters on either side of the ranges above (and U+FE00-FE0F, emoji need them): untouched."""


def standin(code: int) -> str:
    if code == 0x7F:
        return "\u2421"
    if code < 0x20:
        return chr(0x2400 + code)
    return f"<U+{code:04X}>"


@pytest.mark.parametrize("name", list(REPLACED))
def test_every_member_of_each_class_gets_its_stand_in(name: str) -> None:
    codes = REPLACED[name]
    text = "".join(map(chr, codes))
    assert terminal_safe(text) == "".join(map(standin, codes))


@pytest.mark.parametrize("name", list(REPLACED))
def test_json_on_a_terminal_escapes_every_member_it_leaves_raw(name: str) -> None:
    codes = REPLACED[name]
    value = "".join(map(chr, codes))
    written = json_text({"v": value}, Tty())
    assert not set(written) & set(value)  # no member reaches the terminal raw
    assert json.loads(written) == {"v": value}  # the same JSON value


def test_json_escapes_are_lower_case_utf16_with_surrogate_pairs_above_the_bmp() -> None:
    assert json_safe(json.dumps("\x7f\u009b\ufeff", ensure_ascii=False)) == '"\\u007f\\u009b\\ufeff"'
    assert json_safe(json.dumps("\U000e0041\U000e01ef", ensure_ascii=False)) == '"\\udb40\\udc41\\udb40\\uddef"'
    assert json_safe(json.dumps("\U0001d173", ensure_ascii=False)) == '"\\ud834\\udd73"'


def test_the_neighbours_of_each_range_are_kept() -> None:
    text = "".join(map(chr, KEPT))
    assert terminal_safe(text) == text
    assert json_safe(json.dumps(text, ensure_ascii=False)) == json.dumps(text, ensure_ascii=False)


def test_a_carriage_return_is_dropped_and_one_line_folds_tabs_and_newlines() -> None:
    assert terminal_safe("a\rb\r\n") == "ab\n"
    assert one_line("a\tb\nc\r\n d", 80) == "a b c d"


@pytest.mark.parametrize(("width", "expected"), [(3, "abc"), (4, "abc"), (2, "a…"), (1, "…"), (0, "…")])
def test_one_line_cuts_only_past_the_width(width: int, expected: str) -> None:
    assert one_line("abc", width) == expected


def test_safe_lines_defaults_cut_lines_at_300_and_keep_12() -> None:
    assert safe_lines("x" * 300) == "x" * 300
    assert safe_lines("x" * 301) == "x" * 299 + "…"
    twelve = "\n".join(f"line {n}" for n in range(12))
    assert safe_lines(twelve) == twelve  # exactly the cap: all kept
    thirteen = "\n".join(f"line {n}" for n in range(13))
    assert safe_lines(thirteen).split("\n") == [f"line {n}" for n in range(11)] + ["…"]


def test_safe_lines_keeps_the_words_of_a_line_together() -> None:
    assert safe_lines("two words\nand\x1b[2J more") == "two words\nand\u241b[2J more"


def test_note_writes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    note("hello\x1b]52;c;eA==\x07\nthere")
    captured = capsys.readouterr()
    assert captured.err == "llmchat: hello\u241b]52;c;eA==\u2407 there\n" and captured.out == ""


def test_note_cuts_to_its_width() -> None:
    out = io.StringIO()
    note("x" * 500, file=out)
    assert out.getvalue() == "llmchat: " + "x" * 390 + "…\n"
    assert len(out.getvalue().rstrip("\n")) == 400


def test_for_stream_is_exact_to_a_pipe_and_safe_to_a_terminal() -> None:
    hostile = "a\x1b[31mb\u202e"
    assert for_stream(hostile, io.StringIO()) == hostile
    assert for_stream(hostile, Tty()) == "a\u241b[31mb<U+202E>"


def test_is_terminal_is_false_without_isatty_or_when_closed() -> None:
    assert is_terminal(Tty())
    assert not is_terminal(io.StringIO())
    assert not is_terminal(object())  # type: ignore[arg-type]
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)  # isatty() raises ValueError
    assert is_terminal(sys.stderr) == sys.stderr.isatty()


def test_json_text_keeps_its_indent_and_utf8_on_a_terminal_and_on_a_pipe() -> None:
    obj = {"k": ["é", 1]}
    expected = json.dumps(obj, ensure_ascii=False, indent=2)
    assert json_text(obj, io.StringIO(), indent=2) == expected
    assert json_text(obj, Tty(), indent=2) == expected  # nothing to escape: the same text
    assert json_text(obj, Tty()) == '{"k": ["é", 1]}'


def test_one_line_reads_a_huge_text_only_as_far_as_it_can_show_and_says_it_cut() -> None:
    """one_line looks at the first 8 x width + 1024 characters (a 10 MB error body costs no more
    than a short one); text past them is cut with "…", even when what was read folds short."""
    width = 10
    limit = 8 * width + 1024
    exact = "a b" + " " * (limit - 3)
    assert one_line(exact, width) == "a b"  # exactly the limit: all of it read, nothing cut
    assert one_line(exact + " ", width) == "a b…"  # one more: cut, and it says so
    assert one_line(" " * (limit + 5) + "hidden", width) == "…"
    full = "x" * width + " " * limit  # the part read fills the width exactly, and more was cut
    assert one_line(full, width) == "x" * (width - 1) + "…"
    assert one_line("x" * width + " " * (limit - width), width) == "x" * width  # not cut: fits


@pytest.mark.parametrize("codes", [
    [0x41],                                  # one code
    [0x41, 0x42],                            # a run of two
    [0x41, 0x42, 0x43, 0x45],                # a run, a gap of one, a single
    [0x41, 0x43, 0x45],                      # singles a gap of one apart: no run joins them
    [0x2D, 0x5C, 0x5D, 0x5E],                # "-", "\\", "]", "^": members like any other
    [0x00, 0x01, 0x1F, 0x7F, 0x80, 0x9F],    # controls at the edges of their blocks
    [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E],
    [0xE0000, 0xE007F, 0xE0100, 0xE01EF],    # astral planes
])
def test_char_class_matches_exactly_its_codes(codes: list[int]) -> None:
    """The regex class the sanitizer's patterns are built from (at import, so the tables'
    tests cannot see a change in it): each code matches; no neighbour within 3 and nothing else
    below U+0250 does."""
    import re

    pattern = re.compile(char_class(codes))
    window = {c for code in codes for c in range(max(0, code - 3), code + 4)} | set(range(0x250))
    assert {c for c in window if pattern.fullmatch(chr(c))} == set(codes)
    assert pattern.fullmatch("") is None and pattern.fullmatch(chr(codes[0]) * 2) is None
