"""Snapshot: a selected answer that has siblings shows its branch counter ("branch 2/3") in its
hint line (see tests/tui/test_snapshots.py for how snapshots are kept stable and updated)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from llmchat.chat.models import Message
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.message_view import MessageView
from tests.tui.helpers import THEME_DIRS, fake_settings, wait_until
from tests.tui.test_snapshots import (  # noqa: F401 - fixtures used by name
    FINISHED,
    SIZE,
    FakeClock,
    ScriptedProvider,
    Snap,
    chat_ready,
    clock,
    fixed_terminal,
)


def three_answers(db: Path) -> None:
    """One question answered three times; the second answer is the current branch."""
    with Store(db, clock=lambda: 1_750_000_000.0) as store:
        cid = store.create_conversation("openai", "gpt-4o-mini", None)
        question = store.add_message(cid, Message("user", "Name a prime number."))
        answers = [store.add_message(cid, Message("assistant", text, finish_reason="stop"), question)
                   for text in ("**2** is the only even prime.", "**7** is prime.", "**13** is prime.")]
        store.set_current_leaf(answers[1])


async def second_answer_selected(pilot: Pilot[None]) -> None:
    screen = await chat_ready(pilot)
    await wait_until(pilot, lambda: len(screen.query(MessageView)) == 2)
    answer = screen.query(MessageView).last()
    answer.focus()
    await wait_until(pilot, lambda: answer.branch == (2, 3))
    for toast in pilot.app.screen.query("Toast"):  # the "Opened" toast fades out by itself
        toast.remove()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_selected_answer_shows_its_branch_counter(snap_compare: Snap, clock: FakeClock,  # noqa: F811
                                                   tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    three_answers(db)
    app = LlmChatApp(fake_settings(LLMCHAT_MODEL="gpt-4o-mini"), provider=ScriptedProvider(clock, FINISHED),
                     theme_dirs=THEME_DIRS, history=db, conversation="latest")
    assert snap_compare(app, terminal_size=SIZE, run_before=second_answer_selected)
