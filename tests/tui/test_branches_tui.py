"""Branches in the session (issue 21 part 3): a selected message shows "branch 2/3", [ and ]
move between its siblings and the transcript follows; `e` on an earlier question edits it
into a new branch; /retry keeps the old answer as a sibling."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, Finish
from llmchat.store import Store
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, chat_screen, send, wait_until
from tests.tui.test_history_tui import app_with


def answer(text: str) -> list[object]:
    return [ContentDelta(text), Finish("stop", "stop")]


def shown(pilot: Pilot) -> list[str]:
    return [view.copy_text for view in chat_screen(pilot).query(MessageView)]


def views(pilot: Pilot) -> list[MessageView]:
    return list(chat_screen(pilot).query(MessageView))


def stored_conversation(db: Path) -> str:
    with Store(db) as store:
        cid = store.create_conversation("fake", "m", None)
        for role, text in (("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")):
            store.add_message(cid, Message(role, text, finish_reason="stop" if role == "assistant" else None))
    return cid


async def test_retry_keeps_the_old_answer_and_brackets_switch(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    provider = FakeProvider(answer("first answer"), answer("second answer"))
    app = app_with(provider, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await app.workers.wait_for_complete()
        await send(pilot, "/retry")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: shown(pilot) == ["question", "second answer"])
        views(pilot)[-1].focus()
        await wait_until(pilot, lambda: "branch 2/2" in str(views(pilot)[-1].hint.render()))
        await pilot.press("[")
        await wait_until(pilot, lambda: shown(pilot) == ["question", "first answer"])
        await wait_until(pilot, lambda: "branch 1/2" in str(views(pilot)[-1].hint.render()))
        assert isinstance(app.focused, MessageView) and app.focused.copy_text == "first answer"
        await pilot.press("[")  # already the first: nothing changes
        await pilot.press("right")
        await wait_until(pilot, lambda: shown(pilot) == ["question", "second answer"])
        views(pilot)[0].focus()
        await pilot.pause()
        assert "branch" not in str(views(pilot)[0].hint.render())
        # The session sends the path on screen.
        await pilot.press("[")
        await pilot.press("escape")
    with Store(db) as store:
        _, conversation = store.load_conversation("latest")
        assert [m.content for m in conversation.messages] == ["question", "second answer"]
        assert len(store.tree_edges("latest")) == 3


async def test_e_edits_an_earlier_question_into_a_new_branch(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    stored_conversation(db)
    provider = FakeProvider(answer("edited answer"), answer("after the switch"))
    app = app_with(provider, db, conversation="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: shown(pilot) == ["q1", "a1", "q2", "a2"])
        views(pilot)[2].focus()
        await pilot.press("e")
        prompt = chat_screen(pilot).query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.text == "q2" and prompt.has_focus)
        prompt.clear()
        await send(pilot, "q2, better")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: shown(pilot) == ["q1", "a1", "q2, better", "edited answer"])
        sent = [m["content"] for m in provider.requests[-1].messages]
        assert sent == ["q1", "a1", "q2, better"]
        views(pilot)[2].focus()
        await wait_until(pilot, lambda: "branch 2/2" in str(views(pilot)[2].hint.render()))
        await pilot.press("left")  # back to the old question: its answer comes with it
        await wait_until(pilot, lambda: shown(pilot) == ["q1", "a1", "q2", "a2"])
        await pilot.press("escape")
        await send(pilot, "q3")
        await app.workers.wait_for_complete()
        assert [m["content"] for m in provider.requests[-1].messages] == ["q1", "a1", "q2", "a2", "q3"]
        # `e` on an answer says what it edits.
        views(pilot)[1].focus()
        await pilot.press("e")
        await wait_until(pilot, lambda: any("Only your own" in str(n.message) for n in app._notifications))
    with Store(db) as store:
        _, conversation = store.load_conversation("latest")
        assert [m.content for m in conversation.messages] == ["q1", "a1", "q2", "a2", "q3", "after the switch"]
        assert len(store.siblings(conversation.messages[2].id or "")) == 2
