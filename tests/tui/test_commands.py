"""The chat commands of the command palette (Ctrl+P), driven key by key through the Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from llmchat.providers.errors import ProviderError
from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.app import LlmChatApp
from llmchat.tui.commands import ChatCommands
from llmchat.tui.screens.text_prompt import TextPromptScreen
from llmchat.tui.widgets.sidebar import Sidebar
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    SIZE,
    chat_screen,
    make_app,
    message_views,
    send,
    type_text,
    wait_until,
)


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


class ModelsProvider(FakeProvider):
    """A FakeProvider that also lists models (or fails to)."""

    def __init__(self, *scripts: object, models: list[str] | None = None) -> None:
        super().__init__(*scripts)  # type: ignore[arg-type]
        self.models = models

    async def list_models(self) -> list[str]:
        if self.models is None:
            raise ProviderError("models endpoint is down")
        return self.models


def first_hit(palette_screen) -> str:  # type: ignore[no-untyped-def]
    """The plain text of the palette's first hit ("" while it lists none)."""
    hits = palette_screen.query("CommandList").first()
    if not hits.option_count:
        return ""
    prompt = hits.get_option_at_index(0).prompt
    return getattr(prompt, "plain", str(prompt))


async def palette(pilot, query: str, *, closes: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Open the palette, type `query`, wait for the first hit and choose it."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await type_text(pilot, query)
    palette_screen = pilot.app.screen
    # The search runs as the letters arrive: wait until the first hit is the command asked for.
    await wait_until(pilot, lambda: first_hit(palette_screen).lower().startswith(query))
    await pilot.press("enter")
    await wait_until(pilot, lambda: pilot.app.screen is not palette_screen)
    if closes:
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))
    await pilot.pause()


async def ask_and_wait(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    screen = chat_screen(pilot)
    before = len(screen.conversation.messages)
    await send(pilot, text)
    await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) >= before + 2)
    await pilot.pause()


def test_the_app_keeps_the_system_commands_and_adds_the_chat_ones() -> None:
    assert ChatCommands in LlmChatApp.COMMANDS
    assert len(LlmChatApp.COMMANDS) >= 2


async def test_copy_last_answer_from_the_palette(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("The **answer**."))) as chat:
        app, pilot = chat.app, chat.pilot
        await ask_and_wait(pilot, "question")
        await palette(pilot, "copy last")
        assert app.clipboard == "The **answer**."


async def test_toggle_sidebar_and_new_conversation_from_the_palette(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("hi"))) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await ask_and_wait(pilot, "hello")
        assert screen.query_one(Sidebar).display
        await palette(pilot, "toggle sidebar")
        assert not screen.query_one(Sidebar).display
        await palette(pilot, "new conversation")
        await wait_until(pilot, lambda: screen.conversation.messages == [] and not message_views(pilot))


async def test_open_history_from_the_palette(tmp_path: Path) -> None:
    from llmchat.tui.screens.history import HistoryScreen

    app = LlmChatApp(make_app().settings, provider=FakeProvider(answer("x")),
                     theme_dirs=make_app()._theme_dirs, history=tmp_path / "h.db")
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "open history")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_export_writes_markdown_in_the_working_directory(open_chat: OpenChat, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_chat(FakeProvider(answer("Exported *answer*"))) as chat:
        app, pilot = chat.app, chat.pilot
        await ask_and_wait(pilot, "export me")
        await palette(pilot, "export conversation")
        files = list(tmp_path.glob("llmchat-*.md"))
        assert len(files) == 1
        text = files[0].read_text()
        assert "## You\n\nexport me" in text
        assert "## Assistant\n\nExported *answer*" in text
        assert any(str(files[0]) in n.message for n in app._notifications)


async def test_switch_model_lists_the_providers_models(open_chat: OpenChat) -> None:
    provider = ModelsProvider(answer("a"), models=["alpha-1", "beta-2"])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await palette(pilot, "switch model", closes=False)
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        models = app.screen
        await wait_until(pilot, lambda: models.query("CommandList").first().option_count > 0)
        await type_text(pilot, "beta")
        await wait_until(pilot, lambda: "beta-2" in first_hit(models))
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.model == "beta-2")
        assert screen.query_one(Sidebar).model == "beta-2"
        await ask_and_wait(pilot, "which model")
        assert provider.requests[-1].model == "beta-2"


async def test_switch_model_reports_a_failure_and_asks_for_a_name(open_chat: OpenChat) -> None:
    async with open_chat(ModelsProvider(answer("a"), models=None)) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await palette(pilot, "switch model")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        assert any("Could not list the models" in n.message for n in app._notifications)
        app.screen.query_one(Input).value = "typed-model"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.model == "typed-model")


async def test_set_system_prompt_from_the_palette(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("ok"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await palette(pilot, "set system")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await type_text(pilot, "Be terse")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.conversation.system == "Be terse")
        await ask_and_wait(pilot, "hi")
        assert "Be terse" in repr(provider.requests[-1])


async def test_escape_cancels_the_system_prompt_dialog(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("ok")), settings=None) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        screen.set_system("keep me")
        await palette(pilot, "set system")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.conversation.system == "keep me"


async def test_copy_with_no_answer_notifies(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("x"))) as chat:
        app, pilot = chat.app, chat.pilot
        await palette(pilot, "copy last")
        assert app.clipboard == ""
        assert any("no answer" in n.message for n in app._notifications)


async def test_every_palette_help_shows_as_written(open_chat: OpenChat) -> None:
    """The palette reads a command's help as markup: a "[keys]" in it would vanish unescaped."""
    from textual.content import Content

    from llmchat.tui.commands import chat_commands

    async with open_chat() as chat:
        screen = chat_screen(chat.app)
        helps = [help_text for _, help_text, _ in chat_commands(screen)]
        helps += [command.help for command in chat.app.get_system_commands(screen)]
        keys_help = [help_text for help_text in helps if "rebind" in help_text]
        assert keys_help and "[keys]" in Content.from_markup(keys_help[0]).plain
        for help_text in helps:  # nothing is eaten as a tag: only the escapes go
            assert Content.from_markup(help_text).plain == help_text.replace("\\[", "["), help_text
