"""Helpers shared by the TUI tests: building the app, typing, reading rendered text."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from textual.pilot import Pilot
from textual.widget import Widget

from llmchat import paths
from llmchat.config import Settings, load_settings
from llmchat.providers.base import Provider
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput

THEME_DIRS = (paths.builtin_themes_dir(),)
SIZE = (120, 40)


def fake_settings(**env: str) -> Settings:
    """Settings whose provider is never reached (tests inject a FakeProvider)."""
    return load_settings(None, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", **env})


def make_app(provider: Provider | None = None, settings: Settings | None = None) -> LlmChatApp:
    return LlmChatApp(settings or fake_settings(), provider=provider, theme_dirs=THEME_DIRS)


def chat_screen(pilot: Pilot) -> ChatScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen), f"expected ChatScreen, got {type(screen).__name__}"
    return screen


async def type_text(pilot: Pilot, text: str) -> None:
    """Type `text` key by key (letters, digits and spaces)."""
    await pilot.press(*["space" if c == " " else c for c in text])


async def send(pilot: Pilot, text: str, *, typed: bool = False) -> None:
    """Put `text` in the prompt (typed key by key when `typed`, which is slower) and press Enter."""
    if typed:
        await type_text(pilot, text)
    else:
        pilot.app.screen.query_one(PromptInput).insert(text)
    await pilot.press("enter")


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Pause the pilot until `condition()` is true (fails after `timeout` seconds)."""
    steps = int(timeout / 0.02)
    for _ in range(steps):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "condition not reached in time"


def plain_text(widget: Widget) -> str:
    """What a Static shows, as plain text (rich renderables are rendered at the widget's width)."""
    content = widget.content  # type: ignore[attr-defined]
    if isinstance(content, str):
        return content
    console = Console(width=max(widget.size.width, 40), record=True, color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()


def sidebar_text(pilot: Pilot) -> str:
    return plain_text(chat_screen(pilot).query_one("#sidebar-stats"))


def sidebar_rows(pilot: Pilot) -> dict[str, str]:
    """The sidebar's stats table as {label: value}."""
    rows: dict[str, str] = {}
    for line in sidebar_text(pilot).splitlines():
        label, _, value = line.strip().partition(" ")
        if label:
            rows[label] = value.strip()
    return rows


def message_views(pilot: Pilot) -> list[MessageView]:
    return list(chat_screen(pilot).query(MessageView))
