"""Typing in one tab while other tabs stream: how long each key press takes, and what showing a
background tab costs.

The loopback server streams a generated Markdown reply (benchmarks/markdown_doc.py) at --rate
tokens/s, a batch every 10 ms paced on the clock, into --tabs background tabs of the real app
over real sockets (each reply is stored as it arrives, as in any tab). The visible tab is idle
and a letter is typed into its prompt every 0.25 s; each press is timed from the posted key
event to the prompt's ``TextArea.Changed``. Then the first tab is shown: the time until its
finished reply is rendered (its Markdown waited while the tab was hidden) is printed too.

Compare with ``--tabs 0`` (nothing streams) and with benchmarks/tui_load.py (one stream in
the visible tab). Figures in docs/performance.md.

Run from the repo root: python benchmarks/tui_tabs.py [--tabs 4] [--seconds 20] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from benchmarks.markdown_doc import markdown_reply
from benchmarks.tui_load import PRESS_EVERY, RATE, paced_reply, until
from llmchat import paths
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.loopback import LoopbackServer, Reply, Request

P95_TARGET = 0.050
"""Seconds: the 95th percentile of a key press while background tabs stream (issue 16)."""


class KeyTimer(threading.Thread):
    """Presses a letter every PRESS_EVERY seconds from its own thread (as a terminal driver
    delivers input) and times each one to the prompt's TextArea.Changed."""

    def __init__(self, app: LlmChatApp, loop: asyncio.AbstractEventLoop, changed: list[float]) -> None:
        super().__init__(daemon=True)
        self.app, self.loop, self.changed = app, loop, changed
        self.stop = threading.Event()
        self.keys: list[float] = []
        self.typed = ""

    def run(self) -> None:
        while not self.stop.wait(PRESS_EVERY):
            letter = "abcdefghijklmnopqrstuvwxyz"[len(self.typed) % 26]
            count = len(self.changed)
            self.typed += letter
            posted = time.monotonic()
            self.loop.call_soon_threadsafe(self.app.post_message, events.Key(letter, letter))
            while len(self.changed) == count:
                if time.monotonic() - posted > 60:
                    return
                time.sleep(0.0005)
            self.keys.append(self.changed[count] - posted)


async def run_tabs(tabs: int, seconds: float, rate: float) -> tuple[list[float], float | None, bool]:
    """Returns the key press times, the seconds to render the first tab's reply once shown
    (None with no tabs), and whether every reply was complete and stored."""
    tokens = markdown_reply(int(rate * seconds))
    text = "".join(tokens)
    finished: list[float] = []

    def handler(request: Request) -> Reply:
        sent: dict[str, float] = {}
        reply = paced_reply(tokens, sent, rate)
        reply.parts.insert(-1, lambda: finished.append(time.monotonic()))
        return reply

    changed: list[float] = []
    seen: list[Message] = []

    def hook(message: Message) -> None:
        prompt_changed = isinstance(message, TextArea.Changed) and isinstance(message.text_area, PromptInput)
        if prompt_changed and all(message is not other for other in seen[-8:]):
            seen.append(message)
            changed.append(time.monotonic())

    with LoopbackServer(handler) as server, tempfile.TemporaryDirectory() as scratch:
        settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test"})
        # The history and the tabs file in a directory of their own, not the user's.
        app = LlmChatApp(settings, theme_dirs=(paths.builtin_themes_dir(),), history=Path(scratch) / "history.db",
                         ui_state=Path(scratch) / "ui.json")
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            streaming: list[ChatScreen] = []
            for _ in range(tabs):
                screen = app.screen
                assert isinstance(screen, ChatScreen)
                screen.query_one(PromptInput).insert("stream please")
                await pilot.pause()
                app.post_message(events.Key("enter", None))
                await until(lambda: screen.streaming)
                streaming.append(screen)
                app.tabs.open_tab()
                await until(lambda: app.screen is app.tabs.screens[-1] and app.screen.is_mounted)
            if not tabs:
                await pilot.pause()
            timer = KeyTimer(app, asyncio.get_running_loop(), changed)
            timer.start()
            started = time.monotonic()
            try:
                await until(lambda: len(finished) == tabs and time.monotonic() - started > (0 if tabs else seconds))
            finally:
                timer.stop.set()
                await asyncio.to_thread(timer.join, 60)
            await until(lambda: not any(s.streaming for s in streaming))
            complete = all(s.conversation.messages[-1].content == text for s in streaming)
            shown: float | None = None
            if streaming:
                body = streaming[0].query(MessageView).last().body
                assert isinstance(body, StreamingMarkdown)
                complete = complete and body.rendered_length == 0  # nothing rendered while hidden
                began = time.monotonic()
                app.tabs.go_tab(1)
                await until(lambda: body.rendered_length == len(text) and not body.pending)
                shown = time.monotonic() - began
            return timer.keys, shown, complete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, default=4, help="background tabs streaming at once")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=RATE, help="tokens per second, per tab")
    args = parser.parse_args()
    keys, shown, complete = asyncio.run(run_tabs(args.tabs, args.seconds, args.rate))
    keys.sort()
    p95 = keys[min(len(keys) - 1, int(0.95 * len(keys)))] if keys else float("nan")
    print(f"{args.tabs} background tab(s) at {args.rate:g} tokens/s for {args.seconds:g} s; {len(keys)} key presses")
    print(f"  key press  median {1000 * statistics.median(keys):6.1f} ms  p95 {1000 * p95:6.1f} ms  "
          f"worst {1000 * keys[-1]:7.1f} ms  (p95 target {1000 * P95_TARGET:.0f} ms: "
          f"{'met' if p95 < P95_TARGET else 'MISSED'})")
    if shown is not None:
        print(f"  showing tab 1 rendered its finished reply in {1000 * shown:.0f} ms")
    print(f"every reply complete and stored, nothing rendered while hidden: {complete}")


if __name__ == "__main__":
    main()
