"""Progress where the user looks: the spinner and live figures under a reply, long pastes that
stay one message without freezing the prompt, and exports of long conversations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events

from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, Finish, Retrying, Usage
from llmchat.tui.widgets.message_view import SPINNER, MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    SIZE,
    chat_screen,
    fake_settings,
    make_app,
    message_views,
    plain_text,
    send,
    wait_until,
)

LINE = "def f(x):  return x * 2  # a line of code of about sixty characters\n"


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def progress(view: MessageView) -> str:
    return plain_text(view.progress) if view.progress.display else ""


async def test_spinner_while_waiting_then_live_figures_then_nothing(open_chat: OpenChat) -> None:
    first, more = asyncio.Event(), asyncio.Event()
    provider = FakeProvider([first, *[ContentDelta(f"w{i} ") for i in range(40)], more,
                             Usage(3, 41, 44), Finish("stop", "stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "hi")
        view = message_views(pilot)[1]
        await wait_until(pilot, lambda: "waiting for first token…" in progress(view))
        assert progress(view)[0] in SPINNER and progress(view).endswith(" s")
        def waited() -> float:
            return float(progress(view).split("…")[1].split()[0])

        shown = waited()
        await wait_until(pilot, lambda: waited() > shown)  # the time waited counts up

        first.set()
        # Deltas are counted until usage comes (the line is refreshed ten times a second: it may
        # show a count from before the last deltas first).
        await wait_until(pilot, lambda: progress(view).startswith("~40 tokens · ") and "tok/s" in progress(view))

        more.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.streaming
        assert not view.progress.display  # the reply ended: the line is gone
        assert not view.status.display


async def test_retry_countdown_under_the_reply(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    provider = FakeProvider([Retrying(1, 3.0, "HTTP 503"), gate, ContentDelta("ok"), Finish("stop", "stop")])
    async with open_chat(provider) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "hi")
        view = message_views(pilot)[1]
        await wait_until(pilot, lambda: "retrying in" in progress(view))
        assert "(attempt 1)" in progress(view)
        left = float(progress(view).split("retrying in ")[1].split()[0])
        await wait_until(pilot, lambda: float(progress(view).split("retrying in ")[1].split()[0]) < left)  # counts down
        gate.set()
        await app.workers.wait_for_complete()


async def test_a_one_megabyte_paste_is_one_placeholder_and_one_message(open_chat: OpenChat) -> None:
    text = (LINE * (1_000_000 // len(LINE) + 1))[:1_000_000]
    provider = FakeProvider([ContentDelta("got it"), Finish("stop", "stop")])
    # a model with no known context window: 1 MB of code would not fit gpt-4o-mini's (the
    # session would warn first, tests/tui/test_meter_tui.py)
    async with open_chat(provider, settings=fake_settings(LLMCHAT_MODEL="local-model")) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        prompt = screen.query_one(PromptInput)
        prompt.insert("Review this: ")
        app.post_message(events.Paste(text))
        await wait_until(pilot, lambda: "[Pasted text #1:" in prompt.text)
        await pilot.pause()
        assert prompt.text == "Review this: [Pasted text #1: 14,706 lines, 1.0 MB]"
        prompt.insert(" thanks")  # typing stays cheap: the prompt holds one short line

        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        sent = f"Review this: {text} thanks"
        assert [m.content for m in screen.conversation.messages] == [sent, "got it"]
        assert provider.requests[0].messages[-1]["content"] == sent
        user = message_views(pilot)[0]
        assert "more lines (1.0 MB in all" in plain_text(user.more)
        assert len(plain_text(user.body)) < 10_000  # only the start is laid out
        await pilot.press("shift+tab", "up")  # select the answer, then the message above it
        assert screen.focused is user
        await pilot.press("c")
        assert app.clipboard == sent  # copying takes all of it
        assert prompt.text == ""


async def test_a_short_paste_goes_in_as_text_and_backspace_deletes_a_placeholder_whole(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider([ContentDelta("x"), Finish("stop", "stop")])) as chat:
        app, pilot = chat.app, chat.pilot
        prompt = chat_screen(pilot).query_one(PromptInput)
        app.post_message(events.Paste("short\npaste"))
        await wait_until(pilot, lambda: prompt.text == "short\npaste")
        prompt.clear()
        app.post_message(events.Paste("x\n" * 300))
        await wait_until(pilot, lambda: prompt.text.startswith("[Pasted text #1: 300 lines"))  # not 301
        await pilot.press("backspace")
        assert prompt.text == ""
        assert prompt.expand("[Pasted text #1: 300 lines, 1 kB]") == "x\n" * 300
        app.post_message(events.Paste("y\r" * 300))  # terminals send pasted newlines as CR
        await wait_until(pilot, lambda: prompt.text.startswith("[Pasted text #2: 300 lines"))
        assert prompt.expand(prompt.text) == "y\n" * 300


async def test_a_long_queued_message_goes_back_to_the_prompt_as_a_placeholder() -> None:
    gate = asyncio.Event()
    app = make_app(FakeProvider([ContentDelta("a1 "), gate, Finish("stop", "stop")]))
    big = LINE * 500
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        prompt = screen.query_one(PromptInput)
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.streaming)
        app.post_message(events.Paste(big))
        await wait_until(pilot, lambda: prompt.text.startswith("[Pasted text #1"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.queue) == 1)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: prompt.text.startswith("[Pasted text #2: 500 lines"))  # 500 lines, each ending in a newline
        assert prompt.expand(prompt.text) == big


@pytest.mark.timeout(180)
async def test_export_of_a_long_conversation_runs_in_a_worker_and_announces_its_count(open_chat: OpenChat, 
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_chat(FakeProvider([ContentDelta("x"), Finish("stop", "stop")])) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        for n in range(1500):
            screen.conversation.messages.append(Message("user" if n % 2 == 0 else "assistant", f"message {n} " * 50))
        ticks = 0

        def tick() -> None:  # counts the timer ticks the screen ran while the export ran
            nonlocal ticks
            ticks += any(w.group == "export" and not w.is_finished for w in app.workers)

        screen.set_interval(0.001, tick)
        await send(pilot, "/export")
        assert "Exporting 1,500 messages…" in notes(app)
        await app.workers.wait_for_complete()
        await pilot.pause()
        files = list(tmp_path.glob("llmchat-*.md"))
        assert len(files) == 1
        text = files[0].read_text(encoding="utf-8")
        assert text.count("\n## You\n") == 750 and text.count("\n## Assistant\n") == 750
        assert "message 1499 " in text
        assert any(n.startswith("Exported 1,500 messages to ") for n in notes(app))
        assert ticks > 0  # the screen kept running while the export was formatted and written


async def test_a_short_export_is_not_announced(open_chat: OpenChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_chat(FakeProvider([ContentDelta("answer"), Finish("stop", "stop")])) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "q")
        await app.workers.wait_for_complete()
        await send(pilot, "/export")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not any(n.startswith("Exporting") for n in notes(app))
        assert any(n.startswith("Exported 2 messages to ") for n in notes(app))
