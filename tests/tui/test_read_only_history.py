"""A history the session may not write is opened read-only, as ``llmchat history`` opens it:
one notice, the stored conversations can be listed and opened, replies go on in memory, and
the file is left untouched. A history of a newer llmchat is never opened (one notice)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from llmchat.providers.events import ContentDelta, Finish
from llmchat.store.migrations import schema_version
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.history import HistoryScreen
from llmchat.tui.widgets.message_view import MessageView
from tests.fakes import FakeProvider
from tests.test_history_access import bump_version, files_of, make_history, read_only
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until

REPLY = [ContentDelta("A new answer."), Finish("stop", "stop")]


def app_with(db: Path, provider: FakeProvider) -> LlmChatApp:
    return LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=db)


def history_notes(app: LlmChatApp) -> list[str]:
    return [n.message for n in app._notifications if n.title == "History"]


def shown(app: LlmChatApp) -> list[str]:
    """The text of each message on screen (an assistant's as its Markdown source)."""
    return [view.copy_text for view in chat_screen(app).query(MessageView)]  # type: ignore[arg-type]


async def test_an_unwritable_history_opens_read_only_with_one_notice(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.db"
    make_history(db)
    provider = FakeProvider(REPLY)
    with read_only(db.parent):
        before = files_of(db.parent)
        app = app_with(db, provider)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: history_notes(app))
            (note,) = history_notes(app)
            assert "read-only" in note and str(db) in note and "new replies will not be stored" in note
            assert "\n" not in note
            assert app.store is not None and app.store.read_only
            # the stored conversation can be found and opened
            await pilot.press("ctrl+o")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
            listing = app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: listing.option_count == 1 and listing.highlighted == 0)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "The old answer." in shown(app))
            # and continued in memory, with no error about the history
            await send(pilot, "And now?")
            await wait_until(pilot, lambda: "A new answer." in shown(app))
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert [m["content"] for m in provider.requests[-1].messages] == [
                "What is stored?", "The old answer.", "And now?"]
            assert history_notes(app) == [note]
            assert not [n for n in app._notifications if n.severity == "error"]
        assert files_of(db.parent) == before


async def test_a_newer_history_is_left_alone_with_one_notice(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    make_history(db)
    bump_version(db, version=schema_version() + 1)
    before = files_of(tmp_path)
    app = app_with(db, FakeProvider(REPLY))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: history_notes(app))
        (note,) = history_notes(app)
        assert "History is off for this session" in note and "newer llmchat" in note and "\n" not in note
        assert app.store is None
        await send(pilot, "Hello")
        await wait_until(pilot, lambda: "A new answer." in shown(app))
        await app.workers.wait_for_complete()
    assert files_of(tmp_path) == before
