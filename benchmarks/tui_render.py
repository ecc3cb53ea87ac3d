"""Rendering cost of a long streamed Markdown reply: plain Markdown.get_stream vs StreamingMarkdown.

The same generated reply (benchmarks/markdown_doc.py: headings, paragraphs, bullet and numbered
lists, tables, fenced code, quotes; cut into word-ish tokens) is fed as fast as possible, headless
(App.run_test), into

  (a) Textual's Markdown through ``Markdown.get_stream`` (``await stream.write(token)``),
  (b) llmchat's StreamingMarkdown (``append(token)``, then ``await asyncio.sleep(0)``): its frame
      timer decides when to render, so a feed this fast is rendered in very few passes; and
  (b') the same with a render pass forced every --pass-every tokens (``await flush()``), more
      passes than the frame rate would ever allow: the stress case for the cost per pass,

each in a VerticalScroll anchored at the bottom, as in the chat transcript. All feeds give the
event loop one turn per token (``MarkdownStream.write`` sleeps 0 itself), as a network read does.
Printed, side by side: CPU time (time.process_time) in total, from the first token until the
screen is idle after the stream is stopped/finished, and per window of 1,000 tokens, first vs last.

Then the final rendering of (b') (many passes: many cuts between blocks) is checked against a
one-shot ``ChatMarkdown(full_text)`` (Textual's Markdown as llmchat renders with it: a code block
without a language is plain text): both are shown in a 400-row terminal and scrolled page by page
from the top to the bottom (the StreamingMarkdown mounts the chunks that come near, as when a user
scrolls back); at each page the two apps' SVG screenshots (App.export_screenshot, a public API)
must be identical strings: the same characters in the same colours and styles in every cell, so
margins, wrapping, bullets, numbering, tables and code blocks all count, and so do the heights of
everything above the page. (No scroll bar: StreamingMarkdown's virtual height is an estimate until
every chunk has been seen.) On a difference the first differing rows are printed as text.

Run from the repo root: python benchmarks/tui_render.py [--tokens 20000]
(plain get_stream needs minutes of CPU for 20,000 tokens: use --tokens 5000 for a quick look.)
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot, WaitForScreenTimeout
from textual.widgets import Markdown

from benchmarks.markdown_doc import markdown_reply
from llmchat.tui.widgets.markdown_blocks import ChatMarkdown
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown

WINDOW = 1000
PAGE = 400
"""Rows per page when comparing with a one-shot render (a tall terminal, scrolled page by page)."""


class RenderApp(App[None]):
    """A scrolling log holding one Markdown widget (of either kind)."""

    CSS = """
    #log { height: 1fr; }
    #log.-no-scrollbar { scrollbar-size-vertical: 0; }
    """

    def __init__(self, body: Markdown | StreamingMarkdown, *, scrollbar: bool = True) -> None:
        super().__init__()
        self.body = body
        self.scrollbar = scrollbar

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log", classes="" if self.scrollbar else "-no-scrollbar"):
            yield self.body


@dataclass
class Run:
    name: str
    total: float = 0.0
    windows: list[float] = field(default_factory=list)
    notes: str = ""


async def feed_plain(app: RenderApp, pilot: Pilot[None], tokens: list[str], run: Run) -> None:
    body = app.body
    assert isinstance(body, Markdown)
    app.query_one("#log").anchor()
    start = mark = time.process_time()
    stream = Markdown.get_stream(body)
    for index, token in enumerate(tokens, 1):
        await stream.write(token)
        if index % WINDOW == 0:
            now = time.process_time()
            run.windows.append(now - mark)
            mark = now
    await stream.stop()
    await pilot.pause()
    run.total = time.process_time() - start


async def feed_streaming(
    app: RenderApp, pilot: Pilot[None], tokens: list[str], run: Run, pass_every: int = 0
) -> None:
    """Append the tokens one loop turn apart; with `pass_every`, force a render pass that often."""
    body = app.body
    assert isinstance(body, StreamingMarkdown)
    app.query_one("#log").anchor()
    start = mark = time.process_time()
    for index, token in enumerate(tokens, 1):
        body.append(token)
        await asyncio.sleep(0)
        if pass_every and index % pass_every == 0:
            await body.flush()
        if index % WINDOW == 0:
            now = time.process_time()
            run.windows.append(now - mark)
            mark = now
    await body.finish()
    await pilot.pause()
    run.total = time.process_time() - start
    mounted, chunks = body.chunk_counts
    run.notes = f"{body.render_passes} render passes, {chunks} frozen chunks ({mounted} mounted at the end)"


def svg_rows(svg: str) -> list[str]:
    """The text of each row of an export_screenshot SVG (for showing a difference)."""
    rows: dict[int, list[str]] = {}
    for line, text in re.findall(r'<text [^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(int(line), []).append(html.unescape(text).replace("\xa0", " "))
    return ["".join(rows.get(i, [])).rstrip() for i in range(max(rows, default=-1) + 1)]


async def settle(pilot: Pilot[None]) -> None:
    """Let the app process what is pending (mounting a long one-shot reply takes a while)."""
    for _ in range(20):
        try:
            await pilot.pause()
            await pilot.pause()
            return
        except WaitForScreenTimeout:
            continue


async def page_screenshots(
    app: RenderApp, pilot: Pilot[None], offsets: list[int] | None
) -> tuple[list[int], list[str]]:
    """Screenshots of the log scrolled to each offset (by default: every page, top to bottom)."""
    log = app.query_one("#log")
    log.anchor(False)
    await settle(pilot)
    if offsets is None:
        last = round(log.max_scroll_y)
        offsets = [*range(0, last, PAGE), last]
    shots = []
    for offset in offsets:
        for _ in range(10):  # StreamingMarkdown mounts what comes near, then the log may grow
            log.scroll_to(y=offset, animate=False)
            await settle(pilot)
            if round(log.scroll_y) == offset:
                break
        shots.append(app.export_screenshot())
    return offsets, shots


async def verify(tokens: list[str], size: tuple[int, int], pass_every: int) -> bool:
    """Stream into StreamingMarkdown, then compare its rendering with a one-shot Markdown, page by page."""
    text = "".join(tokens)
    oneshot = RenderApp(ChatMarkdown(text), scrollbar=False)
    async with oneshot.run_test(size=(size[0], PAGE)) as pilot:
        offsets, expected = await page_screenshots(oneshot, pilot, None)
    streamed = RenderApp(StreamingMarkdown(), scrollbar=False)
    async with streamed.run_test(size=size) as pilot:
        await feed_streaming(streamed, pilot, tokens, Run("verify"), pass_every)
        body = streamed.body
        assert isinstance(body, StreamingMarkdown)
        assert body.source == text
        await pilot.resize_terminal(size[0], PAGE)
        _, got = await page_screenshots(streamed, pilot, offsets)
    if got == expected:
        print(f"verify: identical screenshots, {len(offsets)} pages of {PAGE} rows x {size[0]} columns")
        return True
    for page, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        if mine == theirs:
            continue
        got_rows, expected_rows = svg_rows(mine), svg_rows(theirs)
        print(f"verify: page {page} (from row {offsets[page]}) DIFFERS")
        shown = 0
        for index, (a, b) in enumerate(zip(got_rows, expected_rows, strict=False)):
            if a != b:
                print(f"  row {index}:\n    streamed: {a!r}\n    one-shot: {b!r}")
                shown += 1
                if shown == 5:
                    break
        if shown == 0:
            print("  the text is the same: the difference is in colours or styles")
        return False
    return False


async def measure(kind: str, tokens: list[str], size: tuple[int, int], pass_every: int) -> Run:
    if kind == "plain":
        app = RenderApp(Markdown())
        run = Run("(a) get_stream")
        async with app.run_test(size=size) as pilot:
            await feed_plain(app, pilot, tokens, run)
    else:
        app = RenderApp(StreamingMarkdown())
        run = Run("(b) Streaming" if kind == "stream" else f"(b') pass/{pass_every} tok")
        async with app.run_test(size=size) as pilot:
            await feed_streaming(app, pilot, tokens, run, pass_every if kind == "passes" else 0)
    return run


def report(runs: list[Run], tokens: int) -> None:
    def per_token(seconds: float) -> str:
        return f"{1e6 * seconds / WINDOW:8.0f} us"

    print(f"\n{tokens} tokens, CPU time (process_time)")
    with_plain = runs[0].name.startswith("(a)") and len(runs) > 1
    ratios = "".join(f"{run.name[:4].strip() + '/(a)':>12}" for run in runs[1:]) if with_plain else ""
    print(f"{'':36}" + "".join(f"{run.name:>18}" for run in runs) + ratios)

    def row(label: str, values: list[float], fmt: str = "{:12.2f} s", ratio: bool = True) -> None:
        line = f"{label:36}" + "".join(f"{fmt.format(v):>18}" for v in values)
        if ratio and with_plain and values[0]:
            line += "".join(f"{v / values[0]:12.3f}" for v in values[1:])
        print(line)

    row("total", [run.total for run in runs])
    if all(run.windows for run in runs):
        row(
            f"first {WINDOW} tokens, per token",
            [run.windows[0] * 1e6 / WINDOW for run in runs],
            "{:11.0f} us",
        )
        row(
            f"last {WINDOW} tokens, per token",
            [run.windows[-1] * 1e6 / WINDOW for run in runs],
            "{:11.0f} us",
        )
        row(
            "last / first window",
            [run.windows[-1] / run.windows[0] for run in runs],
            "{:12.2f}  ",
            ratio=False,
        )
        k = min(5, len(runs[0].windows) // 2) or 1
        row(
            f"mean of last {k} / first {k} windows",
            [sum(run.windows[-k:]) / sum(run.windows[:k]) for run in runs],
            "{:12.2f}  ",
            ratio=False,
        )
    for run in runs:
        print(
            f"per {WINDOW}-token window, {run.name} (ms): " + " ".join(f"{1000 * w:.0f}" for w in run.windows)
        )
        if run.notes:
            print(f"  {run.notes}")


async def main_async(args: argparse.Namespace) -> int:
    tokens = markdown_reply(args.tokens, seed=args.seed)
    size = (args.width, args.height)
    text = "".join(tokens)
    print(
        f"reply: {len(tokens)} tokens, {len(text)} characters, {text.count(chr(10))} lines; screen {size[0]}x{size[1]}"
    )
    runs = []
    for kind in ("plain", "stream", "passes"):
        if args.only in (None, kind):
            runs.append(await measure(kind, tokens, size, args.pass_every))
            print(f"{runs[-1].name}: {runs[-1].total:.1f} s CPU", flush=True)
    if runs:
        report(runs, len(tokens))
    if args.no_verify or args.only in ("plain", "stream", "passes"):
        return 0
    return 0 if await verify(tokens, size, args.pass_every) else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument(
        "--only",
        choices=("plain", "stream", "passes", "check"),
        help="run one of (a), (b), (b') or the check only",
    )
    parser.add_argument(
        "--pass-every",
        type=int,
        default=50,
        help="(b') and the check: a render pass every N tokens",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the comparison with a one-shot render",
    )
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
