"""/compact: the model's summary, corrected by the user, replaces the older messages; the
original conversation stays in the history."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TextArea

from llmchat.chat.compact import COMPACT_PROMPT, SUMMARY_HEADING, split_point
from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.summary_editor import SummaryEditorScreen
from llmchat.tui.widgets.message_view import MessageView
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Usage(100, 10, 110), Finish("stop", "stop")]


def test_split_point_keeps_whole_exchanges() -> None:
    msgs = [Message("user", "a"), Message("assistant", "b"), Message("user", "c"), Message("assistant", "d")]
    assert split_point(msgs, 2) == 2
    assert split_point(msgs, 3) == 0  # would start at an assistant message: back to the user's
    assert split_point(msgs[:2], 2) == 0


async def test_compact_with_an_edited_summary(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    provider = FakeProvider(answer("Paris is the capital."), answer("It has 2.1 million people."),
                            answer("SUMMARY: capital of France is Paris"), answer("Next answer."))
    app = LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=db)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "What is the capital of France?")
        await app.workers.wait_for_complete()
        await send(pilot, "How many people live there?")
        await app.workers.wait_for_complete()
        original_id = screen.recorder.conversation_id

        await send(pilot, "/compact")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryEditorScreen))
        # the summary request: the older messages and the instruction, nothing stored
        summary_request = provider.requests[2]
        assert [m["content"] for m in summary_request.messages] == [
            "What is the capital of France?", "Paris is the capital.", COMPACT_PROMPT]
        editor = app.screen.query_one(TextArea)
        assert editor.text == "SUMMARY: capital of France is Paris"
        editor.move_cursor(editor.document.end)
        editor.insert(" (user checked: population 2.1 M)")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen and screen.session.conversation.system is not None)

        compacted = screen.session.conversation
        assert compacted.system == f"{SUMMARY_HEADING}\nSUMMARY: capital of France is Paris (user checked: population 2.1 M)"
        assert [m.content for m in compacted.messages] == ["How many people live there?", "It has 2.1 million people."]
        await wait_until(pilot, lambda: any("Compacted:" in n.message for n in app._notifications))
        note = next(n.message for n in app._notifications if "Compacted:" in n.message)
        assert "→" in note and "tokens" in note
        await wait_until(pilot, lambda: len(screen.query(MessageView)) == 2)

        await send(pilot, "And its river?")
        await app.workers.wait_for_complete()
        sent = provider.requests[-1]
        assert sent.system == compacted.system
        assert [m["content"] for m in sent.messages] == [
            "How many people live there?", "It has 2.1 million people.", "And its river?"]
        new_id = screen.recorder.conversation_id
    assert new_id != original_id
    with Store(db) as store:
        _, original = store.load_conversation(original_id)
        _, new = store.load_conversation(new_id)
    assert len(original.messages) == 4  # every original message kept
    assert new.system == compacted.system and len(new.messages) == 4


async def test_escape_in_the_editor_changes_nothing(open_chat: OpenChat) -> None:
    async with open_chat(answer("a"), answer("b"), answer("SUMMARY")) as chat:
        await send(chat.pilot, "one")
        await chat.app.workers.wait_for_complete()
        await send(chat.pilot, "two")
        await chat.app.workers.wait_for_complete()
        before = list(chat.screen.session.conversation.messages)
        await send(chat.pilot, "/compact")
        await wait_until(chat.pilot, lambda: isinstance(chat.app.screen, SummaryEditorScreen))
        await chat.pilot.press("escape")
        await wait_until(chat.pilot, lambda: any("cancelled" in n.message for n in chat.app._notifications))
        assert chat.screen.session.conversation.messages == before
        assert chat.screen.session.conversation.system is None
