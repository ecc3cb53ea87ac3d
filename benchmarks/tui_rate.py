"""The real app under a fast stream: lag of the transcript and key-press latency.

A loopback server (tests/loopback.py, in a child process so that it does not share the GIL)
streams a generated Markdown reply at --rate tokens/s for --seconds, in batches of --batch-ms,
paced on the clock, to LlmChatApp (run headless with App.run_test, the real OpenAIProvider over
real sockets). Meanwhile a key is pressed into the
prompt every --press-every seconds, from a thread of its own (as a terminal driver delivers
input: its clock runs on while the app's event loop is busy; a key posted from the loop itself
could only be posted, and so timed, once the loop is free). Printed:

- lag during the stream, sampled every 100 ms: how old the oldest text is that the server has
  sent but the transcript has not rendered yet (0 when it is up to date);
- lag at the end: from the server writing its last content chunk to the transcript having
  rendered the whole reply (all text drawn: by the Markdown widgets, or by the skim view while
  the stream is too fast to read, see skim_view.py) and to the next screen update written out
  after that;
  then to the final Markdown render on screen (the skim view replaced by Markdown widgets);
- key-press latency: from handing the key event to the loop to the prompt's TextArea.Changed
  message, and to the next screen refresh after it (the character is on screen);
- CPU time of the process and the achieved server and client rates;
- the figures of the target (lag at the end under 100 ms, key presses handled within 50 ms) and
  how far from it they are.

Run from the repo root: python benchmarks/tui_rate.py [--seconds 30] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import multiprocessing
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Markdown, TextArea

from benchmarks.markdown_doc import markdown_reply
from llmchat import paths
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse


def paced_reply(tokens: list[str], rate: float, batch_ms: float, conn: Connection) -> Reply:
    """One SSE reply: `tokens` at `rate` per second, a batch every `batch_ms`, on the clock.

    The times of the first and the last content chunk are sent over `conn` (time.monotonic is
    the same clock in every process).
    """
    per_batch = max(1, round(rate * batch_ms / 1000))
    marks: dict[str, float] = {}

    def begin() -> None:
        marks["first_chunk"] = time.monotonic()
        conn.send(("first_chunk", marks["first_chunk"]))

    def until(due: float) -> Any:
        return lambda: marks["first_chunk"] + due - time.monotonic()

    def last() -> None:
        conn.send(("last_chunk", time.monotonic()))

    parts: list[Any] = [sse(chunk("", role=True), done=False), begin]
    for i in range(0, len(tokens), per_batch):
        parts.append(until(i / rate))
        parts.append(sse(*[chunk(t) for t in tokens[i : i + per_batch]], done=False))
    parts.append(last)
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": len(tokens),
        "total_tokens": 9 + len(tokens),
    }
    parts.append(sse(chunk(finish="stop"), chunk(empty_choices=True, usage=usage)))
    return Reply(parts=parts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rendered_length(body: Widget) -> int:
    """Characters of the reply rendered so far (a plain Markdown body, as before StreamingMarkdown,
    counts what it has been given: MarkdownStream hands it over once it has rendered the previous)."""
    if isinstance(body, StreamingMarkdown):
        return body.rendered_length
    assert isinstance(body, Markdown)
    return len(body.source)


def summary(values: list[float]) -> str:
    ms = [1000 * value for value in values]
    return f"median {statistics.median(ms):6.1f}  p95 {percentile(ms, 0.95):6.1f}  max {max(ms):6.1f} ms"


async def after_refresh(widget: Widget) -> float:
    """Wait for the next screen refresh; return its time."""
    done = asyncio.Event()
    widget.call_after_refresh(done.set)
    await done.wait()
    return time.monotonic()


def serve(conn: Connection, count: int, rate: float, batch_ms: float) -> None:
    """The child process: serve the paced reply until the parent says stop."""
    tokens = markdown_reply(count)

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply(
                200,
                {"object": "list", "data": [{"id": "bench-model", "object": "model"}]},
            )
        return paced_reply(tokens, rate, batch_ms, conn)

    with LoopbackServer(handler) as server:
        conn.send(("base_url", server.base_url))
        conn.recv()


class Marks:
    """Values the server process sends: its base URL, the times of its first and last chunk."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.values: dict[str, Any] = {}

    def has(self, name: str) -> bool:
        while self.conn.poll():
            key, value = self.conn.recv()
            self.values[key] = value
        return name in self.values

    async def wait(self, name: str) -> Any:
        while not self.has(name):
            await asyncio.sleep(0.005)
        return self.values[name]


@dataclass
class Result:
    tokens: int
    sent_for: float = 0.0
    cpu: float = 0.0
    wall: float = 0.0
    render_passes: int = 0
    lags: list[float] = field(default_factory=list)
    end_shown: float = 0.0
    end_final: float = 0.0
    handled: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)


async def sample_lag(
    body: Widget,
    marks: Marks,
    tokens: list[str],
    rate: float,
    per_batch: int,
) -> list[float]:
    """Every 100 ms: how long ago the server sent the oldest text not rendered yet (0: none)."""
    ends = list(itertools.accumulate(len(token) for token in tokens))
    first = marks.values["first_chunk"]
    lags: list[float] = []
    while not marks.has("last_chunk"):
        await asyncio.sleep(0.1)
        now = time.monotonic()
        waiting = bisect.bisect_right(ends, rendered_length(body))  # the first token not rendered
        sent = first + (waiting // per_batch) * per_batch / rate
        lags.append(max(0.0, now - sent) if waiting < len(tokens) and sent <= now else 0.0)
    return lags


def press_keys(
    app: LlmChatApp,
    prompt: PromptInput,
    changed: list[float],
    marks: Marks,
    every: float,
    result: Result,
    loop: asyncio.AbstractEventLoop,
) -> str:
    """In a thread, until the stream ends: press a letter every `every` s; time it to the prompt's
    TextArea.Changed (`changed` gets their times from the message hook) and to the next refresh
    after it. Returns the letters typed."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    typed = ""
    while True:
        time.sleep(every)
        if "last_chunk" in marks.values:
            return typed
        letter = letters[len(typed) % len(letters)]
        typed += letter
        count = len(changed)
        sent = time.monotonic()
        loop.call_soon_threadsafe(app.post_message, events.Key(letter, letter))
        while len(changed) == count:
            if time.monotonic() - sent > 10:
                raise RuntimeError(f"key {letter!r} not handled in 10 s")
            time.sleep(0.0005)
        result.handled.append(changed[count] - sent)
        on_screen: list[float] = []
        shown = threading.Event()

        def refreshed(on_screen: list[float] = on_screen, shown: threading.Event = shown) -> None:
            on_screen.append(time.monotonic())
            shown.set()

        loop.call_soon_threadsafe(prompt.call_after_refresh, refreshed)
        shown.wait(10)
        result.shown.append(on_screen[0] - sent if on_screen else 10.0)


async def run(args: argparse.Namespace) -> Result:
    wanted = int(args.seconds * args.rate)
    tokens = markdown_reply(wanted)  # the server process makes the same list from the same count
    result = Result(len(tokens))
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    child = context.Process(
        target=serve,
        args=(child_conn, wanted, args.rate, args.batch_ms),
        daemon=True,
    )
    child.start()
    try:
        marks = Marks(conn)
        base_url = await marks.wait("base_url")
        changed: list[float] = []
        seen: list[Message] = []  # kept alive, so that their ids are not reused

        def hook(message: Message) -> None:
            # Called at every node the message bubbles through: count the first only.
            prompt_changed = isinstance(message, TextArea.Changed) and isinstance(
                message.text_area, PromptInput
            )
            if prompt_changed and all(message is not other for other in seen[-8:]):
                seen.append(message)
                changed.append(time.monotonic())

        settings = load_settings(None, {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-bench"})
        app = LlmChatApp(settings, theme_dirs=(paths.builtin_themes_dir(),))
        frames: list[tuple[float, int]] = []
        """When each screen update was written out (headless: discarded, but composed), with how
        much of the reply was rendered then."""
        display = app._display
        streamed: list[Widget] = []

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None and streamed:
                frames.append((time.monotonic(), rendered_length(streamed[0])))

        app._display = timed_display  # type: ignore[method-assign]
        async with app.run_test(size=(args.width, args.height), message_hook=hook) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            prompt = screen.query_one(PromptInput)
            prompt.insert("stream please")
            await pilot.pause()
            cleared = len(changed) + 1
            cpu0, wall0 = time.process_time(), time.monotonic()
            # Posted, not pilot.press(): Pilot waits for the app to be idle, which it is not
            # while a reply streams.
            app.post_message(events.Key("enter", None))
            await marks.wait("first_chunk")
            while len(changed) < cleared:  # the prompt was cleared
                await asyncio.sleep(0.005)
            body = screen.query(MessageView).last().body
            streamed.append(body)
            per_batch = max(1, round(args.rate * args.batch_ms / 1000))
            sampler = asyncio.create_task(sample_lag(body, marks, tokens, args.rate, per_batch))
            loop = asyncio.get_running_loop()
            typed = await asyncio.to_thread(
                press_keys, app, prompt, changed, marks, args.press_every, result, loop
            )
            result.lags = await sampler
            total = sum(map(len, tokens))
            while rendered_length(body) < total:
                await asyncio.sleep(0.001)
            while not frames or frames[-1][1] < total:
                await asyncio.sleep(0.001)
            shown = next(t for t, length in frames if length == total)
            while screen.streaming or getattr(body, "pending", False):
                await asyncio.sleep(0.001)
            final = await after_refresh(body)  # (polled, then the next refresh)
            result.cpu, result.wall = (
                time.process_time() - cpu0,
                time.monotonic() - wall0,
            )
            assert prompt.text == typed, "a key press got lost"
            assert body.source == "".join(tokens), "the transcript does not hold the whole reply"
            result.render_passes = getattr(body, "render_passes", 0)
            await app.workers.wait_for_complete()
        last = marks.values["last_chunk"]
        result.sent_for = last - marks.values["first_chunk"]
        result.end_shown, result.end_final = shown - last, final - last
    finally:
        conn.send("stop")
        child.join(5)
    return result


def report(result: Result, args: argparse.Namespace) -> None:
    print(
        f"stream: {result.tokens} tokens at {args.rate:g}/s in batches of {args.batch_ms:g} ms,"
        f" screen {args.width}x{args.height}"
    )
    print(f"  server sent them in {result.sent_for:.2f} s ({result.tokens / result.sent_for:.0f} tokens/s)")
    print(
        f"  app CPU {result.cpu:.2f} s over {result.wall:.2f} s ({100 * result.cpu / result.wall:.0f}% of one core),"
        f" {result.render_passes} render passes"
    )
    if result.lags:
        print(f"lag during the stream ({len(result.lags)} samples)  {summary(result.lags)}")
    print("lag at the end, from the server's last chunk")
    print(f"  all text on screen         {1000 * result.end_shown:7.1f} ms  (the first frame that holds it)")
    print(f"  final Markdown render      {1000 * result.end_final:7.1f} ms  (the skim view replaced; an upper bound)")
    if result.handled:
        print(f"key presses: {len(result.handled)}, one every {args.press_every:g} s")
        print(f"  handled (TextArea.Changed) {summary(result.handled)}")
        print(f"  on screen (next refresh)   {summary(result.shown)}")
    end_ms = 1000 * result.end_shown
    print("target: the reply on screen within 100 ms of the last chunk, key presses handled within 50 ms")
    print(f"  lag at the end  {end_ms:7.0f} ms = {end_ms / 100:.1f}x the target")
    if result.handled:
        over = sum(t > 0.050 for t in result.handled)
        worst = 1000 * max(result.handled)
        print(f"  key presses     {over} of {len(result.handled)} over 50 ms; worst {worst:.0f} ms = {worst / 50:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="tokens per second")
    parser.add_argument(
        "--batch-ms",
        type=float,
        default=10.0,
        help="the server writes a batch this often",
    )
    parser.add_argument("--press-every", type=float, default=0.25, help="seconds between key presses")
    parser.add_argument("--width", type=int, default=120)
    parser.add_argument("--height", type=int, default=40)
    args = parser.parse_args()
    report(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
