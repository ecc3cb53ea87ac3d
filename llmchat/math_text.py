"""LaTeX math in Markdown shown as Unicode: ``$\\alpha^2 \\leq \\frac{a}{b}$`` -> ``α² ≤ a/b``.

Replies full of LaTeX (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) are unreadable as
source in a terminal. :func:`render_math` rewrites the math spans of a Markdown text with
pylatexenc's ``LatexNodes2Text`` (a well-kept LaTeX-to-text converter: Greek letters,
operators, ``\\frac``, ``\\sqrt``...), after turning simple super- and subscripts into their
Unicode characters. Code (fenced blocks and inline code spans) is never touched, and a lone
dollar amount (``$5 and $10``) is not math (pandoc's rule: no space inside the dollars, and
no digit right after the closing one).

Used for display only: the session's rendered Markdown and ``ask`` on a terminal. Piped
output, copies, exports and the history keep the model's text exactly. pylatexenc is the
a dependency imported on first use; without it (a trimmed install) the text is unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)
_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\\((?P<paren>.+?)\\\)"
    r"|(?<![\\$\w])\$(?P<d>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?![\d$])",
    re.DOTALL,
)
_SUPER = dict(zip("0123456789+-=()niaeox", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵃᵉᵒˣ"))
_SUB = dict(zip("0123456789+-=()aeoxijnkmt", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓᵢⱼₙₖₘₜ"))
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}]*)\}|([A-Za-z0-9+\-=]))")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
MARKERS = ("$", "\\(", "\\[")
"""Text without any of these has no math (a quick test before any work)."""


@lru_cache(maxsize=1)
def _converter() -> Any | None:
    try:
        from pylatexenc.latex2text import LatexNodes2Text
    except ImportError:  # the optional extra is not installed: math stays as it is
        return None
    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def available() -> bool:
    """True when pylatexenc is installed (a dependency of llmchat)."""
    return _converter() is not None


def _scripts(latex: str) -> str:
    """``x^2``, ``a_{ij}`` -> ``x²``, ``aᵢⱼ`` where every character has a Unicode form."""

    def one(match: re.Match[str]) -> str:
        table = _SUPER if match.group(1) == "^" else _SUB
        body = match.group(2) if match.group(2) is not None else match.group(3)
        if body and all(c in table for c in body):
            return "{}" + "".join(table[c] for c in body)  # {}: ends a macro name before it
        return match.group(0)

    return _SCRIPT.sub(one, latex)


def latex_to_unicode(latex: str) -> str:
    """One math expression (without its delimiters) as Unicode text; `latex` itself when
    pylatexenc is missing or cannot read it."""
    converter = _converter()
    if converter is None:
        return latex
    try:
        text = converter.latex_to_text(_scripts(latex))
    except Exception:  # noqa: BLE001 - a parser error on model text: show the source
        return latex
    return " ".join(text.split())


def _prose(text: str) -> str:
    """Math spans of prose (no code in it) rewritten, the result escaped for Markdown."""

    def one(match: re.Match[str]) -> str:
        block = match.group("dd") if match.group("dd") is not None else match.group("bracket")
        latex = block if block is not None else match.group("paren") or match.group("d")
        shown = _MARKDOWN_SPECIAL.sub(r"\\\1", latex_to_unicode(latex))
        # As many lines as the source: the session maps rendered blocks to source lines.
        return shown + "\n" * match.group(0).count("\n")

    return _MATH.sub(one, text)


def render_math(markdown: str) -> str:
    """`markdown` with its LaTeX math shown as Unicode (see the module's doc); unchanged when
    it has no math, or when pylatexenc is not installed."""
    if not any(marker in markdown for marker in MARKERS) or _converter() is None:
        return markdown
    out: list[str] = []
    prose: list[str] = []
    fence = ""
    for line in markdown.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence:
            out.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip().lstrip(fence[0]):
                fence = ""
            continue
        if opening:
            out.append(_spans("".join(prose)))
            prose = []
            fence = opening.group(1)
            out.append(line)
            continue
        prose.append(line)
    out.append(_spans("".join(prose)))
    return "".join(out)


def _spans(text: str) -> str:
    """Prose with inline code spans kept as they are."""
    pieces, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        pieces += [_prose(text[last:match.start()]), match.group(0)]
        last = match.end()
    pieces.append(_prose(text[last:]))
    return "".join(pieces)
