"""Copying: a selected message copies itself (c) or its code block N (digit N); /copy N."""

from __future__ import annotations

from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.widgets.message_view import (
    CodeBlock,
    MessageView,
    code_blocks,
    copy_hint,
)
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    chat_screen,
    message_views,
    send,
    wait_until,
)

ANSWER = """Here you go:

```python
def f(x):
    return x * 2
```

- then run

  ```bash
  python f.py
  ```

> ~~~
> quoted
> ~~~
"""


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def ask(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    screen = chat_screen(pilot)
    before = len(screen.conversation.messages)
    await send(pilot, text)
    await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) >= before + 2)
    await pilot.pause()


def test_code_blocks_are_found_in_order_also_inside_lists_and_quotes() -> None:
    assert code_blocks(ANSWER) == (
        CodeBlock("python", "def f(x):\n    return x * 2"),
        CodeBlock("bash", "python f.py"),
        CodeBlock("", "quoted"),
    )
    assert code_blocks("No code here, only `inline` code.") == ()
    assert code_blocks("text\n\n    indented code\n") == (CodeBlock("", "indented code"),)
    assert CodeBlock("python", "a\nb").describe() == "python, 2 lines"
    assert CodeBlock("", "a").describe() == "1 line"


def test_the_hint_names_the_keys() -> None:
    assert copy_hint(code_blocks(ANSWER)).startswith("c copy · 1 python · 2 bash · 3 code")
    assert copy_hint(()).startswith("c copy · ↑↓")
    many = tuple(CodeBlock("py", str(n)) for n in range(12))
    assert "1–9 copy code block (12 blocks)" in copy_hint(many)


async def test_shift_tab_selects_the_last_message_and_keys_copy_it_or_its_blocks(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer(ANSWER))) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await ask(pilot, "give me code")
        await pilot.press("shift+tab")
        views = message_views(pilot)
        assert screen.focused is views[1]
        assert str(views[1].hint.content).startswith("c copy · 1 python · 2 bash · 3 code")
        assert views[1].hint.display  # shown while selected

        await pilot.press("c")
        assert app.clipboard == ANSWER
        await pilot.press("2")
        assert app.clipboard == "python f.py"
        assert any("code block 2 (bash, 1 line)" in n for n in notes(app))
        await pilot.press("1")
        assert app.clipboard == "def f(x):\n    return x * 2"
        await pilot.press("5")
        assert app.clipboard == "def f(x):\n    return x * 2"  # unchanged
        assert any("no code block 5" in n and "3 code blocks" in n for n in notes(app))

        await pilot.press("up")  # the user's message
        assert screen.focused is views[0]
        await pilot.press("y")
        assert app.clipboard == "give me code"
        await pilot.press("up")  # nothing above: stays
        assert screen.focused is views[0]
        await pilot.press("down")
        assert screen.focused is views[1]
        await pilot.press("escape")
        assert isinstance(screen.focused, PromptInput)
        assert not views[1].hint.display


async def test_a_click_selects_a_message(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("short answer"))) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await ask(pilot, "hi")
        user = message_views(pilot)[0]
        await pilot.click(user)
        assert screen.focused is user
        await pilot.press("c")
        assert app.clipboard == "hi"


async def test_copied_text_carries_no_terminal_escape(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("red: \x1b[31mX\x1b]52;c;evil\x07\n\n```\n\x1b[2Jcode\n```"))) as chat:
        app, pilot = chat.app, chat.pilot
        await ask(pilot, "colour")
        await pilot.press("shift+tab")
        await pilot.press("c")
        assert "\x1b" not in app.clipboard and "\x07" not in app.clipboard
        assert "␛[31mX" in app.clipboard
        await pilot.press("1")
        assert app.clipboard == "␛[2Jcode"
        await send(pilot, "/copy")
        assert "\x1b" not in app.clipboard


async def test_slash_copy_n_copies_a_block_of_the_last_answer(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer(ANSWER))) as chat:
        app, pilot = chat.app, chat.pilot
        await ask(pilot, "code")
        await send(pilot, "/copy 2")
        assert app.clipboard == "python f.py"
        await send(pilot, "/copy code 1")
        assert app.clipboard == "def f(x):\n    return x * 2"
        await send(pilot, "/copy")
        assert app.clipboard == ANSWER
        await send(pilot, "/copy seven")
        assert any(n.startswith("Usage: /copy") for n in notes(app))
        assert app.clipboard == ANSWER


async def test_a_message_still_streaming_can_be_selected_and_copied(open_chat: OpenChat) -> None:
    import asyncio

    gate = asyncio.Event()
    async with open_chat(FakeProvider([ContentDelta("partial "), gate, ContentDelta("rest"), Finish("stop", "stop")])) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "go")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.content == "partial ")
        view = message_views(pilot)[1]
        assert isinstance(view, MessageView)
        await pilot.press("shift+tab")
        assert screen.focused is view
        await pilot.press("c")
        assert app.clipboard == "partial "
        gate.set()
        await app.workers.wait_for_complete()
