"""A 2,000 tokens/s reply for 60 s leaves the session responsive to typing and scrolling.

The loopback server streams a generated Markdown reply (headings, lists, tables, code, quotes:
benchmarks/markdown_doc.py) at 2,000 tokens/s, a batch every 10 ms paced on the clock, into the
real app over real sockets. Meanwhile a letter is typed into the prompt every 0.25 s and the
transcript is scrolled with the mouse wheel now and then (up, which stops the view following
the stream, and down; then the view goes back to the end and follows the stream again). Each key press is timed from the
posted event to the prompt's ``TextArea.Changed``, each wheel step to the transcript's scroll
offset changing. The bounds are far above what the app does (median a few milliseconds, worst a
few hundred on a loaded 2-core machine) and far below what a UI that stops handling input while
it renders would show (seconds). At the end the whole reply must be rendered, and every letter
typed must be in the prompt.

A wheel step is delivered to the widget under the pointer; while the view follows the stream
that widget may be replaced before it handles the event, and Textual then drops it (rarely: a
step in ten at most here). Such a step is counted as lost, not timed; most must arrive.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from functools import partial
from typing import Any

import pytest
from textual import events
from textual.message import Message
from textual.widgets import Static, TextArea

from benchmarks.markdown_doc import markdown_reply
from llmchat import paths
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.transcript import Transcript
from tests.loopback import LoopbackServer, Reply, Request, chunk, sse
from tests.tui.helpers import chat_screen, make_app

RATE = 2000
"""Tokens per second."""
SECONDS = 60
BATCH_MS = 10
PRESS_EVERY = 0.25
MEDIAN_BOUND = 0.150
"""Seconds: the median time to handle a key press or a wheel step."""
MAX_BOUND = 2.0
"""Seconds: the longest time to handle one."""
LOST_AFTER = 2.0
"""Seconds after which a wheel step that scrolled nothing counts as lost."""


def paced_reply(tokens: list[str], sent: dict[str, float]) -> Reply:
    """`tokens` at RATE per second, a batch every BATCH_MS, on the clock from the first batch;
    `sent` gets the time of the last content chunk ("last")."""
    per_batch = RATE * BATCH_MS // 1000
    start: list[float] = []

    def begin() -> None:
        start.append(time.monotonic())

    def until(due: float) -> Any:
        return lambda: start[0] + due - time.monotonic()

    def last() -> None:
        sent["last"] = time.monotonic()

    parts: list[Any] = [sse(chunk("", role=True), done=False), begin]
    for i in range(0, len(tokens), per_batch):
        parts += [until(i / RATE), sse(*[chunk(t) for t in tokens[i : i + per_batch]], done=False)]
    parts += [last, sse(chunk(finish="stop"))]
    return Reply(parts=parts)


class Typist(threading.Thread):
    """Types and scrolls from its own thread, as a terminal driver delivers input, so that its
    clock keeps running while the app's event loop is busy: a key press is timed from the moment
    its event is handed to the loop to the prompt's ``TextArea.Changed``, a wheel step to the
    transcript's scroll offset changing."""

    def __init__(self, app: LlmChatApp, transcript: Transcript, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(daemon=True)
        self.app, self.transcript, self.loop = app, transcript, loop
        # Read on the app's loop: a widget's region asks the compositor, which may arrange the
        # screen, and arranging needs the app's context (a thread has none).
        region = transcript.region
        self.pointer = (region.x + region.width // 2, region.y + region.height // 2)
        self.changed: list[float] = []
        """When the prompt's TextArea.Changed arrived (appended by the message hook)."""
        self.stop = threading.Event()
        self.typed = ""
        self.keys: list[float] = []
        self.wheel: list[float | None] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            step = 0
            while not self.stop.wait(PRESS_EVERY):
                step += 1
                self.press("abcdefghijklmnopqrstuvwxyz"[len(self.typed) % 26])
                if step % 8 in (4, 6) and self.transcript.scroll_y > 10:  # two wheel steps up, ...
                    self.scroll(up=True)
                elif step % 8 == 7:  # ... one down, then back to the end: following the stream again
                    self.scroll(up=False)
                    self.loop.call_soon_threadsafe(partial(self.transcript.scroll_end, animate=False))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def press(self, letter: str) -> None:
        count = len(self.changed)
        self.typed += letter
        posted = time.monotonic()
        self.loop.call_soon_threadsafe(self.app.post_message, events.Key(letter, letter))
        while len(self.changed) == count:
            if time.monotonic() - posted > 10:
                raise AssertionError(f"key press {letter!r} not handled in 10 s")
            time.sleep(0.0005)
        self.keys.append(self.changed[count] - posted)

    def scroll(self, *, up: bool) -> None:
        x, y = self.pointer
        kind = events.MouseScrollUp if up else events.MouseScrollDown
        before = self.transcript.scroll_y
        posted = time.monotonic()
        event = kind(None, x, y, 0, 0, 0, False, False, False, screen_x=x, screen_y=y)
        self.loop.call_soon_threadsafe(self.app.post_message, event)
        while self.transcript.scroll_y == before:
            if time.monotonic() - posted > LOST_AFTER:
                self.wheel.append(None)
                return
            time.sleep(0.0005)
        self.wheel.append(time.monotonic() - posted)


@pytest.mark.timeout(240)
async def test_two_thousand_tokens_per_second_for_a_minute_leave_typing_and_scrolling_responsive() -> None:
    tokens = markdown_reply(RATE * SECONDS)
    text = "".join(tokens)
    sent: dict[str, float] = {}

    def handler(request: Request) -> Reply:
        return paced_reply(tokens, sent)

    changed: list[float] = []
    seen: list[Message] = []

    def hook(message: Message) -> None:
        # Called at every node the message reaches: count each message once.
        prompt_changed = isinstance(message, TextArea.Changed) and isinstance(message.text_area, PromptInput)
        if prompt_changed and all(message is not other for other in seen[-8:]):
            seen.append(message)
            changed.append(time.monotonic())

    with LoopbackServer(handler) as server:
        settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test"})
        app = LlmChatApp(settings, theme_dirs=(paths.builtin_themes_dir(),))
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            screen = chat_screen(pilot)
            prompt = screen.query_one(PromptInput)
            transcript = screen.query_one(Transcript)
            prompt.insert("stream please")
            await pilot.pause()
            cleared = len(changed) + 1
            # Posted, not pilot.press(): the pilot waits for the app to be idle, which it is
            # not while a reply streams.
            app.post_message(events.Key("enter", None))
            await asyncio.wait_for(_until(lambda: len(changed) >= cleared and screen.streaming), 10)
            body = screen.query(MessageView).last().body
            assert isinstance(body, StreamingMarkdown)

            typist = Typist(app, transcript, asyncio.get_running_loop())
            typist.changed = changed
            typist.start()
            try:
                await asyncio.wait_for(_until(lambda: "last" in sent or not typist.is_alive()), SECONDS + 60)
            finally:
                typist.stop.set()
                await asyncio.to_thread(typist.join, 15)
            if typist.error is not None:
                raise typist.error

            await asyncio.wait_for(_until(lambda: not screen.streaming), 60)
            await app.workers.wait_for_complete()
            await pilot.pause()

            assert prompt.text == typist.typed, "a key press got lost"
            assert body.source == text and body.finished and not body.pending
            assert body.rendered_length == len(body.source), "the reply is not all rendered"
            assert screen.conversation.messages[-1].content == text

    keys, wheel = typist.keys, typist.wheel
    scrolled = [t for t in wheel if t is not None]
    assert len(keys) >= SECONDS and len(wheel) >= SECONDS // 8  # enough samples
    assert len(scrolled) >= 0.75 * len(wheel), f"{len(wheel) - len(scrolled)} of {len(wheel)} wheel steps lost"
    for name, times in (("key press", keys), ("wheel step", scrolled)):
        median, worst = statistics.median(times), max(times)
        assert median < MEDIAN_BOUND, f"{name}: median {1000 * median:.0f} ms over {len(times)}"
        assert worst < MAX_BOUND, f"{name}: worst {1000 * worst:.0f} ms over {len(times)}"


async def _until(condition: Any, step: float = 0.005) -> None:
    while not condition():
        await asyncio.sleep(step)


class Swallower(Static):
    """Stands for a widget that never passes a wheel step on (one that a streaming reply
    replaced before it handled the step: Textual drops the step with it)."""

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()


async def test_a_wheel_step_over_the_transcript_goes_to_the_transcript() -> None:
    """The app hands a vertical wheel step over the transcript to the transcript itself, not to
    the widget under the pointer (Textual's way, from which it bubbles up a dozen levels of
    Markdown widgets, each a message queue behind the render work, and is lost with a widget that
    goes away before handling it)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = chat_screen(pilot).query_one(Transcript)
        await transcript.mount_all([Swallower(f"Line {n} of a long reply.") for n in range(60)])
        await pilot.pause()
        transcript.scroll_end(animate=False)
        await pilot.pause()
        before = transcript.scroll_y
        region = transcript.region
        x, y = region.x + region.width // 2, region.y + region.height // 2
        assert isinstance(app.get_widget_at(x, y)[0], Swallower) and before > 10
        app.post_message(events.MouseScrollUp(None, x, y, 0, 0, 0, False, False, False, screen_x=x, screen_y=y))
        await pilot.pause()
        assert transcript.scroll_y == before - app.scroll_sensitivity_y
