"""Keys and commands (issue 17): Ctrl+D in the history's search box, Enter on an unambiguous
slash-command prefix, Ctrl+E as end-of-line (the editor moved to Ctrl+G), the palette's "Keys"
(the app's own table; Escape closes it), rebinding in the config's [keys], and the README's
key table generated from the bindings."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from llmchat.chat.models import Message
from llmchat.config import load_settings
from llmchat.errors import ConfigError
from llmchat.providers.events import ContentDelta, Finish
from llmchat.store import Store
from llmchat.tui.app import session_bindings
from llmchat.tui.key_table import markdown_table, replace_table
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.help import HelpScreen
from llmchat.tui.screens.history import ConfirmScreen, HistoryScreen
from llmchat.tui.screens.keys import KeysScreen
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, type_text, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def test_ctrl_d_deletes_while_the_search_box_has_the_focus(tmp_path: Path) -> None:
    from llmchat.tui.app import LlmChatApp

    db = tmp_path / "history.db"
    with Store(db) as store:
        conversation = store.create_conversation("fake", "m", None)
        store.add_message(conversation, Message("user", "about pelicans"))
    app = LlmChatApp(fake_settings(), provider=FakeProvider(), theme_dirs=THEME_DIRS, history=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert isinstance(app.screen.focused, Input)  # the search box, focused on open
        await wait_until(pilot, lambda: app.screen.query_one("#history-list").option_count == 1)
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
    with Store(db) as store:
        assert store.list_conversations(10) == []


async def test_enter_on_an_unambiguous_prefix_runs_the_command(open_chat: OpenChat) -> None:
    async with open_chat() as chat:
        pilot = chat.pilot
        await pilot.press("/", "h", "e", "right", "enter")  # Right then Enter at once
        await wait_until(pilot, lambda: isinstance(chat.app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(chat.app.screen, HelpScreen))
        await pilot.press("/", "h", "e", "l", "enter")
        await wait_until(pilot, lambda: isinstance(chat.app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(chat.app.screen, HelpScreen))
        await pilot.press("/", "e", "enter")  # /edit or /export: not guessed
        await wait_until(pilot, lambda: any("Unknown command /e." in n for n in notes(chat.app)))
        assert chat.provider.requests == []


async def test_ctrl_e_moves_to_the_end_of_the_line(open_chat: OpenChat) -> None:
    async with open_chat() as chat:
        pilot = chat.pilot
        await type_text(pilot, "hello world")
        prompt = chat.screen.query_one(PromptInput)
        await pilot.press("ctrl+a")
        assert prompt.cursor_location == (0, 0)
        await pilot.press("ctrl+e")
        assert prompt.cursor_location == (0, len("hello world"))
        assert prompt.text == "hello world"


async def test_the_palettes_keys_shows_the_apps_table_and_escape_closes_it(open_chat: OpenChat) -> None:
    async with open_chat() as chat:
        app, pilot = chat.app, chat.pilot
        await pilot.press("ctrl+p")
        await type_text(pilot, "Keys")
        palette = app.screen

        def first_hit() -> str:  # the palette searches as the letters arrive: wait for the hit
            hits = palette.query("CommandList")
            if not hits or not hits.first().option_count:
                return ""
            prompt = hits.first().get_option_at_index(0).prompt
            return str(getattr(prompt, "plain", prompt)).lower()

        await wait_until(pilot, lambda: first_hit().startswith("keys"))
        assert "config's [keys]" in first_hit()  # the help is markup: "[keys]" must be escaped
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen))
        table = app.screen.query_one("#keys-table")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["Ctrl+G", "prompt", "edit the prompt in $VISUAL / $EDITOR", "prompt.editor"] in rows
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))


async def test_keys_are_rebound_from_the_config(open_chat: OpenChat, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[keys]\n"chat.new" = "ctrl+t"\n"prompt.editor" = "f2"\n')
    settings = load_settings(config, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert settings.keymap == {"chat.new": "ctrl+t", "prompt.editor": "f2"}
    async with open_chat(FakeProvider([ContentDelta("hi"), Finish("stop", "stop")]), settings=settings) as chat:
        pilot, screen = chat.pilot, chat.screen
        await type_text(pilot, "question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.conversation.messages) == 2 and not screen.streaming)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: chat_screen(pilot).conversation.messages == [])
        chat.app.call_later(chat.app.action_show_keys)
        await wait_until(pilot, lambda: isinstance(chat.app.screen, KeysScreen))
        table = chat.app.screen.query_one("#keys-table")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["Ctrl+T", "chat", "new conversation", "chat.new"] in rows


@pytest.mark.parametrize("text", ['keys = "ctrl+t"\n', '[keys]\n"chat.new" = 5\n', '[keys]\n"chat.new" = "a,,b"\n'])
def test_a_bad_keys_table_is_a_config_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match="keys"):
        load_settings(config, {})


def test_the_readme_key_table_is_the_bindings() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_table(text, markdown_table(session_bindings())) == text, "run python tools/keys_table.py"
    assert "| Ctrl+G | prompt | edit the prompt in `$VISUAL` / `$EDITOR` | `prompt.editor` |" in text


def test_every_binding_of_the_session_has_a_row() -> None:
    from llmchat.tui.key_table import DOES, UNLISTED

    missing = set(session_bindings()) - set(DOES) - UNLISTED
    assert not missing, f"add these to llmchat/tui/key_table.py DOES, then run tools/keys_table.py: {missing}"
