"""/compare under fast streams (issue 16): N replies side by side, each at --rate tokens/s, with
a letter typed into the prompt every --press-every s; side by side with one ordinary stream at
the same rate.

The real app (LlmChatApp under App.run_test, 160x48, the real OpenAI provider over real
sockets) against a loopback server in a child process that streams every chat request a
generated Markdown reply (benchmarks/markdown_doc.py) at --rate tokens/s, a batch every 10 ms,
on the clock, and reports the time of each request's first and last content chunk by model
name. The compare run sends ``/compare bench-1 ... bench-N`` (models of the session's
provider), then the question; the single run sends the question alone (model bench-1). Keys are
typed from a thread of their own, as a terminal driver delivers them (see tui_rate.py).
Printed per run:

- key presses: from the key handed to the loop to the prompt's TextArea.Changed, and to the
  next screen refresh after it (the letter on screen);
- each reply's last token on screen: from the server's last chunk of that reply to the first
  screen refresh after its column (or the transcript) has rendered all of it;
- the app's CPU over the run (process time; the server is a process of its own).

Targets of the issue: key presses p95 under 50 ms and each column's last token on screen within
100 ms of its arrival.

Run from the repo root:
    python benchmarks/tui_compare.py --columns 4 --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from benchmarks.markdown_doc import markdown_reply
from benchmarks.tui_rate import after_refresh, paced_reply, percentile, summary
from llmchat import paths
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.compare_view import CompareView
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.loopback import LoopbackServer, Reply, Request, json_reply


class TaggedConn:
    """The server's end of the pipe: marks of the reply to `model` go out as (name, model)."""

    def __init__(self, conn: Connection, model: str) -> None:
        self.conn, self.model = conn, model

    def send(self, item: tuple[str, float]) -> None:
        self.conn.send(((item[0], self.model), item[1]))


def serve(conn: Connection, count: int, rate: float, batch_ms: float) -> None:
    """The child process: every chat request gets the paced reply; serves until told to stop."""
    tokens = markdown_reply(count)

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models") or not request.body:
            return json_reply(200, {"object": "list", "data": [{"id": "bench-1", "object": "model"}]})
        model = str(request.json().get("model"))
        return paced_reply(tokens, rate, batch_ms, TaggedConn(conn, model))  # type: ignore[arg-type]

    with LoopbackServer(handler) as server:
        conn.send(("base_url", server.base_url))
        conn.recv()


class Marks:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.values: dict[Any, Any] = {}

    def has(self, name: Any) -> bool:
        while self.conn.poll():
            key, value = self.conn.recv()
            self.values[key] = value
        return name in self.values

    async def wait(self, name: Any) -> Any:
        while not self.has(name):
            await asyncio.sleep(0.003)
        return self.values[name]


@dataclass
class Result:
    name: str
    cpu: float = 0.0
    wall: float = 0.0
    handled: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)
    last_on_screen: list[float] = field(default_factory=list)


def press_keys(app: LlmChatApp, prompt: PromptInput, changed: list[float], done: threading.Event, every: float,
               result: Result, loop: asyncio.AbstractEventLoop) -> str:
    """In a thread, until `done`: a letter every `every` s, timed to TextArea.Changed and to the
    next refresh after it."""
    typed = ""
    while not done.wait(every):
        letter = "abcdefghijklmnopqrstuvwxyz"[len(typed) % 26]
        typed += letter
        count, sent = len(changed), time.monotonic()
        loop.call_soon_threadsafe(app.post_message, events.Key(letter, letter))
        while len(changed) == count:
            if time.monotonic() - sent > 10:
                raise RuntimeError(f"key {letter!r} not handled in 10 s")
            time.sleep(0.0005)
        result.handled.append(changed[count] - sent)
        shown = threading.Event()
        seen: list[float] = []
        loop.call_soon_threadsafe(prompt.call_after_refresh, lambda: (seen.append(time.monotonic()), shown.set()))
        shown.wait(10)
        result.shown.append(seen[0] - sent if seen else 10.0)
    return typed


async def last_on_screen(body: StreamingMarkdown, total: int, marks: Marks, model: str) -> float:
    """From the server's last chunk to model `model` until the refresh after `body` rendered all."""
    last = await marks.wait(("last_chunk", model))
    while body.rendered_length < total:
        await asyncio.sleep(0.001)
    return await after_refresh(body) - last


async def run(columns: int, args: argparse.Namespace, marks: Marks, base_url: str, round_: int) -> Result:
    result = Result(f"{columns} columns" if columns else "one stream")
    total = len("".join(markdown_reply(int(args.seconds * args.rate))))
    models = [f"bench-{round_}-{i}" for i in range(1, max(columns, 1) + 1)]  # new names: new marks
    changed: list[float] = []
    watched: list[PromptInput] = []
    seen: list[Message] = []

    def hook(message: Message) -> None:
        if (isinstance(message, TextArea.Changed) and watched and message.text_area is watched[0]
                and all(message is not other for other in seen[-8:])):
            seen.append(message)
            changed.append(time.monotonic())

    settings = load_settings(None, {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-bench"}, model=models[0])
    app = LlmChatApp(settings, theme_dirs=(paths.builtin_themes_dir(),), ui_state=Path(args.state) / "ui.json")
    async with app.run_test(size=(args.width, args.height), message_hook=hook) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        prompt = screen.query_one(PromptInput)
        if columns:
            prompt.insert("/compare " + " ".join(models))
            await pilot.press("enter")
            while screen.compare_pending is None:
                await pilot.pause()
        prompt.insert("stream please")
        await pilot.pause()
        cpu0, wall0 = time.process_time(), time.monotonic()
        app.post_message(events.Key("enter", None))
        for model in models:
            await marks.wait(("first_chunk", model))
        if columns:
            while not screen.query(CompareView):
                await asyncio.sleep(0.002)
            bodies = [column.body for column in screen.query_one(CompareView).columns]
        else:
            bodies = [screen.query(MessageView).last().body]  # type: ignore[list-item]
        assert all(isinstance(body, StreamingMarkdown) for body in bodies)
        watched.append(prompt)
        while prompt.text:  # the sent text leaves the prompt before the keys are timed
            await asyncio.sleep(0.002)
        done = threading.Event()
        loop = asyncio.get_running_loop()
        typing = asyncio.create_task(asyncio.to_thread(press_keys, app, prompt, changed, done, args.press_every,
                                                       result, loop))
        result.last_on_screen = list(await asyncio.gather(
            *(last_on_screen(body, total, marks, model) for body, model in zip(bodies, models, strict=True))
        ))
        done.set()
        typed = await typing
        result.cpu, result.wall = time.process_time() - cpu0, time.monotonic() - wall0
        assert prompt.text == typed, "a key press got lost"
        await pilot.press("escape")
        await app.workers.wait_for_complete()
    return result


def report(result: Result) -> None:
    print(f"{result.name}: app CPU {result.cpu:.1f} s over {result.wall:.1f} s")
    if result.handled:
        print(f"  key presses ({len(result.handled)}) handled   {summary(result.handled)}")
        print(f"  key presses ({len(result.shown)}) on screen {summary(result.shown)}")
        over = sum(value > 0.05 for value in result.handled)
        print(f"  handled p95 {1000 * percentile(result.handled, 0.95):.0f} ms (target 50); {over} over 50 ms")
    print(f"  last token on screen after its last chunk: {', '.join(f'{1000 * v:.0f}' for v in result.last_on_screen)}"
          " ms (target 100)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--columns", type=int, default=4, help="replies side by side (the compare run)")
    parser.add_argument("--rate", type=float, default=500.0, help="tokens per second of each reply")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each reply at that rate")
    parser.add_argument("--runs", type=int, default=1, help="rounds of (one stream, compare), alternating")
    parser.add_argument("--batch-ms", type=float, default=10.0)
    parser.add_argument("--press-every", type=float, default=0.25)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=48)
    args = parser.parse_args()
    args.state = tempfile.mkdtemp(prefix="tui-compare-")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(Path(args.state) / name.lower())  # the history too: a temporary one
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    child = context.Process(target=serve, args=(child_conn, int(args.seconds * args.rate), args.rate, args.batch_ms),
                            daemon=True)
    child.start()
    try:
        marks = Marks(conn)
        base_url = asyncio.run(marks.wait("base_url"))
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.rate:g} tokens/s per reply,"
              f" {args.seconds:g} s, {args.width}x{args.height}", flush=True)
        round_ = 0
        for index in range(args.runs):
            order = [0, args.columns] if index % 2 == 0 else [args.columns, 0]
            for columns in order:
                round_ += 1
                report(asyncio.run(run(columns, args, marks, base_url, round_)))
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        conn.send("stop")
        child.join(5)


if __name__ == "__main__":
    main()
