"""Opening a long stored conversation: 2,000 messages, newest shown first, older ones on scrolling.

A temporary history gets a conversation of --messages messages (Markdown answers), then the
real app (App.run_test, --width x --height) opens it --runs times with
ChatScreen.open_conversation. Printed per open:

- on screen: from the call to the first screen refresh after it returned (the newest messages
  are painted: the page is mounted in one batch, so that refresh shows all of it);
- idle: until the app has nothing left to do (the "Opened" notification included).

Then scrolling: from the bottom, the transcript is scrolled up --scroll-step rows at a time, as a
mouse wheel does, --scrolls times (or until the top). Each step is timed from the scroll to the
refresh that shows it; a step that comes within a screen of the top loads a page of earlier
messages above (Transcript presses "Show earlier messages"), timed to the refresh that shows the
page. The messages mounted are counted: only what the user scrolled through is mounted.

Run from the repo root: python benchmarks/tui_open.py [--messages 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmchat.chat.models import Message
from llmchat.config import load_settings
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.transcript import Transcript
from tests.fakes import FakeProvider

ANSWER = "Here is **an answer** with a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n"
TARGET_MS = 300


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def next_refresh(screen: ChatScreen) -> float:
    """Wait for the next screen refresh; return its time."""
    done = asyncio.Event()
    screen.call_after_refresh(done.set)
    await done.wait()
    return time.perf_counter()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        with Store(db) as store:
            cid = store.create_conversation("bench", "m", None)
            for i in range(args.messages // 2):
                store.add_message(cid, Message("user", f"Question number {i}?"))
                store.add_message(cid, Message("assistant", ANSWER, finish_reason="stop"))
        settings = load_settings(None, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
        app = LlmChatApp(settings, provider=FakeProvider([]), history=db)
        shown: list[float] = []
        idle: list[float] = []
        steps: list[float] = []
        loads: list[float] = []
        async with app.run_test(size=(args.width, args.height)) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            for _ in range(args.runs):
                started = time.perf_counter()
                await screen.open_conversation(cid)
                shown.append(await next_refresh(screen) - started)
                await pilot.pause()  # the notification, and anything else queued
                idle.append(time.perf_counter() - started)
            mounted = len(screen.query(MessageView))
            sent = len(screen.conversation.messages)
            transcript = screen.query_one(Transcript)
            for _ in range(args.scrolls):
                if transcript.scroll_y <= 0 and not screen.query("#load-earlier"):
                    break
                before = len(screen.query(MessageView))
                button = screen.query("#load-earlier").first() if screen.query("#load-earlier") else None
                started = time.perf_counter()
                transcript.scroll_relative(y=-args.scroll_step, animate=False)
                await next_refresh(screen)
                if button is not None and getattr(transcript, "_pressed", None) is button:  # loads a page
                    while len(screen.query(MessageView)) == before:
                        await asyncio.sleep(0.001)
                    loads.append(await next_refresh(screen) - started)
                else:
                    steps.append(time.perf_counter() - started)
            after_scroll = len(screen.query(MessageView))
    ms = [1000 * t for t in shown]
    median = statistics.median(ms)
    print(f"open a conversation of {args.messages} messages ({args.width}x{args.height}), {args.runs} runs:")
    print(f"  newest on screen  median {median:6.0f} ms  worst {max(ms):6.0f} ms"
          f"  ({mounted} messages mounted, {sent} in the next request)")
    print(f"  idle              median {1000 * statistics.median(idle):6.0f} ms  worst {1000 * max(idle):6.0f} ms")
    print(f"  target: newest on screen under {TARGET_MS} ms -> {median / TARGET_MS:.2f} of it,"
          f" {'MET' if median < TARGET_MS else 'NOT MET'}")
    if steps:
        print(f"scrolling up {args.scroll_step} rows at a time, {len(steps) + len(loads)} steps"
              f" ({after_scroll} messages mounted after them):")
        for name, values in (("scrolled", steps), ("scrolled, page loaded", loads)):
            ms = [1000 * t for t in values] or [0.0]
            print(f"  {name:22s} {len(values):3d} steps, to the refresh that shows it: median"
                  f" {statistics.median(ms):5.0f} ms  p95 {percentile(ms, 0.95):5.0f} ms  max {max(ms):5.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument("--scrolls", type=int, default=100, help="scroll steps after the last open")
    parser.add_argument("--scroll-step", type=int, default=3, help="rows per scroll step")
    asyncio.run(main(parser.parse_args()))
