"""A realistic, varied Markdown reply for the rendering benchmarks, cut into word-ish tokens.

Headings, paragraphs with inline styles, bullet lists (tight, loose and nested), numbered lists,
tables, fenced code (with blank lines inside) and block quotes, in a seeded random order.
"""

from __future__ import annotations

import random
import re

WORDS = """
the a stream token reply model render widget frame buffer parser block list table code quote latency
throughput terminal layout markdown server client socket event loop async worker cancel escape user
prompt answer history context window budget value result function method class module package import
return yield await error retry timeout
""".split()  # noqa: SIM905 (a word list reads better as text)

_TOKEN = re.compile(r"\s*\S+|\s+")


def _words(rnd: random.Random, lo: int, hi: int) -> str:
    out = []
    for _ in range(rnd.randint(lo, hi)):
        word = rnd.choice(WORDS)
        roll = rnd.random()
        if roll < 0.04:
            word = f"**{word}**"
        elif roll < 0.07:
            word = f"*{word}*"
        elif roll < 0.10:
            word = f"`{word}()`"
        elif roll < 0.11:
            word = f"[{word}](https://example.com/{word})"
        out.append(word)
    return " ".join(out)


def _sentence(rnd: random.Random) -> str:
    text = _words(rnd, 6, 16)
    return text[0].upper() + text[1:] + "."


def _paragraph(rnd: random.Random) -> str:
    return " ".join(_sentence(rnd) for _ in range(rnd.randint(2, 5))) + "\n"


def _bullets(rnd: random.Random) -> str:
    loose = rnd.random() < 0.3
    lines = []
    for _ in range(rnd.randint(2, 6)):
        lines.append(f"- {_words(rnd, 3, 12)}")
        if rnd.random() < 0.3:
            lines += [f"  - {_words(rnd, 2, 8)}" for _ in range(rnd.randint(1, 3))]
        if loose:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _numbered(rnd: random.Random) -> str:
    loose = rnd.random() < 0.3
    lines = []
    for n in range(1, rnd.randint(3, 7)):
        lines.append(f"{n}. {_words(rnd, 3, 14)}")
        if loose:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(rnd: random.Random) -> str:
    cols = rnd.randint(2, 5)
    head = [rnd.choice(WORDS).title() for _ in range(cols)]
    rows = [
        [
            rnd.choice([_words(rnd, 1, 3), str(rnd.randint(0, 9999)), f"`{rnd.choice(WORDS)}`"])
            for _ in range(cols)
        ]
        for _ in range(rnd.randint(2, 8))
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _code(rnd: random.Random) -> str:
    lang = rnd.choice(["python", "javascript", "bash", ""])
    body = []
    for _ in range(rnd.randint(3, 14)):
        if rnd.random() < 0.15:
            body.append("")
        else:
            indent = "    " * rnd.randint(0, 2)
            a, b = rnd.choice(WORDS), rnd.choice(WORDS)
            body.append(f"{indent}{a}_{b} = {rnd.choice(WORDS)}({rnd.randint(0, 99)}, '{b}')")
    return f"```{lang}\n" + "\n".join(body) + "\n```\n"


def _quote(rnd: random.Random) -> str:
    return "\n".join(f"> {_sentence(rnd)}" for _ in range(rnd.randint(1, 3))) + "\n"


def markdown_reply(tokens: int, seed: int = 2024) -> list[str]:
    """A Markdown reply of exactly `tokens` word-ish tokens (the last structure may be cut)."""
    rnd = random.Random(seed)
    parts: list[str] = []
    count = 0
    section = 0
    while count < tokens:
        section += 1
        level = "#" if section == 1 else rnd.choice(["##", "##", "###"])
        chunk = [f"{level} {_words(rnd, 2, 6).replace('*', '').replace('`', '')}\n"]
        for _ in range(rnd.randint(2, 5)):
            kind = rnd.choices(
                [_paragraph, _bullets, _numbered, _table, _code, _quote],
                weights=[5, 2, 1.5, 1, 1.5, 1],
            )[0]
            chunk.append(kind(rnd))
        text = "\n".join(chunk) + "\n"
        parts.append(text)
        count += len(_TOKEN.findall(text))
    return _TOKEN.findall("".join(parts))[:tokens]
