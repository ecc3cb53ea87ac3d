"""LaTeX math shown as Unicode (issue 17): in the session's Markdown and in `ask` on a
terminal; code is left alone, dollar amounts are not math, and piped output stays exact."""

from __future__ import annotations

import pytest

from llmchat.math_text import render_math
from tests.loopback import LoopbackServer, Reply, completion
from tests.test_cli import ask


@pytest.mark.parametrize(("source", "shown"), [
    (r"Energy: $E = mc^2$.", "Energy: E = mc².", ),
    (r"$\alpha_{ij} \leq \frac{a}{b}$", "αᵢⱼ ≤a/b"),
    (r"\(\sum_{i=1}^n i\) and \[x_1 + x_2\]", "∑ᵢ₌₁ⁿ i and x₁ + x₂"),
    ("$$\n\\sqrt{\\pi}\n$$\nafter", "√(π)\n\n\nafter"),  # as many lines as the source
    ("It costs $5 and $10 today.", "It costs $5 and $10 today."),
    ("code `$x^2$` stays", "code `$x^2$` stays"),
    ("```\n$a^2$\n```\nafter $b^2$", "```\n$a^2$\n```\nafter b²"),
    (r"$x_i * y_j$", r"xᵢ \* yⱼ"),  # Markdown characters of the result are escaped
    ("no math here", "no math here"),
])
def test_render_math(source: str, shown: str) -> None:
    assert render_math(source) == shown


def test_piped_ask_output_is_exact(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["The area is $\\pi r^2$."])])
    result = ask(server, "area?")
    assert result.returncode == 0 and result.stdout == b"The area is $\\pi r^2$."
