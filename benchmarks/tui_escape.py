"""Escape latency: from the key press to the connection closed at the server.

The real app (LlmChatApp under App.run_test, the real OpenAIProvider over real sockets) talks
to the loopback server of tests/loopback.py, in this process (its own thread and loop). For
each trial a message is sent, then Escape is pressed in one of three phases:

- waiting: the server answered the headers but sends no token for 30 s;
- streaming: tokens arrive every 10 ms (Escape after a random 50-300 ms of them);
- backoff: the server answered 429 with Retry-After 20 s, so the client sleeps before retrying
  (latency there is key press -> the reply marked cancelled, as no connection is open; the
  accumulator stamps that moment on time.monotonic);
- fast (with ``--fast``): a Markdown reply (benchmarks/markdown_doc.py) at 2,000 tokens/s,
  Escape after 2-4 s of it, while render passes are busy. Reported on its own line, not in
  "all" (the issue's target names the three phases above).

Escape is posted to the app's loop from a separate thread (as a terminal driver delivers it),
so the clock starts even when the loop is busy rendering.

The time is taken just before the key event is posted and when the server's socket saw the
client leave (both on time.monotonic, same process). Prints median and worst per phase, and, for
the streaming phases, until the first frame the app wrote out (``App._display``) that shows the
reply marked cancelled.

Run from the repo root: python benchmarks/tui_escape.py [--trials 50] [--fast 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.markdown_doc import markdown_reply  # noqa: E402
from llmchat.config import load_settings  # noqa: E402
from llmchat.tui.app import LlmChatApp  # noqa: E402
from llmchat.tui.screens.chat import ChatScreen  # noqa: E402
from llmchat.tui.widgets.message_view import MessageView  # noqa: E402
from tests.loopback import LoopbackServer, Reply, chunk, json_reply, sse  # noqa: E402


def handler_for(phase: str):
    def handler(request: Any) -> Reply:
        if phase == "waiting":
            return Reply(parts=[b": keep-alive\n\n", 30.0])
        if phase == "backoff":
            reply = json_reply(429, {"error": {"message": "slow down"}})
            reply.headers["retry-after"] = "20"
            return reply
        parts: list[object] = []
        if phase == "fast":  # 2,000 tokens/s: 20 tokens every 10 ms
            tokens = markdown_reply(40_000)
            for i in range(0, len(tokens), 20):
                parts += [sse(*[chunk(t) for t in tokens[i : i + 20]], done=False), 0.01]
            return Reply(parts=parts)
        for i in range(3000):
            parts += [sse(chunk(f"token{i} "), done=False), 0.01]
        return Reply(parts=parts)
    return handler


def press_from_thread(app: LlmChatApp, loop: asyncio.AbstractEventLoop, key: str) -> float:
    """Post `key` to the app from another thread, as a terminal driver does; the time it was
    handed to the loop (time.monotonic)."""
    from textual import events

    box: list[float] = []

    def post() -> None:
        box.append(time.monotonic())
        loop.call_soon_threadsafe(app.post_message, events.Key(key, None))

    thread = threading.Thread(target=post)
    thread.start()
    thread.join()
    return box[0]


MARKED: list[float] = []
"""When frames showing the last reply marked cancelled were written out (see watch_frames)."""


def watch_frames(app: LlmChatApp) -> None:
    """Note the time of every frame written out while the last reply is marked cancelled."""
    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None and isinstance(screen, ChatScreen):
            views = screen.query(MessageView)
            if views and views.last().has_class("-cancelled"):
                MARKED.append(time.monotonic())

    app._display = timed_display  # type: ignore[method-assign]


async def trial(app: LlmChatApp, pilot: Any, server: LoopbackServer, phase: str) -> tuple[float, float | None]:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    server.disconnected.clear()
    server.disconnected_at = None
    server.handler = handler_for(phase)
    screen.query_one("PromptInput").insert("hello")  # type: ignore[attr-defined]
    await pilot.press("enter")
    if phase in ("streaming", "fast"):
        while screen.accumulator is None or not screen.accumulator.content:
            await asyncio.sleep(0.005)
        await asyncio.sleep(random.uniform(0.05, 0.3) if phase == "streaming" else random.uniform(2, 4))
    elif phase == "waiting":
        while not server.requests or screen.accumulator is None:
            await asyncio.sleep(0.005)
        await asyncio.sleep(random.uniform(0.05, 0.2))
    else:
        while screen.accumulator is None or screen.accumulator.retry is None:
            await asyncio.sleep(0.005)
        await asyncio.sleep(random.uniform(0.02, 0.1))
    pressed = press_from_thread(app, asyncio.get_running_loop(), "escape")
    if phase == "backoff":
        accumulator = screen.accumulator
        assert accumulator is not None
        while accumulator.ended_at is None:
            await asyncio.sleep(0.001)
        done = accumulator.ended_at  # when the reply was marked cancelled (time.monotonic)
    else:
        while server.disconnected_at is None:
            await asyncio.sleep(0.001)
        done = server.disconnected_at
    while screen.streaming:
        await asyncio.sleep(0.005)
    if phase == "backoff":
        return (done - pressed) * 1000, None
    while not MARKED or MARKED[-1] < pressed:
        await asyncio.sleep(0.005)
    marked = next(t for t in MARKED if t >= pressed)
    return (done - pressed) * 1000, (marked - pressed) * 1000


async def main(trials: int, fast: int) -> None:
    with LoopbackServer() as server:
        settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k"})
        app = LlmChatApp(settings, history=Path("/tmp/llmchat-bench-escape.db"))
        results: dict[str, list[float]] = {"waiting": [], "streaming": [], "backoff": []}
        shown: dict[str, list[float]] = {}
        watch_frames(app)
        async with app.run_test(size=(120, 40)) as pilot:
            for i in range(trials + fast):
                phase = ("waiting", "streaming", "backoff")[i % 3] if i < trials else "fast"
                closed, marked = await trial(app, pilot, server, phase)
                results.setdefault(phase, []).append(closed)
                if marked is not None:
                    shown.setdefault(phase, []).append(marked)
                await pilot.press("ctrl+n")  # a fresh, short transcript for the next trial
    everything = [x for phase, values in results.items() if phase != "fast" for x in values]
    print(f"Escape -> connection closed (backoff: -> reply cancelled), {trials} trials, ms")
    for phase, values in [*results.items(), ("all", everything)]:
        if values:
            print(f"  {phase:<10} n={len(values):>3}  median {statistics.median(values):7.1f}"
                  f"  worst {max(values):7.1f}")
    print("Escape -> the reply shown marked cancelled (first frame written out), ms")
    for phase, values in shown.items():
        print(f"  {phase:<10} n={len(values):>3}  median {statistics.median(values):7.1f}  worst {max(values):7.1f}")
    print(f"target (connection closed): median < 50 ms, worst < 150 ms -> "
          f"{'MET' if statistics.median(everything) < 50 and max(everything) < 150 else 'NOT MET'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--fast", type=int, default=0, metavar="N",
                        help="also N trials of Escape during a 2,000 tokens/s Markdown reply")
    args = parser.parse_args()
    asyncio.run(main(args.trials, args.fast))
