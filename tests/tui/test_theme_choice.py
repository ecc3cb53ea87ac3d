"""Shipped themes (six or more) render; the chosen theme is remembered unless one is explicit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmchat import paths
from llmchat.config import load_settings
from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.app import LlmChatApp
from llmchat.tui.themes import load_themes
from llmchat.tui.ui_state import read_ui_state, remember
from tests.fakes import FakeProvider
from tests.tui.helpers import (
    SIZE,
    THEME_DIRS,
    chat_screen,
    fake_settings,
    send,
    wait_until,
)

SHIPPED = sorted(t.name for t in load_themes(paths.builtin_themes_dir())[0])


def test_six_or_more_themes_ship_with_the_kinds_asked_for() -> None:
    themes, failures = load_themes(paths.builtin_themes_dir())
    assert failures == []
    assert len(themes) >= 6
    by_name = {t.name: t for t in themes}
    assert {"llmchat-high-contrast", "llmchat-terminal", "llmchat-nord", "llmchat-solarized-light"} <= set(by_name)
    terminal = by_name["llmchat-terminal"]
    assert terminal.dark is True and terminal.primary.startswith("ansi_")
    assert by_name["llmchat-solarized-light"].dark is False


@pytest.mark.parametrize("name", SHIPPED)
async def test_each_shipped_theme_renders_a_reply(name: str, tmp_path: Path) -> None:
    provider = FakeProvider([ContentDelta("# Title\n\n```python\nprint(1)\n```\n"), Finish("stop", "stop")])
    app = LlmChatApp(fake_settings(LLMCHAT_THEME=name), provider=provider, theme_dirs=THEME_DIRS,
                     history=tmp_path / "h.db", ui_state=tmp_path / "ui.json")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == name
        screen = chat_screen(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: not screen.streaming and screen.accumulator is not None)
        await pilot.pause()
        assert app.export_screenshot()  # the whole screen renders with this theme


def test_ui_state_round_trips_and_ignores_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ui.json"
    assert read_ui_state(path) == {}
    assert remember(path, theme="llmchat-nord")
    assert remember(path, other=1)
    assert read_ui_state(path) == {"theme": "llmchat-nord", "other": 1}
    path.write_text("{not json")
    assert read_ui_state(path) == {}
    path.write_text("[1, 2]")
    assert read_ui_state(path) == {}


def test_ui_state_file_is_in_the_state_dir() -> None:
    assert paths.ui_state_file().parent == paths.state_dir()


async def test_a_changed_theme_is_remembered_for_the_next_session(tmp_path: Path) -> None:
    state = tmp_path / "ui.json"

    def app(settings=None) -> LlmChatApp:  # type: ignore[no-untyped-def]
        return LlmChatApp(settings or fake_settings(), provider=FakeProvider([]), theme_dirs=THEME_DIRS,
                          history=tmp_path / "h.db", ui_state=state)

    first = app()
    async with first.run_test(size=SIZE) as pilot:
        assert first.theme == "llmchat-dark"
        assert not state.exists()  # applying the start-up theme saves nothing
        first.theme = "llmchat-nord"  # what the palette's "Change theme" does
        await pilot.pause()
    assert json.loads(state.read_text())["theme"] == "llmchat-nord"

    second = app()
    async with second.run_test(size=SIZE):
        assert second.theme == "llmchat-nord"

    # An explicit choice (flag, LLMCHAT_THEME or config) wins over the remembered one.
    explicit = app(fake_settings(LLMCHAT_THEME="llmchat-light"))
    async with explicit.run_test(size=SIZE):
        assert explicit.theme == "llmchat-light"


async def test_a_remembered_theme_that_no_longer_exists_falls_back(tmp_path: Path) -> None:
    state = tmp_path / "ui.json"
    state.write_text(json.dumps({"theme": "gone-theme"}))
    app = LlmChatApp(fake_settings(), provider=FakeProvider([]), theme_dirs=THEME_DIRS,
                     history=tmp_path / "h.db", ui_state=state)
    async with app.run_test(size=SIZE):
        assert app.theme == "llmchat-dark"


def test_theme_explicit_marker() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    assert load_settings(None, env).theme_explicit is False
    assert load_settings(None, env, theme="x").theme_explicit is True
    assert load_settings(None, {**env, "LLMCHAT_THEME": "y"}).theme_explicit is True


def test_theme_explicit_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('theme = "llmchat-nord"\n')
    settings = load_settings(config, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert settings.theme == "llmchat-nord" and settings.theme_explicit
