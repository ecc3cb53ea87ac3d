"""The session keeps its history: write-ahead replies, cancel, reopening, lazy loading."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Button, OptionList

from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import SHOWN_AT_OPEN
from llmchat.tui.screens.history import HistoryScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.transcript import Transcript
from tests.fakes import FakeProvider
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until

REPLY = [ContentDelta("Hello"), ContentDelta(" there"), Usage(3, 2, 5), Finish("stop", "stop")]


def app_with(provider: FakeProvider, db: Path, conversation: str | None = None) -> LlmChatApp:
    return LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=db,
                      conversation=conversation)


async def test_replies_and_cancels_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    never = asyncio.Event()
    provider = FakeProvider(REPLY, [ContentDelta("partial"), never])
    app = app_with(provider, db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first question")
        await app.workers.wait_for_complete()
        await send(pilot, "second question")
        await wait_until(pilot, lambda: chat_screen(pilot).accumulator is not None
                         and chat_screen(pilot).accumulator.content == "partial")
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    with Store(db) as store:
        _, conversation = store.load_conversation("latest")
    assert [(m.role, m.content, m.finish_reason) for m in conversation.messages] == [
        ("user", "first question", None), ("assistant", "Hello there", "stop"),
        ("user", "second question", None), ("assistant", "partial", "cancelled")]
    assert conversation.messages[1].usage == Usage(3, 2, 5)


async def test_reopening_shows_the_conversation_and_sends_it(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store(db) as store:
        cid = store.create_conversation("fake", "m", None)
        store.add_message(cid, Message("user", "What is 2+2?"))
        store.add_message(cid, Message("assistant", "**4**", finish_reason="stop"))
    provider = FakeProvider(REPLY)
    app = app_with(provider, db, conversation="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(chat_screen(pilot).query(MessageView)) == 2)
        await send(pilot, "And 3+3?")
        await app.workers.wait_for_complete()
    sent = provider.requests[-1].messages
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "What is 2+2?"), ("assistant", "**4**"), ("user", "And 3+3?")]
    with Store(db) as store:
        assert store.list_conversations()[0].message_count == 4


async def test_two_thousand_messages_open_fast_and_older_ones_load_on_demand(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store(db) as store:
        cid = store.create_conversation("fake", "m", None)
        for i in range(1000):
            store.add_message(cid, Message("user", f"question {i}"))
            store.add_message(cid, Message("assistant", f"answer {i}", finish_reason="stop"))
    app = app_with(FakeProvider(REPLY), db)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await screen.open_conversation(cid)  # how fast: benchmarks/tui_open.py
        views = list(screen.query(MessageView))
        # The newest messages that fill the screen, not more; all 2,000 go with the next request.
        assert 4 <= len(views) <= SHOWN_AT_OPEN and len(screen.conversation.messages) == 2000
        assert views[-1].copy_text == "answer 999" and views[-2].copy_text == "question 999"
        shown = len(views)
        screen.query_one("#load-earlier", Button).press()
        await wait_until(pilot, lambda: len(screen.query(MessageView)) > shown)
        await wait_until(pilot, lambda: bool(screen.query("#load-earlier")))
        views = list(screen.query(MessageView))
        assert [v.copy_text for v in views[-shown:]] == [v.copy_text for v in views[len(views) - shown:]]
        first = 2000 - len(views)  # the earliest shown, by its index: the pages are contiguous
        assert views[0].copy_text == (f"question {first // 2}" if first % 2 == 0 else f"answer {first // 2}")


async def test_scrolling_up_loads_earlier_messages_without_moving_the_view(tmp_path: Path) -> None:
    """Scrolling towards the top mounts the page before it above what is on screen; what the
    user reads stays where it is (the scroll offset moves with it in the same layout).

    Each step scrolls at once (``immediate=True``): a deferred scroll is applied after the next
    refresh at an offset computed before it, so if the page mounts in between it lands rows off
    (how this test failed about one run in ten before)."""
    db = tmp_path / "history.db"
    with Store(db) as store:
        cid = store.create_conversation("fake", "m", None)
        for i in range(60):
            store.add_message(cid, Message("user", f"question {i}"))
            store.add_message(cid, Message("assistant", f"answer {i}\n\n- a list\n- of two\n", finish_reason="stop"))
    await scroll_up_until_earlier_messages_load(db, cid)


async def scroll_up_until_earlier_messages_load(db: Path, cid: str) -> None:
    app = app_with(FakeProvider(REPLY), db)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await screen.open_conversation(cid)
        await pilot.pause()
        transcript = screen.query_one(Transcript)
        reading = screen.query(MessageView).first()
        mounted = len(screen.query(MessageView))
        # Where the message read stays on screen: two rows lower per step up, whatever mounts
        # above it. Each step waits for the screen to get there (a jump never does); the next
        # step counts from there, so a jump that comes later still fails.
        expected = reading.region.y
        for _ in range(40):
            transcript.scroll_relative(y=-2, animate=False, immediate=True)
            expected += 2
            await wait_until(pilot, lambda: reading.region.y == expected, timeout=15)
            if len(screen.query(MessageView)) > mounted:
                break
        else:
            raise AssertionError("scrolling up did not load earlier messages")
        await wait_until(pilot, lambda: screen.query(MessageView).first().copy_text != reading.copy_text)
        await pilot.pause()
        assert reading.region.y == expected, "the text jumped"


async def test_history_screen_opens_a_conversation(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store(db) as store:
        old = store.create_conversation("fake", "m", None)
        store.add_message(old, Message("user", "about pelicans"))
        store.add_message(old, Message("assistant", "They fly.", finish_reason="stop"))
        other = store.create_conversation("fake", "m", None)  # newer: listed first
        store.add_message(other, Message("user", "about otters"))
        store.add_message(other, Message("assistant", "They swim.", finish_reason="stop"))
    app = app_with(FakeProvider(REPLY), db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_until(pilot, lambda: app.screen.query_one(OptionList).option_count == 2)
        await pilot.press("p", "e", "l", "i")  # search as you type: only the pelicans match
        await wait_until(pilot, lambda: app.screen.query_one(OptionList).option_count == 1)
        assert "pelicans" in str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(chat_screen(pilot).query(MessageView)) == 2)
        assert chat_screen(pilot).recorder.conversation_id == old
        assert not chat_screen(pilot).query(Button)


async def test_reasoning_streams_open_and_folds_when_the_answer_starts(tmp_path: Path) -> None:
    from llmchat.providers.events import ReasoningDelta

    gate = asyncio.Event()
    provider = FakeProvider([ReasoningDelta("Let me think"), ReasoningDelta(" about it."), gate,
                             ContentDelta("Answer."), Finish("stop", "stop")])
    app = app_with(provider, tmp_path / "h.db")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "q")
        view = chat_screen(pilot).query(MessageView).last()
        await wait_until(pilot, lambda: view.reasoning.display)
        assert not view.reasoning.collapsed and "about it" in str(view.reasoning_text.content)
        gate.set()
        await app.workers.wait_for_complete()
        assert view.reasoning.collapsed and "Thought" in str(view.reasoning.title)


async def test_a_scroll_while_a_page_mounts_moves_the_view_by_the_scroll_only(tmp_path: Path) -> None:
    """The user scrolls after keep_in_view and before the page above is laid out: the text moves
    by the scroll (two rows down), not by the height of what mounts above it, and the scroll is
    not undone either."""
    app = app_with(FakeProvider(REPLY), tmp_path / "h.db")
    async with app.run_test(size=SIZE) as pilot:
        transcript = chat_screen(pilot).query_one(Transcript)
        for i in range(30):
            await transcript.add_message("user", f"line {i}")
        transcript.scroll_end(animate=False, immediate=True)
        reading = transcript.query(MessageView)[-3]
        await wait_until(pilot, lambda: 0 < reading.region.y < SIZE[1] and transcript.scroll_y > 4)
        before = reading.region.y
        transcript.keep_in_view(reading)
        transcript.scroll_relative(y=-2, animate=False, immediate=True)  # the user, mid-load
        for i in range(10):
            await transcript.add_message("user", f"earlier {i}", before=0)
        await wait_until(pilot, lambda: len(transcript.query(MessageView)) == 40
                         and transcript.query(MessageView).first().region.height > 0)
        await pilot.pause()
        assert reading.region.y == before + 2
        transcript.settle()
        transcript.scroll_relative(y=1, animate=False, immediate=True)  # after settle: ends the keep
        await wait_until(pilot, lambda: reading.region.y == before + 1)
        await transcript.add_message("user", "one more above", before=0)
        await wait_until(pilot, lambda: len(transcript.query(MessageView)) == 41)
        await pilot.pause()
        assert reading.region.y > before + 1  # no longer kept: pushed down by the new message
