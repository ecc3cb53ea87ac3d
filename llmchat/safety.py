"""The one choke point for text meant for a terminal.

Text from a server (model output, error bodies, model ids, conversation titles) is untrusted:
an ESC byte could start a CSI, OSC (clipboard write, hyperlink, window title) or DCS sequence,
bidi overrides can make text read differently from what it is, and zero-width and Unicode tag
characters hide text the reader cannot see. Every line llmchat shows goes through here:

- :func:`terminal_safe`: replaces every C0 control except newline and tab, DEL, every C1
  control, the bidi controls, zero-width characters, tag characters (U+E0000-U+E007F) and the
  supplementary variation selectors with a visible stand-in, character for character, so it
  works on any split of a stream;
- :func:`one_line`: the same, folded to one line of a given width;
- :func:`note`: the writer of every ``llmchat: ...`` line on stderr (errors, warnings,
  retries, tool notes): always one safe line, whether stderr is a terminal or a log file;
- :func:`for_stream`: text for a stdout that may be a terminal (made safe) or a pipe (exact);
- :func:`json_safe` / :func:`json_text`: JSON for a terminal, the same characters written as
  ``\\uXXXX`` escapes (still the same JSON value for any parser).

Piped model output never goes through here: it stays byte-exact. The front-ends (``ask``, the
CLI commands, the TUI's ``notify`` and widgets) call these; providers and the store do not.
"""

from __future__ import annotations

import json
import re
import sys
from typing import IO, Any

C0_KEPT = frozenset("\t\n")
"""C0 controls kept as they are (a carriage return is dropped, the others get a stand-in)."""

BIDI = frozenset(chr(c) for c in [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
"""Bidi marks, embeddings, overrides and isolates (Unicode UAX #9)."""

ZERO_WIDTH = frozenset(chr(c) for c in [
    0x00AD,  # soft hyphen
    0x034F,  # combining grapheme joiner
    0x180E,  # Mongolian vowel separator
    0x200B, 0x200C, 0x200D,  # zero-width space, non-joiner, joiner
    *range(0x2060, 0x2065),  # word joiner, invisible function application/times/separator/plus
    *range(0x206A, 0x2070),  # deprecated format controls
    0xFEFF,  # zero-width no-break space (BOM)
    *range(0xFFF9, 0xFFFC),  # interlinear annotation controls
    *range(0x1D173, 0x1D17B),  # musical symbol formatting controls
])
"""Characters that take no space on screen (Unicode format characters, category Cf, and the
other invisible joiners). Emoji joined with U+200D show as their parts."""

TAGS = frozenset(chr(c) for c in range(0xE0000, 0xE0080))
"""Unicode tag characters: invisible copies of ASCII ("ASCII smuggling")."""

VARIATION_SELECTORS_SUPPLEMENT = frozenset(chr(c) for c in range(0xE0100, 0xE01F0))
"""Variation selectors 17-256: invisible, and able to carry hidden bytes after any character.
(Selectors 1-16, U+FE00-U+FE0F, are kept: emoji need U+FE0F.)"""

_TABLE: dict[int, str] = {}
for _code in [*range(0x00, 0x20), 0x7F]:
    if _code == 0x0D:
        _TABLE[_code] = ""  # a bare CR could overwrite the line already shown: drop it
    elif chr(_code) not in C0_KEPT:
        # Unicode "Control Pictures" block: U+2400 + code (DEL is U+2421).
        _TABLE[_code] = chr(0x2421) if _code == 0x7F else chr(0x2400 + _code)
for _char in [*map(chr, range(0x80, 0xA0)), *BIDI, *ZERO_WIDTH, *TAGS, *VARIATION_SELECTORS_SUPPLEMENT]:
    _TABLE[ord(_char)] = f"<U+{ord(_char):04X}>"



def char_class(codes: list[int]) -> str:
    """A regex character class (``"[...]"``) matching exactly the code points `codes` (sorted
    ascending, at least one), runs of consecutive ones written as ranges, every character
    escaped (``re.escape``), so ``]``, ``\\``, ``^`` and ``-`` are members like any other."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in runs
    ) + "]"


_UNSAFE = re.compile(char_class(sorted(_TABLE)))
"""Every character :func:`terminal_safe` replaces (a regex finds the few in non-ASCII text
some 15 times faster than ``str.translate`` walks all of it)."""
_JSON_UNSAFE = re.compile(char_class([code for code in sorted(_TABLE) if code >= 0x7F]))
"""What :func:`json_safe` escapes: everything :func:`terminal_safe` replaces that JSON itself
leaves raw (JSON escapes C0 controls already)."""

NOTE_WIDTH = 400
"""Most characters of one stderr note (:func:`note`), prefix included."""


def terminal_safe(text: str) -> str:
    """Return `text` with terminal controls and invisible characters shown as stand-ins.

    ESC becomes "␛", other C0 controls their Control Picture (e.g. BEL -> "␇"), C1 controls,
    bidi controls, zero-width characters, tag characters and supplementary variation
    selectors ``<U+XXXX>``. Newline and tab are kept; carriage returns are dropped. Works
    character by character: ``safe(a + b) == safe(a) + safe(b)``.
    """
    if text.isascii():  # str.translate is fastest on ASCII, a regex on anything else
        return text.translate(_TABLE)
    return _UNSAFE.sub(_stand_in, text)


def one_line(text: str, width: int) -> str:
    """`text` made safe, its whitespace folded to single spaces, cut to `width` with "…"."""
    limit = 8 * width + 1024  # a huge text costs no more than what can be shown of it
    cut = len(text) > limit
    line = " ".join(terminal_safe(text[:limit] if cut else text).split())
    if len(line) > width or (cut and len(line) == width):
        return line[: max(width - 1, 0)] + "…"
    return line + "…" if cut else line


def safe_lines(text: str, width: int = 300, max_lines: int = 12) -> str:
    """`text` made safe for a notification: each line folded by :func:`one_line` to `width`,
    at most `max_lines` lines (a last "…" line says more were cut)."""
    lines = [one_line(line, width) for line in text.split("\n")]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], "…"]
    return "\n".join(lines)


def note(message: str, *, file: IO[str] | None = None, width: int = NOTE_WIDTH) -> None:
    """Write ``llmchat: MESSAGE`` to stderr (or `file`) as one safe line, and flush.

    Every status, warning and error line of the command line goes through here, so none
    can carry a terminal escape or spread over several lines, whatever a server sent.
    """
    out = file if file is not None else sys.stderr
    out.write(one_line(f"llmchat: {message}", width) + "\n")
    out.flush()


def for_stream(text: str, out: IO[str]) -> str:
    """`text` as it should be written to `out`: made safe when `out` is a terminal, exact
    otherwise (a pipe or a file gets the stored text unchanged)."""
    return terminal_safe(text) if is_terminal(out) else text


def json_safe(serialized: str) -> str:
    r"""Serialized JSON with DEL, C1 controls, bidi controls, zero-width and tag characters
    written as ``\uXXXX`` escapes (a surrogate pair above U+FFFF, RFC 8259 section 7).

    The value a parser reads is the same; only the bytes on a terminal differ. Outside
    strings serialized JSON is ASCII, so escaping in place is always valid.
    """
    if serialized.isascii() and "\x7f" not in serialized:
        return serialized
    return _JSON_UNSAFE.sub(_json_escape, serialized)


def json_text(obj: Any, out: IO[str], *, indent: int | None = None) -> str:
    """`obj` serialized (UTF-8, not ASCII-escaped) for `out`: :func:`json_safe` when `out`
    is a terminal, plain ``json.dumps`` otherwise."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return json_safe(text) if is_terminal(out) else text


def _stand_in(match: re.Match[str]) -> str:
    return _TABLE[ord(match.group())]


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def is_terminal(out: IO[str]) -> bool:
    """True when `out` is a terminal (False for pipes, files, closed streams and streams
    without ``isatty``)."""
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
