"""Typing and scrolling while a reply streams at 2,000 tokens/s: how long each input takes.

The loopback server streams a generated Markdown reply (headings, lists, tables, code, quotes:
benchmarks/markdown_doc.py) at --rate tokens/s, a batch every 10 ms paced on the clock, into the
real app over real sockets. Meanwhile a letter is typed into the prompt every 0.25 s and the
transcript is scrolled with the mouse wheel now and then (up, which stops the view following
the stream, and down; then the view goes back to the end and follows the stream again). Each key
press is timed from the posted event to the prompt's ``TextArea.Changed``, each wheel step to the
transcript's scroll offset changing. Printed: median and worst of each against the targets
(median under 150 ms, worst under 2 s). tests/tui/test_load_rate.py runs the same scenario,
shorter, and checks behaviour only (every letter typed arrives, the whole reply is rendered,
wheel steps scroll): a loaded machine cannot fail it by being slow.

A wheel step is delivered to the widget under the pointer; while the view follows the stream
that widget may be replaced before it handles the event, and Textual then drops it. A step that
scrolled nothing within --lost-after seconds is counted as lost, not timed.

Run from the repo root: python benchmarks/tui_load.py [--seconds 60] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from benchmarks.markdown_doc import markdown_reply
from llmchat import paths
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.transcript import Transcript
from tests.loopback import LoopbackServer, Reply, Request, chunk, sse

RATE = 2000
"""Tokens per second."""
BATCH_MS = 10
PRESS_EVERY = 0.25
MEDIAN_TARGET = 0.150
"""Seconds: the median time to handle a key press or a wheel step."""
MAX_TARGET = 2.0
"""Seconds: the longest time to handle one."""


def paced_reply(tokens: list[str], sent: dict[str, float], rate: float = RATE) -> Reply:
    """`tokens` at `rate` per second, a batch every BATCH_MS, on the clock from the first batch;
    `sent` gets the time of the last content chunk ("last")."""
    per_batch = max(1, round(rate * BATCH_MS / 1000))
    start: list[float] = []

    def begin() -> None:
        start.append(time.monotonic())

    def until(due: float) -> Any:
        return lambda: start[0] + due - time.monotonic()

    def last() -> None:
        sent["last"] = time.monotonic()

    parts: list[Any] = [sse(chunk("", role=True), done=False), begin]
    for i in range(0, len(tokens), per_batch):
        parts += [until(i / rate), sse(*[chunk(t) for t in tokens[i : i + per_batch]], done=False)]
    parts += [last, sse(chunk(finish="stop"))]
    return Reply(parts=parts)


class Typist(threading.Thread):
    """Types and scrolls from its own thread, as a terminal driver delivers input, so that its
    clock keeps running while the app's event loop is busy: a key press is timed from the moment
    its event is handed to the loop to the prompt's ``TextArea.Changed``, a wheel step to the
    transcript's scroll offset changing."""

    def __init__(self, app: LlmChatApp, transcript: Transcript, loop: asyncio.AbstractEventLoop,
                 lost_after: float) -> None:
        super().__init__(daemon=True)
        self.app, self.transcript, self.loop, self.lost_after = app, transcript, loop, lost_after
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
            if time.monotonic() - posted > 60:
                raise AssertionError(f"key press {letter!r} not handled in 60 s")
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
            if time.monotonic() - posted > self.lost_after:
                self.wheel.append(None)
                return
            time.sleep(0.0005)
        self.wheel.append(time.monotonic() - posted)


@dataclass
class LoadResult:
    """What one run saw: the inputs and their times, and the reply as the app holds it."""

    typed: str
    """Every letter the typist pressed, in order."""
    prompt: str
    """The prompt's text at the end."""
    keys: list[float]
    """Seconds from each key event posted to the prompt's TextArea.Changed."""
    wheel: list[float | None]
    """Seconds from each wheel step posted to the scroll offset changing; None: lost."""
    text: str
    """The reply the server sent."""
    source: str
    rendered: int
    finished: bool
    stored: str
    """The reply's source in the transcript, how much of it is rendered, whether the view has
    finished, and the conversation's last message."""


async def run_load(seconds: float, rate: float = RATE, lost_after: float = 2.0) -> LoadResult:
    """Stream `seconds` of reply at `rate` tokens/s into the app while a Typist types and scrolls."""
    tokens = markdown_reply(int(rate * seconds))
    text = "".join(tokens)
    sent: dict[str, float] = {}

    def handler(request: Request) -> Reply:
        return paced_reply(tokens, sent, rate)

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
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            prompt = screen.query_one(PromptInput)
            transcript = screen.query_one(Transcript)
            prompt.insert("stream please")
            await pilot.pause()
            cleared = len(changed) + 1
            # Posted, not pilot.press(): the pilot waits for the app to be idle, which it is
            # not while a reply streams.
            app.post_message(events.Key("enter", None))
            await asyncio.wait_for(until(lambda: len(changed) >= cleared and screen.streaming), 60)
            body = screen.query(MessageView).last().body
            assert isinstance(body, StreamingMarkdown)

            typist = Typist(app, transcript, asyncio.get_running_loop(), lost_after)
            typist.changed = changed
            typist.start()
            try:
                await until(lambda: "last" in sent or not typist.is_alive())
            finally:
                typist.stop.set()
                await asyncio.to_thread(typist.join, 60)
            if typist.error is not None:
                raise typist.error

            await until(lambda: not screen.streaming)
            await app.workers.wait_for_complete()
            await pilot.pause()
            return LoadResult(
                typed=typist.typed, prompt=prompt.text, keys=typist.keys, wheel=typist.wheel, text=text,
                source=body.source, rendered=body.rendered_length, finished=body.finished and not body.pending,
                stored=screen.conversation.messages[-1].content,
            )


async def until(condition: Any, step: float = 0.005) -> None:
    """Return once `condition()` is true (polled on the loop)."""
    while not condition():
        await asyncio.sleep(step)


def report(result: LoadResult, seconds: float, rate: float) -> None:
    scrolled = [t for t in result.wheel if t is not None]
    print(f"{seconds:g} s at {rate:g} tokens/s; {len(result.keys)} key presses, {len(result.wheel)} wheel steps"
          f" ({len(result.wheel) - len(scrolled)} lost)")
    print(f"targets: median under {1000 * MEDIAN_TARGET:.0f} ms, worst under {1000 * MAX_TARGET:.0f} ms")
    for name, times in (("key press", result.keys), ("wheel step", scrolled)):
        if times:
            median, worst = statistics.median(times), max(times)
            verdict = "met" if median < MEDIAN_TARGET and worst < MAX_TARGET else "MISSED"
            print(f"  {name:10}  median {1000 * median:6.1f} ms  worst {1000 * worst:7.1f} ms  {verdict}")
    print(f"every letter arrived: {result.prompt == result.typed}; whole reply rendered:"
          f" {result.source == result.text and result.rendered == len(result.source) and result.finished}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=RATE, help="tokens per second")
    parser.add_argument("--lost-after", type=float, default=2.0, help="seconds after which a wheel step is lost")
    args = parser.parse_args()
    report(asyncio.run(run_load(args.seconds, args.rate, args.lost_after)), args.seconds, args.rate)


if __name__ == "__main__":
    main()
