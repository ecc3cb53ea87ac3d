"""Slash commands in the prompt: run, not sent; completion suggestion and hint line."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui import slash
from llmchat.tui.screens.help import HelpScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    chat_screen,
    message_views,
    send,
    type_text,
    wait_until,
)


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


async def ask_and_wait(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    screen = chat_screen(pilot)
    before = len(screen.conversation.messages)
    await send(pilot, text)
    await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) >= before + 2)
    await pilot.pause()


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def test_parse_and_escape() -> None:
    assert slash.parse("/model  gpt-4o ") == ("model", "gpt-4o")
    assert slash.parse("/HELP") == ("help", "")
    assert slash.is_command("/new") and not slash.is_command("//new") and not slash.is_command("hi /new")
    assert slash.unescape("//etc/hosts?") == "/etc/hosts?"
    assert "/retry" in slash.help_text()


def test_the_readme_table_lists_every_slash_command() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Slash commands", 1)[1].split("\n#", 1)[0]
    rows = [line.split("`")[1].split()[0] for line in table.splitlines() if line.startswith("| `/")]
    assert sorted(rows) == sorted(f"/{name}" for name in slash.NAMES)


async def test_a_slash_command_is_not_sent(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("x"))
    async with open_chat(provider) as chat:
        app, pilot = chat.app, chat.pilot
        screen = chat_screen(pilot)
        await send(pilot, "/help")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = str(app.screen.query_one("#help-text", Static).render())
        assert "/model" in shown and "/retry" in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert provider.requests == []
        assert not message_views(pilot)
        assert screen.query_one(PromptInput).text == ""


async def test_help_lists_every_command_even_on_a_small_terminal(open_chat: OpenChat) -> None:
    """/help was a toast, cut at the screen's height: /theme, /mcp and //text never showed."""
    async with open_chat(FakeProvider(answer("x")), size=(80, 24)) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "/help")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = str(app.screen.query_one("#help-text", Static).render())
        assert shown == slash.help_text()
        for name in slash.NAMES:
            assert f"/{name}" in shown
        assert "//text" in shown
        scroller = app.screen.query_one(VerticalScroll)
        await pilot.press("end")
        await wait_until(pilot, lambda: scroller.scroll_y == scroller.max_scroll_y)


async def test_unknown_command_notifies_and_double_slash_sends(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("x"))
    async with open_chat(provider) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "/frobnicate now")
        await pilot.pause()
        assert provider.requests == []
        assert any("Unknown command /frobnicate" in n for n in notes(app))
        prompt = chat_screen(pilot).query_one(PromptInput)
        assert prompt.text == "/frobnicate now"  # kept: maybe it was meant as text
        prompt.clear()
        await ask_and_wait(pilot, "//etc/hosts")
        assert chat_screen(pilot).conversation.messages[0].content == "/etc/hosts"


async def test_model_system_new_theme(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("x"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "/model other-model")
        await send(pilot, "/system You are a pirate.")
        await pilot.pause()
        assert screen.model == "other-model"
        assert screen.conversation.system == "You are a pirate."
        await ask_and_wait(pilot, "hello")
        assert provider.requests[-1].model == "other-model"
        await send(pilot, "/new")
        await wait_until(pilot, lambda: not screen.conversation.messages and not message_views(pilot))
        assert screen.conversation.system == "You are a pirate."
        await send(pilot, "/theme llmchat-nord")
        await pilot.pause()
        assert app.theme == "llmchat-nord"
        await send(pilot, "/theme no-such-theme")
        await pilot.pause()
        assert app.theme == "llmchat-nord"
        assert any("Unknown theme" in n for n in notes(app))


async def test_retry_regenerates_the_last_answer(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("first answer"), answer("second answer"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await ask_and_wait(pilot, "question")
        await send(pilot, "/retry")
        await wait_until(pilot, lambda: len(provider.requests) == 2 and not screen.streaming
                         and screen.conversation.messages[-1].content == "second answer")
        await pilot.pause()
        assert [m.role for m in screen.conversation.messages] == ["user", "assistant"]
        # the retried request does not contain the dropped answer
        assert "first answer" not in repr(provider.requests[-1])
        views = message_views(pilot)
        assert [v.role for v in views] == ["user", "assistant"]
        body = views[1].body
        assert isinstance(body, StreamingMarkdown)
        await wait_until(pilot, lambda: "second answer" in body.source)
        assert screen.store is not None and screen.recorder.conversation_id is not None
        _, stored = screen.store.load_conversation(screen.recorder.conversation_id)
        assert [m.content for m in stored.messages] == ["question", "second answer"]  # not both


async def test_edit_puts_the_last_message_back(open_chat: OpenChat) -> None:
    provider = FakeProvider(answer("a1"), answer("a2"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await ask_and_wait(pilot, "one")
        await ask_and_wait(pilot, "two with typo")
        await send(pilot, "/edit")
        await pilot.pause()
        prompt = screen.query_one(PromptInput)
        assert prompt.text == "two with typo"
        assert [m.content for m in screen.conversation.messages] == ["one", "a1"]
        assert len(message_views(pilot)) == 2
        assert screen.store is not None and screen.recorder.conversation_id is not None
        _, stored = screen.store.load_conversation(screen.recorder.conversation_id)
        assert [m.content for m in stored.messages] == ["one", "a1"]


async def test_copy_and_export(open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_chat(FakeProvider(answer("copy me"))) as chat:
        app, pilot = chat.app, chat.pilot
        await ask_and_wait(pilot, "q")
        await send(pilot, "/copy")
        await send(pilot, "/export")
        await pilot.pause()
        assert app.clipboard == "copy me"
        assert len(list(tmp_path.glob("llmchat-*.md"))) == 1


async def test_completion_suggests_and_right_accepts(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("x"))) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        prompt = screen.query_one(PromptInput)
        await type_text(pilot, "/ret")
        assert prompt.suggestion == "ry"
        hint = screen.query_one("#prompt-hint", Static)
        assert hint.display and "regenerate" in str(hint.content)
        await pilot.press("right")
        assert prompt.text == "/retry"
        prompt.clear()
        await type_text(pilot, "/theme llmchat-n")
        assert prompt.suggestion == "ord"
        prompt.clear()
        await pilot.pause()
        assert not hint.display


async def test_provider_slash_command_switches_provider_and_model(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmchat.providers.events import ContentDelta, Finish
    from tests.fakes import FakeProvider
    from tests.tui.helpers import chat_screen, make_app, send, wait_until

    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    app = make_app(FakeProvider([ContentDelta("x"), Finish("stop", "stop")]))
    async with app.run_test() as pilot:
        await send(pilot, "/provider groq")
        screen = chat_screen(pilot)
        await wait_until(pilot, lambda: screen.provider.name == "groq")
        assert screen.model == "llama-3.3-70b-versatile"
        assert screen.query_one("Sidebar").provider == "groq"  # type: ignore[attr-defined]
        monkeypatch.delenv("GROQ_API_KEY")
        await send(pilot, "/provider mistral")
        # No MISTRAL_API_KEY: refused with a message (wait for it: the command was handled).
        await wait_until(pilot, lambda: any(n.title == "Provider" and n.severity == "error"
                                            for n in app._notifications))
        assert "MISTRAL_API_KEY" in " ".join(n.message for n in app._notifications)
        assert screen.provider.name == "groq" and screen.model == "llama-3.3-70b-versatile"


async def test_a_failure_after_partial_text_offers_retry_and_continue() -> None:
    from llmchat.providers.errors import StreamInterrupted
    from llmchat.providers.events import ContentDelta, Finish
    from llmchat.tui.screens.chat_actions import CONTINUE_PROMPT
    from tests.fakes import FakeProvider
    from tests.tui.helpers import chat_screen, make_app, send

    provider = FakeProvider([ContentDelta("half an ans"), StreamInterrupted("dropped", provider="fake")],
                            [ContentDelta("wer."), Finish("stop", "stop")])
    app = make_app(provider)
    async with app.run_test() as pilot:
        await send(pilot, "question")
        await app.workers.wait_for_complete()
        await pilot.pause()
        from tests.tui.helpers import message_views, plain_text

        assert "/continue" in plain_text(message_views(pilot)[-1].status)  # under the reply, once
        await send(pilot, "/continue")
        await wait_until(pilot, lambda: len(provider.requests) == 2)
        await app.workers.wait_for_complete()
        sent = provider.requests[-1].messages
        assert sent[-2] == {"role": "assistant", "content": "half an ans"}
        assert sent[-1] == {"role": "user", "content": CONTINUE_PROMPT}
        assert chat_screen(pilot).conversation.messages[-1].content == "wer."


async def test_fork_goes_on_in_a_copy_and_leaves_the_original_in_the_history(
    tmp_path: Path, open_chat: OpenChat
) -> None:
    async with open_chat([ContentDelta("a1"), Finish("stop", "stop")], [ContentDelta("a2"), Finish("stop", "stop")],
                         history=tmp_path / "h.db") as chat:
        pilot, screen = chat.pilot, chat.screen
        await send(pilot, "q1")
        await wait_until(pilot, lambda: len(screen.conversation.messages) == 2 and not screen.streaming)
        original = screen.recorder.conversation_id
        await send(pilot, "/fork")
        await wait_until(pilot, lambda: screen.recorder.conversation_id not in (None, original))
        forked = screen.recorder.conversation_id
        assert [m.content for m in screen.conversation.messages] == ["q1", "a1"]
        assert len(screen.query(MessageView)) == 2  # the transcript stays as it was
        await send(pilot, "q2")
        await wait_until(pilot, lambda: len(screen.conversation.messages) == 4 and not screen.streaming)
        assert screen.store is not None and original is not None and forked is not None
        assert [m.content for m in screen.store.load_conversation(original)[1].messages] == ["q1", "a1"]
        assert [m.content for m in screen.store.load_conversation(forked)[1].messages] == ["q1", "a1", "q2", "a2"]
        assert chat.provider.requests[-1].messages[:2] == [{"role": "user", "content": "q1"},
                                                          {"role": "assistant", "content": "a1"}]
