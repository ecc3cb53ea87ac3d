"""Make model text safe to show on a terminal.

Model output is untrusted: an ESC byte could start a CSI, OSC (clipboard write, hyperlink,
window title) or DCS sequence, and bidi overrides can make text read differently from what it
is. :func:`terminal_safe` replaces every C0 control except newline and tab, DEL, every C1
control and the bidi override/isolate characters with a visible stand-in, character for
character, so it works on any split of a stream. Piped output never goes through here: it
stays byte-exact.
"""

from __future__ import annotations

_TABLE: dict[int, str] = {}
for _code in [*range(0x00, 0x20), 0x7F]:
    if _code == 0x0D:
        _TABLE[_code] = ""  # a bare CR could overwrite the line already shown: drop it
    elif _code not in (0x09, 0x0A):
        # Unicode "Control Pictures" block: U+2400 + code (DEL is U+2421).
        _TABLE[_code] = chr(0x2421) if _code == 0x7F else chr(0x2400 + _code)
for _code in range(0x80, 0xA0):
    _TABLE[_code] = f"<U+{_code:04X}>"
for _code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]:
    _TABLE[_code] = f"<U+{_code:04X}>"


def one_line(text: str, width: int) -> str:
    """`text` made safe, its whitespace folded to single spaces, cut to `width` with "…"."""
    line = " ".join(terminal_safe(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def terminal_safe(text: str) -> str:
    """Return `text` with terminal controls and bidi overrides shown as visible stand-ins.

    ESC becomes "␛", other C0 controls their Control Picture (e.g. BEL -> "␇"), C1 controls
    and bidi controls ``<U+XXXX>``. Newline and tab are kept; carriage returns are dropped.
    """
    return text.translate(_TABLE)
