"""The terminal choke point (llmchat.safety): every character class it promises, table by table."""

from __future__ import annotations

import io
import json

import pytest

from llmchat.safety import (
    BIDI,
    TAGS,
    ZERO_WIDTH,
    json_safe,
    json_text,
    note,
    one_line,
    safe_lines,
    terminal_safe,
)


class Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# (character, what a terminal must show instead), one row per class the module promises.
CASES = [
    ("\x1b", "\u241b"),  # ESC: starts CSI / OSC / DCS
    ("\x07", "\u2407"),  # BEL: ends OSC
    ("\x00", "\u2400"),
    ("\x08", "\u2408"),  # backspace could overwrite what was shown
    ("\x7f", "\u2421"),  # DEL
    ("\x9b", "<U+009B>"),  # C1 CSI
    ("\x9d", "<U+009D>"),  # C1 OSC
    ("\x90", "<U+0090>"),  # C1 DCS
    ("\x85", "<U+0085>"),  # C1 NEL
    ("\u202e", "<U+202E>"),  # right-to-left override
    ("\u202a", "<U+202A>"),  # left-to-right embedding
    ("\u2066", "<U+2066>"),  # left-to-right isolate
    ("\u2069", "<U+2069>"),  # pop directional isolate
    ("\u200f", "<U+200F>"),  # right-to-left mark
    ("\u061c", "<U+061C>"),  # Arabic letter mark
    ("\u200b", "<U+200B>"),  # zero-width space
    ("\u200c", "<U+200C>"),  # zero-width non-joiner
    ("\u200d", "<U+200D>"),  # zero-width joiner
    ("\u2060", "<U+2060>"),  # word joiner
    ("\ufeff", "<U+FEFF>"),  # zero-width no-break space
    ("\u00ad", "<U+00AD>"),  # soft hyphen
    ("\U000e0001", "<U+E0001>"),  # language tag
    ("\U000e0041", "<U+E0041>"),  # tag LATIN CAPITAL LETTER A ("ASCII smuggling")
    ("\U000e007f", "<U+E007F>"),  # cancel tag
    ("\U000e0100", "<U+E0100>"),  # variation selector 17
]


@pytest.mark.parametrize(("char", "shown"), CASES, ids=[f"U+{ord(c):04X}" for c, _ in CASES])
def test_each_promised_character_gets_a_visible_stand_in(char: str, shown: str) -> None:
    assert terminal_safe(f"a{char}b") == f"a{shown}b"
    assert char not in one_line(f"a{char}b", 80)


@pytest.mark.parametrize(("char", "_shown"), CASES, ids=[f"U+{ord(c):04X}" for c, _ in CASES])
def test_json_on_a_terminal_escapes_each_class_and_keeps_the_value(char: str, _shown: str) -> None:
    value = {"content": f"x{char}y", "nested": [char * 3]}
    serialized = json.dumps(value, ensure_ascii=False)
    safe = json_safe(serialized)
    assert char not in safe
    assert json.loads(safe) == value  # the same JSON value for anything that parses it


def test_every_character_of_each_class_is_replaced() -> None:
    classes = [
        *(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\n\t\r"),
        *BIDI, *ZERO_WIDTH, *TAGS,
    ]
    out = terminal_safe("".join(classes))
    assert not any(ch in out for ch in classes)
    escaped = json_safe(json.dumps("".join(classes), ensure_ascii=False))
    assert not any(ch in escaped for ch in classes)
    assert json.loads(escaped) == "".join(classes)


def test_tag_characters_escape_as_a_surrogate_pair_in_json() -> None:
    assert json_safe(json.dumps("\U000e0041", ensure_ascii=False)) == '"\\udb40\\udc41"'
    assert json_safe(json.dumps("\x9b", ensure_ascii=False)) == '"\\u009b"'


def test_ordinary_text_emoji_and_scripts_are_kept() -> None:
    text = "héllo 世界 🎉 ❤️ مرحبا שלום\n\tcode `x`"  # U+FE0F (emoji presentation) is kept
    assert terminal_safe(text) == text
    assert json_safe(json.dumps(text, ensure_ascii=False)) == json.dumps(text, ensure_ascii=False)


def test_any_split_of_a_stream_gives_the_same_result() -> None:
    text = "x\x1b]52;c;y\x07z\u202e\u200b\U000e0041w\x9b"
    for i in range(len(text) + 1):
        assert terminal_safe(text[:i]) + terminal_safe(text[i:]) == terminal_safe(text)


def test_one_line_folds_newlines_and_cuts() -> None:
    assert one_line("a\n\n  b\tc\r\n", 80) == "a b c"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"
    assert one_line("a\u2028b", 80) == "a b"  # a line separator does not start a new line


def test_note_is_one_safe_line_on_any_stream() -> None:
    for out in (io.StringIO(), Tty()):
        note("error: <html>\n<body>\x1b]52;c;ZXZpbA==\x07\n" + "y" * 1000, file=out)
        text = out.getvalue()
        assert text.startswith("llmchat: error: <html> <body>") and text.endswith("…\n")
        assert text.count("\n") == 1 and "\x1b" not in text and "\x07" not in text


def test_safe_lines_keeps_lines_but_caps_them() -> None:
    out = safe_lines("one\x1b[2J\n" + "two " * 200 + "\n" * 30, width=50, max_lines=5)
    lines = out.split("\n")
    assert lines[0] == "one\u241b[2J" and len(lines) == 5 and lines[-1] == "…"
    assert all(len(line) <= 50 for line in lines)


def test_json_text_escapes_only_on_a_terminal() -> None:
    value = ["m\x9bodel\u202e"]
    assert json_text(value, io.StringIO()) == json.dumps(value, ensure_ascii=False)
    shown = json_text(value, Tty())
    assert shown == '["m\\u009bodel\\u202e"]' and json.loads(shown) == value


def test_the_ascii_and_the_non_ascii_paths_agree() -> None:
    # ASCII text goes through str.translate, anything else through a regex: same result.
    every = "".join([*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0)), *sorted(BIDI),
                     *sorted(ZERO_WIDTH), *sorted(TAGS)])
    text = ("plain ascii\x1b[2J\r\n" + every + " 世界 🎉 ") * 3
    assert terminal_safe(text) == "".join(map(spec, text))
    ascii_only = text.encode("ascii", "ignore").decode()
    assert terminal_safe(ascii_only) == "".join(map(spec, ascii_only))


def spec(ch: str) -> str:
    """What the module docstring promises for one character, written out independently."""
    code = ord(ch)
    if ch in "\t\n":
        return ch
    if ch == "\r":
        return ""
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0x80 <= code < 0xA0 or ch in BIDI or ch in ZERO_WIDTH or ch in TAGS:
        return f"<U+{code:04X}>"
    return ch


def test_one_line_of_a_huge_text_costs_what_can_be_shown() -> None:
    huge = "é " * 5_000_000 + "\x1b"
    line = one_line(huge, 50)
    assert len(line) == 50 and line.endswith("…") and "\x1b" not in line
    assert one_line(" " * 100_000 + "x", 20) == "…"  # cut inside the blanks: still says it was cut


def test_no_stderr_line_bypasses_the_choke_point() -> None:
    """Every line for stderr goes through llmchat.safety.note (or one_line): a print or write
    to stderr elsewhere may only carry fixed text, so a new message cannot forget it."""
    import ast
    from pathlib import Path

    import llmchat

    def is_stderr(node: ast.AST) -> bool:
        text = ast.unparse(node)
        return text in ("sys.stderr", "stderr", "err") or text.endswith(".stderr")

    def fixed(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) or (
            isinstance(node, ast.Call) and ast.unparse(node.func) in ("one_line", "safety.one_line"))

    offenders = []
    root = Path(llmchat.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if path.name == "safety.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            args: list[ast.AST] = []
            if ast.unparse(node.func) == "print" and any(
                    k.arg == "file" and is_stderr(k.value) for k in node.keywords):
                args = list(node.args)
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "write" and is_stderr(node.func.value):
                args = [a.left if isinstance(a, ast.BinOp) else a for a in node.args]
            if any(not fixed(a) for a in args):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:100]}")
    assert offenders == [], "use llmchat.safety.note for stderr lines:\n" + "\n".join(offenders)
