"""The prompt: Up / Down recall this session's prompts; Ctrl+G edits the prompt in $EDITOR."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import chat_screen, send, type_text, wait_until


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


async def ask_and_wait(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    screen = chat_screen(pilot)
    before = len(screen.conversation.messages)
    await send(pilot, text)
    await wait_until(pilot, lambda: not screen.streaming and len(screen.conversation.messages) >= before + 2)


async def test_up_and_down_recall_earlier_prompts(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        await ask_and_wait(pilot, "first")
        await ask_and_wait(pilot, "second\nline two")
        await ask_and_wait(pilot, "third")
        await type_text(pilot, "draft")
        await pilot.press("up")
        assert prompt.text == "third"
        await pilot.press("up")
        assert prompt.text == "second\nline two"
        assert prompt.cursor_location[0] == 0  # still on the first line: Up keeps going back
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("up")  # nothing older: stays
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == "second\nline two"
        assert prompt.cursor_location == prompt.document.end
        await pilot.press("down")
        assert prompt.text == "third"
        await pilot.press("down")
        assert prompt.text == "draft"  # past the newest: what was being typed


async def test_up_moves_the_cursor_inside_a_multiline_prompt_first(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        await ask_and_wait(pilot, "earlier")
        prompt.insert("line one\nline two")
        assert prompt.cursor_location[0] == 1
        await pilot.press("up")
        assert prompt.text == "line one\nline two" and prompt.cursor_location[0] == 0
        await pilot.press("up")
        assert prompt.text == "earlier"


async def test_slash_commands_are_recalled_too(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        await send(pilot, "/help")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")  # close the list of commands
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ChatScreen")
        await pilot.press("up")
        assert prompt.text == "/help"


def write_editor(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-editor"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_ctrl_g_edits_the_prompt_in_editor(open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "seen.txt"
    editor = write_editor(tmp_path, (
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        f"pathlib.Path({str(seen)!r}).write_text(p.read_text())\n"
        "p.write_text('Written in the editor\\nsecond line\\n')\n"
    ))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        await type_text(pilot, "start here")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: prompt.text == "Written in the editor\nsecond line")
        assert seen.read_text() == "start here"  # the editor got the prompt's text


async def test_a_failing_editor_leaves_the_prompt(open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = write_editor(tmp_path, "import sys\nsys.exit(3)\n")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(editor))
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        await type_text(pilot, "keep")
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert prompt.text == "keep"
        assert any("status 3" in n.message for n in app._notifications)


async def test_no_editor_set_notifies(open_chat: OpenChat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    async with open_chat(FakeProvider(answer("ok"))) as chat:
        app, pilot = chat.app, chat.pilot
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert any("$EDITOR" in n.message for n in app._notifications)
