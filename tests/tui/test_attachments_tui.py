"""Attachments in the session: /attach shows chips above the prompt (removable), they go with
the next message and never alone, the transcript lists them, ``llmchat -a`` puts them there at
start, and a reopened conversation sends them again (shared/DESIGN.md, "Attachments")."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button

from llmchat.chat.models import Attachment
from llmchat.providers.events import ContentDelta, Finish
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.attachment_chips import AttachmentChips
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import THEME_DIRS, chat_screen, fake_settings, plain_text, send, wait_until

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10" + bytes(20)


def answer(text: str = "ok") -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.log").write_text("beta\n")
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "blob.bin").write_bytes(b"\x00\xff" * 10)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_attach_shows_chips_and_sends_them_with_the_next_message(open_chat: OpenChat, files: Path) -> None:
    provider = FakeProvider(answer())
    async with open_chat(provider) as chat:
        pilot = chat.pilot
        screen = chat_screen(pilot)
        chips = screen.query_one(AttachmentChips)
        assert not chips.display
        await send(pilot, "/attach a.txt shot.png")
        await wait_until(pilot, lambda: len(chips.attachments) == 2)
        labels = [str(b.label) for b in chips.query(Button)]
        assert labels[0].startswith("a.txt · 6 bytes · ~1 tokens") and labels[1].startswith("shot.png · ")
        assert chips.display and provider.requests == []  # never sent alone
        await pilot.press("enter")  # an empty prompt sends nothing, chips stay
        await pilot.pause()  # the key is handled (a send would have started its worker) ...
        await pilot.app.workers.wait_for_complete()  # ... and a started reply has ended
        assert provider.requests == [] and len(chips.attachments) == 2
        await send(pilot, "What are these?")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming)
        user = provider.requests[0].messages[-1]
        assert user["content"][0]["type"] == "image_url"
        assert user["content"][1] == {"type": "text", "text": "a.txt\n```\nalpha\n```\n\nWhat are these?"}
        assert chips.attachments == [] and not chips.display
        view = [v for v in screen.query(MessageView) if v.role == "user"][0]
        listed = plain_text(view.query_one(".message-attachments"))
        assert "📎 a.txt · 6 bytes · text/plain" in listed and "📎 shot.png" in listed


async def test_a_chip_can_be_removed_before_sending(open_chat: OpenChat, files: Path) -> None:
    provider = FakeProvider(answer())
    async with open_chat(provider) as chat:
        pilot = chat.pilot
        screen = chat_screen(pilot)
        chips = screen.query_one(AttachmentChips)
        await send(pilot, "/attach a.txt")
        await send(pilot, "/attach b.log")
        await wait_until(pilot, lambda: len(chips.attachments) == 2)
        await pilot.click(chips.query(Button).first())
        await wait_until(pilot, lambda: len(chips.attachments) == 1)
        await send(pilot, "go")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming)
        assert provider.requests[0].messages[-1]["content"] == "b.log\n```\nbeta\n```\n\ngo"


async def test_a_bad_path_is_a_warning_and_attaches_nothing(open_chat: OpenChat, files: Path) -> None:
    provider = FakeProvider(answer())
    async with open_chat(provider) as chat:
        pilot = chat.pilot
        screen = chat_screen(pilot)
        await send(pilot, "/attach a.txt missing.png")
        await send(pilot, "/attach blob.bin")
        # (the command runs in the handler of the message the key posts: wait for its warning)
        await wait_until(pilot, lambda: any("cannot attach blob.bin: unknown type" in n for n in notes(chat.app)))
        said = notes(chat.app)
        assert any("cannot attach missing.png: no such file or directory" in n for n in said)
        assert screen.query_one(AttachmentChips).attachments == []
        assert screen.query_one(PromptInput).text == ""


async def test_attachments_given_at_start_go_with_the_first_message(files: Path) -> None:
    provider = FakeProvider(answer())
    text = Attachment("a.txt", "text/plain", b"alpha\n", "alpha\n")
    app = LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, attachments=[text])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat_screen(pilot)
        await wait_until(pilot, lambda: screen.query_one(AttachmentChips).attachments == [text])
        await send(pilot, "first")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming)
        await send(pilot, "second")
        await wait_until(pilot, lambda: len(provider.requests) == 2 and not screen.streaming)
        messages = provider.requests[1].messages
        assert messages[0]["content"] == "a.txt\n```\nalpha\n```\n\nfirst"
        assert messages[-1]["content"] == "second"


async def test_a_reopened_conversation_sends_its_attachments_again(open_chat: OpenChat, files: Path,
                                                                  tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    first = FakeProvider(answer())
    async with open_chat(first, history=history) as chat:
        screen = chat_screen(chat.pilot)
        await send(chat.pilot, "/attach shot.png")
        await wait_until(chat.pilot, lambda: screen.query_one(AttachmentChips).attachments)
        await send(chat.pilot, "look")
        await wait_until(chat.pilot, lambda: first.requests and not screen.streaming)
        await chat.app.workers.wait_for_complete()
    again = FakeProvider(answer())
    app = LlmChatApp(fake_settings(), provider=again, theme_dirs=THEME_DIRS, history=history, conversation="latest")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat_screen(pilot)
        await wait_until(pilot, lambda: len(screen.conversation.messages) == 2)
        view = [v for v in screen.query(MessageView) if v.role == "user"][0]
        assert "📎 shot.png" in plain_text(view.query_one(".message-attachments"))
        await send(pilot, "and again?")
        await wait_until(pilot, lambda: again.requests and not screen.streaming)
        assert again.requests[0].messages[0]["content"][0]["type"] == "image_url"


def test_path_completion(files: Path) -> None:
    from llmchat.tui.widgets.path_completion import complete_path

    (files / "src").mkdir()
    (files / "src" / "main.py").write_text("x")
    (files / ".hidden").write_text("x")
    assert complete_path("sh") == "ot.png"
    assert complete_path("sr") == "c/"
    assert complete_path("src/m") == "ain.py"
    assert complete_path("nothing") == "" and complete_path("missing/dir/x") == ""
    assert complete_path(".hi") == "dden" and complete_path("") in ("a.txt", "")


async def test_at_path_completes_and_attaches_the_file(open_chat: OpenChat, files: Path) -> None:
    provider = FakeProvider(answer())
    async with open_chat(provider) as chat:
        pilot = chat.pilot
        screen = chat_screen(pilot)
        prompt = screen.query_one(PromptInput)
        prompt.insert("Explain @b")
        await pilot.pause()
        assert prompt.suggestion == ".log"
        await pilot.press("right")
        await wait_until(pilot, lambda: prompt.text == "Explain @b.log")
        await pilot.press("enter")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming)
        assert provider.requests[0].messages[-1]["content"] == "b.log\n```\nbeta\n```\n\nExplain @b.log"
        prompt.insert("/attach a.t")
        await pilot.pause()
        assert prompt.suggestion == "xt"


async def test_a_queued_message_keeps_its_attachments_when_the_queue_is_put_back(open_chat: OpenChat,
                                                                                  files: Path) -> None:
    import asyncio

    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("a1 "), gate, Finish("stop", "stop")], answer())
    async with open_chat(provider) as chat:
        pilot = chat.pilot
        screen = chat_screen(pilot)
        chips = screen.query_one(AttachmentChips)
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.streaming)
        await send(pilot, "/attach a.txt")
        await wait_until(pilot, lambda: chips.attachments)
        await send(pilot, "second")
        await wait_until(pilot, lambda: screen.queue and not chips.attachments)
        await pilot.press("escape")
        await chat.app.workers.wait_for_complete()
        await wait_until(pilot, lambda: [a.name for a in chips.attachments] == ["a.txt"])
        assert screen.query_one(PromptInput).text == "second"
        assert len(provider.requests) == 1


async def test_at_a_directory_stays_text(open_chat: OpenChat, files: Path) -> None:
    (files / "home").mkdir()
    (files / "home" / "x.txt").write_text("x")
    provider = FakeProvider(answer())
    async with open_chat(provider) as chat:
        screen = chat_screen(chat.pilot)
        await send(chat.pilot, "ping me @home")
        await wait_until(chat.pilot, lambda: provider.requests and not screen.streaming)
        assert provider.requests[0].messages[-1]["content"] == "ping me @home"
