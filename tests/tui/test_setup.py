"""SetupScreen: shown without a key for api.openai.com; offers local servers; quits cleanly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Button

from llmchat.config import load_settings
from llmchat.discovery import LocalServer
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.setup import SetupScreen
from llmchat.tui.widgets.sidebar import Sidebar
from tests.loopback import LoopbackServer
from tests.tui.helpers import (
    SIZE,
    THEME_DIRS,
    chat_screen,
    message_views,
    plain_text,
    send,
    sidebar_rows,
    wait_until,
)


def make_app() -> LlmChatApp:
    return LlmChatApp(load_settings(None, {}), theme_dirs=THEME_DIRS)


def fake_discovery(monkeypatch: pytest.MonkeyPatch, servers: list[LocalServer]) -> list[int]:
    """Replace the port probe; returns a list that counts the calls."""
    calls: list[int] = []

    async def find_local_servers() -> list[LocalServer]:
        calls.append(1)
        return servers

    monkeypatch.setattr("llmchat.tui.screens.setup.find_local_servers", find_local_servers)
    return calls


def setup_text(app: LlmChatApp) -> str:
    screen = app.screen
    if not isinstance(screen, SetupScreen):
        return ""  # not shown yet (the first-run probe runs first)
    return "\n".join(
        plain_text(screen.query_one(f"#setup-{part}")) for part in ("title", "problem", "status")
    )


async def test_no_key_shows_setup_and_a_local_server_can_be_used(
    monkeypatch: pytest.MonkeyPatch, server: LoopbackServer
) -> None:
    calls = fake_discovery(monkeypatch, [LocalServer("Ollama", server.base_url, ("test-model",))])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))  # after the first-run probe
        await wait_until(pilot, lambda: bool(app.screen.query("#setup-use-0")))
        assert calls == [1]
        text = setup_text(app)
        assert "OPENAI_API_KEY" in text
        assert "Found a model server" in text
        button = app.screen.query_one("#setup-use-0", Button)
        assert server.base_url in str(button.label)
        assert "test-model" in str(button.label)
        await wait_until(pilot, lambda: app.screen.focused is button)  # focused once mounted

        await pilot.click("#setup-use-0")
        # (the chat screen is app.screen at once; its widgets are there once it is mounted)
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.is_mounted)

        screen = chat_screen(pilot)
        assert screen.model == "test-model"
        assert isinstance(screen.provider, OpenAIProvider)
        assert screen.provider.base_url == server.base_url
        assert app.settings.provider.base_url == server.base_url
        assert app.settings.provider.model == "test-model"
        assert "test-model" in plain_text(screen.query_one(Sidebar).query_one("#sidebar-model"))

        await send(pilot, "hello local")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert message_views(pilot)[-1].body.source == "Hello, world!"  # type: ignore[union-attr]
        assert sidebar_rows(pilot)["State"] == "done"
        sent = [r for r in server.requests if r.method == "POST"]  # (GETs: the model's context window)
        assert len(sent) == 1
        request = sent[0]
        assert request.path == "/v1/chat/completions"
        assert request.json()["model"] == "test-model"
        assert request.json()["messages"] == [{"role": "user", "content": "hello local"}]
        assert "authorization" not in request.headers  # no key is sent to a local server


async def test_enter_on_the_focused_offer_also_works(
    monkeypatch: pytest.MonkeyPatch, server: LoopbackServer
) -> None:
    fake_discovery(monkeypatch, [
        LocalServer("LM Studio", server.base_url, ("first-model", "second-model")),
    ])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("#setup-use-0")))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert chat_screen(pilot).model == "first-model"


async def test_servers_without_models_are_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_discovery(monkeypatch, [LocalServer("vLLM", "http://127.0.0.1:9/v1", ())])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "No local model server" in setup_text(app))
        assert isinstance(app.screen, SetupScreen)
        assert not app.screen.query("#setup-choices Button")
        assert "OPENAI_API_KEY" in setup_text(app)


async def test_the_hint_follows_the_chosen_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-p groq` without GROQ_API_KEY: the dialog no longer says "export OPENAI_API_KEY"."""
    fake_discovery(monkeypatch, [])
    app = LlmChatApp(load_settings(None, {}, provider="groq"), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "No local model server" in setup_text(app))
        text = setup_text(app)
        assert "GROQ_API_KEY" in text and "llmchat keys set" in text
        assert "OPENAI_API_KEY" not in text


async def test_quit_button_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_discovery(monkeypatch, [])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "No local model server" in setup_text(app))
        await pilot.click("#setup-quit")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 2  # nothing to chat with: not a success


async def test_escape_on_setup_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_discovery(monkeypatch, [])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "No local model server" in setup_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert not app.is_running


async def test_a_key_or_a_local_base_url_skips_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_discovery(monkeypatch, [])
    for env in ({"OPENAI_API_KEY": "sk-test"}, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}):
        app = LlmChatApp(load_settings(None, env), theme_dirs=THEME_DIRS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, ChatScreen), env
    assert calls == []


async def test_only_another_providers_key_starts_the_chat_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_discovery(monkeypatch, [])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    app = LlmChatApp(load_settings(None, os.environ), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert isinstance(chat_screen(pilot).provider, AnthropicProvider)
        assert app.settings.provider.name == "anthropic"
    assert calls == []


async def test_several_providers_are_listed_and_the_pick_is_remembered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_discovery(monkeypatch, [])
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    config = tmp_path / "config.toml"
    app = LlmChatApp(load_settings(config, os.environ), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("#setup-pick-1")))
        assert "anthropic" in str(app.screen.query_one("#setup-pick-0", Button).label)
        await wait_until(pilot, lambda: app.screen.focused is app.screen.query_one("#setup-pick-0"))  # mounted
        await pilot.press("tab")
        assert app.screen.focused is app.screen.query_one("#setup-pick-1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert app.settings.provider.name == "groq"
    assert load_settings(config, {}).provider.name == "groq"
