"""In a web browser (``llmchat serve``) the footer shows keys that reach the page: Alt+N,
Alt+O, Alt+P instead of Ctrl+N (which browsers keep), Ctrl+O and Ctrl+P; the Ctrl keys
still work where a browser passes them on. In a terminal nothing changes.

The browser itself is exercised in tests/test_serve.py (headless Chromium); here the app is
told it runs in one (``browser=True``), as Textual's ``is_web`` says under textual-serve."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual import constants, events
from textual._xterm_parser import XTermParser
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Footer

from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.app import BROWSER_KEYMAP, LlmChatApp
from llmchat.tui.screens.history import HistoryScreen
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until


def app(tmp_path: Path, browser: bool | None) -> LlmChatApp:
    return LlmChatApp(fake_settings(), provider=FakeProvider([ContentDelta("hi"), Finish("stop")]), theme_dirs=THEME_DIRS,
                      history=tmp_path / "history.db", ui_state=tmp_path / "ui.json", browser=browser)


def footer_keys(the_app: LlmChatApp) -> dict[str, str]:
    """Footer description -> key shown."""
    footer = the_app.screen.query_one(Footer)
    return {key.description: key.key_display for key in footer.query("FooterKey")}


@pytest.mark.parametrize("browser", [True, False])
async def test_footer_shows_keys_that_reach_the_page(tmp_path: Path, browser: bool) -> None:
    async with app(tmp_path, browser).run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "New chat" in footer_keys(pilot.app))
        shown = footer_keys(pilot.app)
        if browser:
            assert (shown["New chat"], shown["History"], shown["palette"]) == ("alt+n", "alt+o", "alt+p")
        else:
            assert (shown["New chat"], shown["History"], shown["palette"]) == ("^n", "^o", "^p")
        assert shown["Sidebar"] == "^b" and shown["Quit"] == "^q"


def as_from_terminal(sequence: str) -> list[events.Key]:
    """The key events Textual's terminal parser makes of `sequence` (what xterm.js sends for
    Alt+O is ESC o: a printable "alt+o" key whose character is "o")."""
    parser = XTermParser()
    keys = [e for e in parser.feed(sequence) if isinstance(e, events.Key)]
    time.sleep(constants.ESCAPE_DELAY + 0.05)  # a lone ESC sequence ends on this delay
    return keys + [e for e in parser.tick() if isinstance(e, events.Key)]


async def press_as_terminal(pilot: Pilot, sequence: str) -> None:
    for key in as_from_terminal(sequence):
        pilot.app.post_message(key)
    await pilot.pause()


def test_alt_letter_from_a_terminal_is_a_printable_key() -> None:
    (key,) = as_from_terminal("\x1bo")
    assert (key.key, key.character, key.is_printable) == ("alt+o", "o", True)


async def test_alt_keys_act_in_a_browser_and_ctrl_keys_still_work(tmp_path: Path) -> None:
    async with app(tmp_path, True).run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        prompt = screen.query_one(PromptInput)
        assert pilot.app.focused is prompt
        for sequence in ("\x1bo", "\x0f"):  # Alt+O, Ctrl+O
            await press_as_terminal(pilot, sequence)
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
            await pilot.press("escape")
            await wait_until(pilot, lambda: pilot.app.screen is screen)
        for sequence in ("\x1bp", "\x10"):  # Alt+P, Ctrl+P
            await press_as_terminal(pilot, sequence)
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
            await pilot.press("escape")
            await wait_until(pilot, lambda: pilot.app.screen is screen)
        assert prompt.text == "", "a shortcut typed its letter into the prompt"
        await send(pilot, "hello")
        await wait_until(pilot, lambda: screen.conversation.messages)
        await press_as_terminal(pilot, "\x1bn")  # Alt+N
        await wait_until(pilot, lambda: not chat_screen(pilot).conversation.messages)
        assert chat_screen(pilot).query_one(PromptInput).text == ""


async def test_alt_letter_never_types_its_letter_in_the_prompt(tmp_path: Path) -> None:
    async with app(tmp_path, None).run_test(size=SIZE) as pilot:  # a terminal: no Alt shortcuts
        prompt = chat_screen(pilot).query_one(PromptInput)
        await press_as_terminal(pilot, "a\x1bxb")
        await wait_until(pilot, lambda: prompt.text == "ab")


async def test_alt_keys_do_nothing_special_in_a_terminal(tmp_path: Path) -> None:
    async with app(tmp_path, None).run_test(size=SIZE) as pilot:  # the headless driver: not web
        prompt = chat_screen(pilot).query_one(PromptInput)
        # A letter after them, and wait for it: the keys before it have been handled too.
        await press_as_terminal(pilot, "\x1bo\x1bpz")
        await wait_until(pilot, lambda: prompt.text.endswith("z"))
        assert not isinstance(pilot.app.screen, (HistoryScreen, CommandPalette))
    assert set(BROWSER_KEYMAP) == {"chat.new", "chat.history", "app.palette"}
