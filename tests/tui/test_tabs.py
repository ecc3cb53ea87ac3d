"""Tabs: several conversations in one session, each its own ChatScreen and stream.

A background tab keeps streaming and recording but renders nothing until it shows; Escape
stops the visible tab's reply only; closing a busy tab asks first; the open tabs come back
at the next start.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from llmchat.chat.models import Message
from llmchat.providers.errors import ServerError
from llmchat.providers.events import ContentDelta, Finish
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens import chat_tabs
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.history import ConfirmScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.tab_bar import TabBar
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until


def tabs(app: LlmChatApp) -> list[ChatScreen]:
    return list(app.tabs.screens)


def bar_text(pilot: Pilot[None]) -> str:
    bar = chat_screen(pilot).query_one(TabBar)
    return bar.text(bar.size.width or 120).plain if bar.display else ""


def last_body(screen: ChatScreen) -> StreamingMarkdown:
    body = list(screen.query(MessageView))[-1].body
    assert isinstance(body, StreamingMarkdown)
    return body


def notes(app: LlmChatApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def new_tab(pilot: Pilot[None]) -> ChatScreen:
    """Ctrl+T, then the new tab once it shows, mounted."""
    count = len(tabs(pilot.app))  # type: ignore[arg-type]
    await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: len(tabs(pilot.app)) == count + 1  # type: ignore[arg-type]
                     and pilot.app.screen is tabs(pilot.app)[-1] and pilot.app.screen.is_mounted)  # type: ignore[arg-type]
    return chat_screen(pilot)


async def test_one_tab_has_no_bar_and_ctrl_w_only_edits_the_prompt(open_chat: OpenChat) -> None:
    async with open_chat([ContentDelta("hi"), Finish("stop", "stop")]) as chat:
        pilot = chat.pilot
        assert not chat.screen.query_one(TabBar).display  # one tab: the screen is as before tabs
        prompt = chat.screen.query_one(PromptInput)
        prompt.insert("keep these words")
        await pilot.press("ctrl+w")
        assert prompt.text == "keep these "  # the prompt's delete-word-left, as before
        await new_tab(pilot)
        assert chat.screen.query_one(TabBar).display is False  # (the first tab is not visible)
        assert chat_screen(pilot).query_one(TabBar).display
        chat_screen(pilot).query_one(PromptInput).insert("a draft")
        await pilot.press("ctrl+w")  # with text in the prompt: a word goes, the tab stays
        assert chat_screen(pilot).query_one(PromptInput).text == "a "
        assert len(tabs(chat.app)) == 2


async def test_a_hidden_tab_streams_to_the_end_and_is_stored_then_renders_when_shown(
    open_chat: OpenChat, tmp_path: Path
) -> None:
    gate = asyncio.Event()
    script = [gate, ContentDelta("Hello"), ContentDelta(" **world**"), Finish("stop", "stop")]
    db = tmp_path / "history.db"
    async with open_chat(script, [ContentDelta("other"), Finish("stop", "stop")], history=db) as chat:
        pilot, first = chat.pilot, chat.screen
        await send(pilot, "first question")
        await wait_until(pilot, lambda: first.streaming)
        second = await new_tab(pilot)
        assert second is not first and first.streaming
        await wait_until(pilot, lambda: "⠿" in bar_text(pilot))  # tab 1 is busy
        assert bar_text(pilot).index("⠿") < bar_text(pilot).index(" 2 ")
        assert "first question" in bar_text(pilot)
        second.query_one(PromptInput).insert("typed meanwhile")  # the user works in tab 2
        gate.set()
        await wait_until(pilot, lambda: not first.streaming and first.conversation.messages[-1].finish_reason)
        reply = first.conversation.messages[-1]
        assert (reply.role, reply.content, reply.finish_reason) == ("assistant", "Hello **world**", "stop")
        body = last_body(first)
        assert body.held and body.rendered_length == 0  # nothing rendered for nobody
        await wait_until(pilot, lambda: "●" in bar_text(pilot))  # a finished reply, not seen yet
        assert chat.app.store is not None
        _, stored = chat.app.store.load_conversation(first.recorder.conversation_id or "")
        assert [(m.role, m.content, m.finish_reason) for m in stored.messages] == [
            ("user", "first question", None), ("assistant", "Hello **world**", "stop")]
        assert second.query_one(PromptInput).text == "typed meanwhile"

        await pilot.press("ctrl+pageup")  # back to tab 1: it renders now, the mark is seen
        await wait_until(pilot, lambda: chat.app.screen is first)
        await wait_until(pilot, lambda: not body.held and body.rendered_length == len("Hello **world**"))
        await wait_until(pilot, lambda: "●" not in bar_text(pilot) and "⠿" not in bar_text(pilot))
        assert "world" in str(body.query("MarkdownParagraph").first().render())


async def test_escape_stops_the_visible_tabs_reply_only(open_chat: OpenChat) -> None:
    never = asyncio.Event()
    async with open_chat([ContentDelta("one"), never], [ContentDelta("two"), never]) as chat:
        pilot, first = chat.pilot, chat.screen
        await send(pilot, "in tab one")
        await wait_until(pilot, lambda: first.streaming)
        second = await new_tab(pilot)
        await send(pilot, "in tab two")
        await wait_until(pilot, lambda: second.streaming)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not second.streaming)
        assert second.conversation.messages[-1].finish_reason == "cancelled"
        assert first.streaming  # the hidden tab's reply goes on
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: chat.app.screen is first)
        assert first.streaming
        await pilot.press("escape")
        await wait_until(pilot, lambda: not first.streaming)
        assert first.conversation.messages[-1].finish_reason == "cancelled"
        assert first.conversation.messages[-1].content == "one"


async def test_closing_a_busy_tab_asks_and_keeps_the_partial_reply_cancelled(
    open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_tabs, "REPEAT_GUARD", 0.0)  # two Ctrl+W in a row, however fast
    never = asyncio.Event()
    db = tmp_path / "history.db"
    async with open_chat([ContentDelta("partial"), never], history=db) as chat:
        pilot, app = chat.pilot, chat.app
        await new_tab(pilot)
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: app.screen is chat.screen)
        await send(pilot, "a long answer please")
        await wait_until(pilot, lambda: chat.screen.accumulator is not None
                         and chat.screen.accumulator.content == "partial")
        await pilot.press("ctrl+w")  # the prompt is empty: Ctrl+W closes the tab, asking first
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is chat.screen)
        assert len(tabs(app)) == 2 and chat.screen.streaming  # cancelled: nothing changed
        conversation_id = chat.screen.recorder.conversation_id
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: len(tabs(app)) == 1 and app.screen is tabs(app)[0])
        await app.workers.wait_for_complete()
        assert chat.provider.closed == 1  # the stream was closed
        assert app.store is not None and conversation_id is not None
        _, stored = app.store.load_conversation(conversation_id)
        assert (stored.messages[-1].content, stored.messages[-1].finish_reason) == ("partial", "cancelled")
        assert not chat_screen(pilot).query_one(TabBar).display  # one tab left: no bar


async def test_a_held_ctrl_w_empties_the_prompt_but_closes_no_tab(
    open_chat: OpenChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_chat([Finish("stop", "stop")]) as chat:
        pilot, app = chat.pilot, chat.app
        second = await new_tab(pilot)
        second.query_one(PromptInput).insert("two words")
        monkeypatch.setattr(chat_tabs, "REPEAT_GUARD", 3600.0)  # every press counts as the key held
        await pilot.press("ctrl+w", "ctrl+w", "ctrl+w", "ctrl+w")
        assert second.query_one(PromptInput).text == ""
        assert len(tabs(app)) == 2 and app.screen is second  # the repeats after the last word: nothing
        monkeypatch.setattr(chat_tabs, "REPEAT_GUARD", 0.0)  # the key let go and pressed again
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: len(tabs(app)) == 1 and app.screen is chat.screen)


async def test_tab_commands_and_marks(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    failing = [gate, ContentDelta("half"), ServerError("the server fell over", status=500)]
    async with open_chat([ContentDelta("fine"), Finish("stop", "stop")], failing) as chat:
        pilot, app = chat.pilot, chat.app
        await send(pilot, "/tab new")
        await wait_until(pilot, lambda: len(tabs(app)) == 2 and app.screen is tabs(app)[1])
        await send(pilot, "/tab 1")
        await wait_until(pilot, lambda: app.screen is tabs(app)[0])
        await send(pilot, "hello one")
        await wait_until(pilot, lambda: not chat.screen.streaming and len(chat.screen.conversation.messages) == 2)
        await send(pilot, "/tab next")
        await wait_until(pilot, lambda: app.screen is tabs(app)[1])
        await send(pilot, "will fail")
        await wait_until(pilot, lambda: tabs(app)[1].streaming)
        await send(pilot, "/tab prev")
        await wait_until(pilot, lambda: app.screen is tabs(app)[0])
        gate.set()
        await wait_until(pilot, lambda: not tabs(app)[1].streaming)
        await wait_until(pilot, lambda: "✖" in bar_text(pilot))  # an error not seen yet
        await send(pilot, "/tab list")
        await wait_until(pilot, lambda: "2 will fail (failed)" in notes(app))  # (spaces folded)
        assert "▸ 1 hello one" in notes(app)
        await send(pilot, "/tab 7")
        await wait_until(pilot, lambda: "There is no tab 7." in notes(app))
        await send(pilot, "/tab sideways")
        await wait_until(pilot, lambda: "Usage: /tab" in notes(app))
        await pilot.press("ctrl+pagedown")
        await wait_until(pilot, lambda: app.screen is tabs(app)[1])
        await wait_until(pilot, lambda: "✖" not in bar_text(pilot))  # seen
        await send(pilot, "/tab close")  # not streaming: closes at once
        await wait_until(pilot, lambda: len(tabs(app)) == 1 and app.screen is tabs(app)[0])
        await send(pilot, "/tab close")
        await wait_until(pilot, lambda: "This is the only tab." in notes(app))


async def test_a_new_tab_keeps_the_visible_tabs_model_and_system_prompt(open_chat: OpenChat) -> None:
    async with open_chat([ContentDelta("ok"), Finish("stop", "stop")]) as chat:
        pilot = chat.pilot
        await send(pilot, "/model other-model")
        await send(pilot, "/system be brief")
        await wait_until(pilot, lambda: chat.screen.model == "other-model" and chat.screen.conversation.system)
        second = await new_tab(pilot)
        assert (second.model, second.conversation.system) == ("other-model", "be brief")
        assert second.conversation.messages == [] and second.session is not chat.screen.session
        await pilot.click(TabBar, offset=(2, 0))  # a click on tab 1's number in the bar
        await wait_until(pilot, lambda: chat.app.screen is chat.screen)


def stored_conversation(store: Store, text: str) -> str:
    cid = store.create_conversation("fake", "m", None)
    question = store.add_message(cid, Message("user", text))
    store.add_message(cid, Message("assistant", f"answer to {text}", finish_reason="stop"), question)
    return cid


async def test_open_tabs_come_back_and_a_deleted_conversation_is_skipped(tmp_path: Path) -> None:
    db, ui_state = tmp_path / "history.db", tmp_path / "state" / "ui.json"
    with Store(db) as store:
        kept, gone, active = (stored_conversation(store, t) for t in ("kept one", "gone one", "active one"))
    provider = FakeProvider([ContentDelta("x"), Finish("stop", "stop")])

    def make() -> LlmChatApp:
        return LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=db, ui_state=ui_state)

    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(tabs(app)) == 1 and app.screen.is_mounted)
        for cid in (kept, gone, active):
            app.tabs.open_tab(cid)
        await wait_until(pilot, lambda: len(tabs(app)) == 4 and app.screen is tabs(app)[3])
        await wait_until(pilot, lambda: len(chat_screen(pilot).conversation.messages) == 2)
        await send(pilot, "/model tab-four-model")
        await wait_until(pilot, lambda: chat_screen(pilot).model == "tab-four-model")
        await pilot.press("alt+4")
        await send(pilot, "/tab 4")  # (where Alt+digit does not arrive as such)
        await wait_until(pilot, lambda: app.screen is tabs(app)[3])
    saved = json.loads((tmp_path / "state" / "tabs.json").read_text())
    assert [t["conversation"] for t in saved["tabs"]] == [None, kept, gone, active]
    assert saved["active"] == 3

    with Store(db) as store:
        store.delete(gone)
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(tabs(app)) == 3 and app.screen.is_mounted)
        assert app.screen is tabs(app)[2]  # the tab that was visible
        await wait_until(pilot, lambda: [m.content for m in chat_screen(pilot).conversation.messages]
                         == ["active one", "answer to active one"])
        assert "no longer in the history" in notes(app)
        assert chat_screen(pilot).model == "tab-four-model"  # each tab keeps its own model
        assert tabs(app)[0].model == tabs(app)[1].model != "tab-four-model"
        assert "kept one" in bar_text(pilot)  # a restored tab's title, before it ever showed
        assert not tabs(app)[1].is_mounted  # it mounts when it first shows
        await pilot.press("ctrl+pageup")
        await wait_until(pilot, lambda: app.screen is tabs(app)[1] and len(tabs(app)[1].conversation.messages) == 2)
        assert tabs(app)[1].recorder.conversation_id == kept
        assert tabs(app)[0].tab_conversation() is None


async def test_a_damaged_tabs_file_is_skipped_with_a_note(tmp_path: Path) -> None:
    ui_state = tmp_path / "ui.json"
    for damage in ("{not json", '{"tabs": "three", "active": 0}', '{"tabs": [{"conversation": 5}]}'):
        (tmp_path / "tabs.json").write_text(damage)
        app = LlmChatApp(fake_settings(), provider=FakeProvider([Finish("stop", "stop")]), theme_dirs=THEME_DIRS,
                         history=tmp_path / "history.db", ui_state=ui_state)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(tabs(app)) == 1 and isinstance(app.screen, ChatScreen))
            await wait_until(pilot, lambda: "the tabs start afresh" in notes(app))
        # the file is written afresh, one tab
        assert [t["conversation"] for t in json.loads((tmp_path / "tabs.json").read_text())["tabs"]] == [None]


async def test_one_saved_tab_starts_afresh_as_before_tabs(tmp_path: Path) -> None:
    db, ui_state = tmp_path / "history.db", tmp_path / "ui.json"
    with Store(db) as store:
        cid = stored_conversation(store, "last time")
    (tmp_path / "tabs.json").write_text(json.dumps({"version": 1, "active": 0, "tabs": [{"conversation": cid}]}))
    app = LlmChatApp(fake_settings(), provider=FakeProvider([Finish("stop", "stop")]), theme_dirs=THEME_DIRS,
                     history=db, ui_state=ui_state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(tabs(app)) == 1 and app.screen.is_mounted)
        assert chat_screen(pilot).conversation.messages == []


async def test_a_saved_tab_whose_provider_is_gone_uses_the_default(tmp_path: Path) -> None:
    (tmp_path / "tabs.json").write_text(json.dumps({"version": 1, "active": 1, "tabs": [
        {"conversation": None, "provider": "no-such-profile", "model": "m1"},
        {"conversation": None, "provider": "fake", "model": "m2"}]}))
    app = LlmChatApp(fake_settings(), provider=FakeProvider([Finish("stop", "stop")]), theme_dirs=THEME_DIRS,
                     history=tmp_path / "history.db", ui_state=tmp_path / "ui.json")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(tabs(app)) == 2 and app.screen is tabs(app)[1] and app.screen.is_mounted)
        assert chat_screen(pilot).model == "m2"
        await wait_until(pilot, lambda: "Tab 1:" in notes(app) and "no-such-profile" in notes(app))
        assert tabs(app)[0].provider.name == "fake"  # the default provider, its default model
        assert tabs(app)[0].model == app.settings.provider.model


async def test_quitting_keeps_a_hidden_tabs_partial_reply_marked_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    never = asyncio.Event()
    provider = FakeProvider([ContentDelta("half an answer"), never])
    app = LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=db,
                     ui_state=tmp_path / "ui.json")
    async with app.run_test(size=SIZE) as pilot:
        first = chat_screen(pilot)
        await send(pilot, "a question")
        await wait_until(pilot, lambda: first.accumulator is not None and first.accumulator.content == "half an answer")
        await new_tab(pilot)
        conversation_id = first.recorder.conversation_id
        await pilot.press("ctrl+q")
    assert conversation_id is not None
    with Store(db) as store:
        _, stored = store.load_conversation(conversation_id)
    assert (stored.messages[-1].content, stored.messages[-1].finish_reason) == ("half an answer", "cancelled")


async def test_a_hidden_tabs_tool_approval_comes_up_on_the_visible_tab_and_names_its_tab(open_chat: OpenChat) -> None:
    from llmchat.chat.tools import Tool, ToolRegistry
    from llmchat.providers.events import ToolCallDelta
    from llmchat.tui.screens.approve import ToolApprovalScreen

    ran: list[object] = []

    async def shout(arguments: dict[str, object]) -> str:
        ran.append(arguments)
        return "HI"

    gate = asyncio.Event()
    asks = [gate, ToolCallDelta(0, "c1", "shout", '{"text": "hi"}'), Finish("tool_calls", "tool_calls")]
    tools = ToolRegistry([Tool("shout", "Upper-case a text", {"type": "object"}, handler=shout, read_only=False)])
    async with open_chat(asks, [ContentDelta("Done"), Finish("stop", "stop")], registry=tools) as chat:
        pilot, app, first = chat.pilot, chat.app, chat.screen
        await send(pilot, "shout hi")
        second = await new_tab(pilot)
        gate.set()
        await wait_until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        assert 'Asked in the tab "shout hi"' in app.screen.description
        await pilot.press("y")
        await wait_until(pilot, lambda: not first.streaming and first.conversation.messages[-1].content == "Done")
        assert ran == [{"text": "hi"}] and app.screen is second
