"""NO_COLOR (https://no-color.org/): `ask` on a terminal and the session drop colours."""

from __future__ import annotations

import io
import re

import pytest

from llmchat.providers.events import ContentDelta
from llmchat.render import TerminalSink

ANSWER = "# Title\n\nSome **bold** text.\n\n```python\ndef f(x):\n    return x + 1\n```\n\nDone.\n"
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m|\x1b\[[0-9;]*[34]8;")


def render(monkeypatch: pytest.MonkeyPatch, no_color: bool) -> str:
    monkeypatch.setenv("FORCE_COLOR", "1")  # a StringIO is no terminal: render as if it were
    monkeypatch.setenv("COLUMNS", "80")
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    sink = TerminalSink(out)
    sink.event(ContentDelta(ANSWER))
    sink.close()
    return out.getvalue()


def test_ask_on_a_terminal_uses_colour_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert COLOUR.search(render(monkeypatch, no_color=False))


def test_no_color_drops_every_colour_but_keeps_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    out = render(monkeypatch, no_color=True)
    assert not COLOUR.search(out), out.encode()
    assert "Title" in out and "return x + 1" in out and "Done." in out


@pytest.mark.timeout(180)
async def test_the_session_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.filter import Monochrome, NoColor

    from tests.tui.helpers import make_app

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test():
        assert app.no_color
        assert any(isinstance(f, (Monochrome, NoColor)) for f in app._filters)
