"""StreamingMarkdown: whatever the splits, the result renders exactly like a one-shot ChatMarkdown.

Renders are compared as SVG screenshots (App.export_screenshot): equal strings mean the same
characters, colours and styles in every cell, so margins, wrapping, bullets, numbering, table
borders and code blocks all count.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from llmchat.tui.widgets.chunk_window import ChunkWindow, HiddenChunks
from llmchat.tui.widgets.markdown_blocks import BlockSplitter, ChatMarkdown
from llmchat.tui.widgets.stream_markdown import SKIM_SETTLE, StreamingMarkdown
from tests.tui.helpers import wait_until

LOOSE_LISTS = """\
# Loose lists

- first item

- second item, after a blank line

  continued in the same item

- third

1. one

2. two
3. three

Some text after the lists.
"""

FENCES = """\
Before the code.

```python
def f(x):

    return x


print(f(1))
```

    indented code

    with a blank line

```
unclosed fence at the end

still code
"""

TABLES = """\
| Name | Value | Note |
|------|------:|:----:|
| a    | 1     | *x*  |
| b    | 22    | `y`  |
after the table, a paragraph
| not | a table |

| One |
|-----|
| 1   |
"""

NESTED = """\
- level one
  - level two
    - level three

      a paragraph in level three
  - back to two
- one again
  1. numbered inside
  2. still numbered

Setext heading
==============

Another one
-----------
"""

QUOTES = """\
> A quote
> on two lines
lazy continuation

> Second quote
>
> > nested quote

---

***

Final *words* with **bold** and `code`.
"""

MIXED = """\
## Mixed

Text with a [link](https://example.com) and a long line that should wrap once the terminal is narrower than it.

1. ordered
2. list
10. jumps

+ plus bullets
+ more

<div>
html block
</div>

| a | b |
|---|---|
| 1 | 2 |
```js
const x = 1;
```
Last line without a newline"""

DOCUMENTS = {
    "loose-lists": LOOSE_LISTS,
    "fences": FENCES,
    "tables": TABLES,
    "nested": NESTED,
    "quotes": QUOTES,
    "mixed": MIXED,
}


def random_pieces(text: str, rng: random.Random) -> list[str]:
    """`text` cut at random places: sometimes one character, sometimes whole lines."""
    pieces, at = [], 0
    while at < len(text):
        size = rng.choice([1, 1, 2, 3, 5, 8, 13, 40])
        pieces.append(text[at : at + size])
        at += size
    return pieces


class Host(App[None]):
    """A scroll view holding the widgets under test (shown one at a time for screenshots)."""

    CSS = """
    #log { height: 1fr; scrollbar-size-vertical: 0; }
    """

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self.widgets = widgets

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            yield from self.widgets


async def feed(widget: StreamingMarkdown, pieces: list[str], rng: random.Random) -> None:
    """Append the pieces; now and then yield, wait a frame or flush, as a network read would."""
    for piece in pieces:
        widget.append(piece)
        roll = rng.random()
        if roll < 0.3:
            await asyncio.sleep(0)
        elif roll < 0.35:
            await asyncio.sleep(0.04)  # a network read's pace: under test
        elif roll < 0.45:
            await widget.flush()
    await widget.finish()


async def screenshot_of(pilot: Pilot[None], shown: Widget) -> str:
    """A screenshot with only `shown` displayed, scrolled to the top."""
    app = pilot.app
    for widget in app.query_one("#log").children:
        widget.display = widget is shown
    app.query_one("#log").scroll_home(animate=False)
    await pilot.pause()  # layout; then the chunks near the viewport get mounted
    await pilot.pause()  # and laid out
    return app.export_screenshot()


async def assert_same_pages(pilot: Pilot[None], widget: Widget, oneshot: Widget, offsets: list[int | None]) -> None:
    """`widget` and `oneshot` (each shown alone in the Host's log) look the same, screenshot for
    screenshot, scrolled to each of `offsets` (None: the end)."""
    app = pilot.app
    assert isinstance(app, Host)
    log = app.query_one("#log")
    pages = []
    for shown in (widget, oneshot):
        for other in app.widgets:
            other.display = other is shown
        shots = []
        for y in offsets:
            for _ in range(1 if y is not None else 3):  # (the end moves while chunks above it,
                log.scroll_to(y=y if y is not None else log.max_scroll_y, animate=False)
                await pilot.pause()  # estimated so far, get measured)
                await pilot.pause()
            shots.append(app.export_screenshot())
        pages.append(shots)
    for page, (got, expected) in enumerate(zip(*pages, strict=True)):
        assert got == expected, f"page {page} differs"


async def test_random_splits_render_like_one_shot() -> None:
    """Every document, fed in random splits, renders like a one-shot Markdown of it.

    One app hosts them all (each document's one-shot widget and its streamed one), shown one at a
    time for the screenshots: app start-ups are what makes TUI tests slow. Every split of every
    document is covered by test_split_never_freezes_a_block_that_later_text_changes.
    """
    rng = random.Random(2024)
    cases = {name: (ChatMarkdown(text), StreamingMarkdown()) for name, text in DOCUMENTS.items()}
    app = Host(*(widget for widgets in cases.values() for widget in widgets))
    async with app.run_test(size=(70, 28)) as pilot:  # the tallest document takes 26 rows
        await asyncio.gather(
            *(
                feed(widget, random_pieces(DOCUMENTS[name], rng), rng)
                for name, (_, *streamed) in cases.items()
                for widget in streamed
            )
        )
        for name, (oneshot, *streamed) in cases.items():
            expected = await screenshot_of(pilot, oneshot)
            for index, widget in enumerate(streamed):
                assert isinstance(widget, StreamingMarkdown)
                assert widget.source == DOCUMENTS[name]
                assert widget.finished and not widget.pending
                assert await screenshot_of(pilot, widget) == expected, f"{name}, split {index} differs"
            await app.query_one("#log").remove_children([oneshot, *streamed])  # fewer widgets: faster pauses


async def test_tails_that_become_chunks_render_like_one_shot() -> None:
    """Followed by the view and rendered a pass per piece (partial lines at every pass), the tail
    widget becomes the chunk of the blocks that finish (promotions) or, when its incremental parse
    does not match them, is rebuilt: either way the result renders like a one-shot."""
    rng = random.Random(11)
    cases = {name: (ChatMarkdown(text), StreamingMarkdown(), StreamingMarkdown()) for name, text in DOCUMENTS.items()}
    app = Host(*(widget for widgets in cases.values() for widget in widgets))
    promotions = 0
    async with app.run_test(size=(70, 28)) as pilot:
        log = app.query_one("#log")
        for name, (oneshot, *streamed) in cases.items():
            for widget in streamed:
                for other in log.children:
                    other.display = other is widget
                log.anchor()  # the view follows the stream
                for piece in random_pieces(DOCUMENTS[name], rng):
                    widget.append(piece)
                    await widget.flush()
                await widget.finish()
                promotions += widget.promotions
            log.anchor(False)
            expected = await screenshot_of(pilot, oneshot)
            for index, widget in enumerate(streamed):
                assert isinstance(widget, StreamingMarkdown) and widget.source == DOCUMENTS[name]
                assert await screenshot_of(pilot, widget) == expected, f"{name}, split {index} differs"
            await log.remove_children([oneshot, *streamed])
    assert promotions >= len(DOCUMENTS)


async def test_reference_links_are_resolved_at_the_end() -> None:
    """A reference definition reaches across blocks: finish() renders the whole text in one piece."""
    text = "See [the docs][docs] first.\n\nMore text.\n\n[docs]: https://example.com/docs\n\nEnd.\n"
    widget = StreamingMarkdown()
    app = Host(ChatMarkdown(text), widget)
    async with app.run_test(size=(60, 30)) as pilot:
        await feed(widget, random_pieces(text, random.Random(7)), random.Random(7))
        assert await screenshot_of(pilot, widget) == await screenshot_of(pilot, app.widgets[0])


async def test_long_reply_mounts_only_what_is_near_and_scrolls_back_exactly() -> None:
    """Chunks far from the viewport are not mounted; paging down from the top shows exact text."""
    text = "".join(
        f"## Section {n}\n\nSome text for section {n}, long enough to wrap on a narrow screen like this one.\n\n"
        f"- item {n}.1\n- item {n}.2\n\n| k | v |\n|---|---|\n| {n} | {n * n} |\n\n"
        for n in range(8)
    )
    widget = StreamingMarkdown()
    oneshot = ChatMarkdown(text)
    app = Host(oneshot, widget)
    async with app.run_test(size=(50, 12)) as pilot:
        oneshot.display = False
        log = app.query_one("#log")
        log.anchor()
        rng = random.Random(3)
        for piece in random_pieces(text, rng):
            widget.append(piece)
            if rng.random() < 0.1:
                await widget.flush()
                await asyncio.sleep(0.02)  # the stream pauses, the screen lays out: the pace under test
        await widget.finish()
        await pilot.pause()
        mounted, chunks = widget.chunk_counts
        assert chunks >= 10
        assert mounted < chunks / 3, "far chunks should not be mounted"

        log.anchor(False)
        await assert_same_pages(pilot, widget, oneshot, [page * 11 for page in range(4)])


async def test_a_stream_too_fast_to_read_is_skimmed_then_rendered_exactly() -> None:
    """While the view follows a stream that brings more than a screenful a second, its newest
    text is drawn by the skim view and no Markdown widget is built for what flies past; a pause
    in the stream or scrolling away brings the Markdown widgets back, and the final render
    equals a one-shot."""
    text = "".join(
        f"## Section {n}\n\nSome text for section {n}, long enough to wrap on a narrow screen.\n\n"
        f"- item {n}.1\n- item {n}.2\n\n| k | v |\n|---|---|\n| {n} | {n * n} |\n\n```\ncode {n}\n```\n\n"
        for n in range(36)
    )
    third, two_thirds = text.index("## Section 12"), text.index("## Section 24")
    widget = StreamingMarkdown()
    oneshot = ChatMarkdown(text)
    app = Host(oneshot, widget)
    async with app.run_test(size=(60, 16)) as pilot:
        oneshot.display = False
        log = app.query_one("#log")
        log.anchor()

        async def stream(part: str) -> list[bool]:
            """Feed `part` fast, a pass every 25 pieces; whether each pass left it skimming."""
            skimmed = []
            for n, piece in enumerate(random_pieces(part, random.Random(5))):
                widget.append(piece)
                if n % 25 == 24:
                    await widget.flush()
                    await asyncio.sleep(0.01)  # the screen lays out between passes
                    skimmed.append(widget.skimming)
            await widget.flush()
            # Checked now: a wait for the screen to be idle could outlast SKIM_SETTLE on a
            # loaded machine, and the stream would count as paused.
            skimmed.append(widget.skimming)
            return skimmed

        skimmed = await stream(text[:third])
        assert skimmed[-1] and skimmed.count(True) > len(skimmed) / 2
        assert widget.chunk_counts[0] == 0, "text that flew past got Markdown widgets"
        await pilot.pause()
        assert "code&#160;11" in app.export_screenshot(), "the newest text is not on screen"

        await asyncio.sleep(SKIM_SETTLE)  # the stream pauses (for at least the settle time) ...
        await wait_until(pilot, lambda: not widget.skimming)  # ... and the skim view settles
        await wait_until(pilot, lambda: widget.chunk_counts[0] > 0)  # Markdown widgets for the text on screen

        assert (await stream(text[third:two_thirds]))[-1]
        log.anchor(False)
        log.scroll_home(animate=False)
        await pilot.pause()
        widget.append(text[two_thirds:])
        await widget.flush()
        assert not widget.skimming
        await widget.finish()
        await pilot.pause()

        await assert_same_pages(pilot, widget, oneshot, [0, 15, None])


async def test_a_spacer_on_screen_is_blank() -> None:
    """Scrolling faster than chunks get mounted shows a spacer for a moment: blank, not its name
    (what a Textual widget without content shows)."""
    spacer = HiddenChunks()
    spacer.styles.height = 5
    app = Host(spacer)
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        assert "HiddenChunks" not in app.export_screenshot()


async def test_changes_to_the_chunk_window_do_not_interleave() -> None:
    """A reconcile scheduled by a layout can run while a render pass awaits its mounts (CI saw
    the pass find its new chunk's widget taken away): changes run one after another, and every
    chunk said to have a widget has it mounted in the host."""
    tail = Static("tail")
    host = Vertical(tail)
    app = Host(host)
    async with app.run_test(size=(50, 12)) as pilot:
        window = ChunkWindow(host, tail)
        window.attach()
        blocks = [f"Paragraph {n}.\n\n" for n in range(6)]
        await asyncio.gather(window.add(blocks, following=True), window.hide_all(), window.add(blocks, following=True))
        await pilot.pause()
        mounted = [chunk.widget for chunk in window.chunks if chunk.widget is not None]
        assert mounted, "the second add should mount what the view shows"
        assert all(widget.parent is host for widget in mounted)
        assert [c for c in host.children if isinstance(c, ChatMarkdown)] == mounted


async def test_many_appends_are_rendered_in_few_passes() -> None:
    widget = StreamingMarkdown()
    app = Host(widget)
    async with app.run_test(size=(70, 20)):
        for n in range(5000):
            widget.append(f"w{n} ")
            if n % 100 == 99:
                widget.append("\n\n")
            await asyncio.sleep(0)
        await widget.finish()
        assert widget.source.count(" ") == 5000
        assert widget.rendered_length == len(widget.source)
        assert 1 <= widget.render_passes < 100


async def test_append_after_finish_raises_and_finish_is_idempotent() -> None:
    widget = StreamingMarkdown()
    app = Host(widget)
    async with app.run_test(size=(40, 10)):
        widget.append("hello")
        await widget.finish()
        await widget.finish()
        with pytest.raises(RuntimeError, match="after finish"):
            widget.append(" more")
        assert widget.source == "hello"
        assert widget.finished


def test_split_never_freezes_a_block_that_later_text_changes() -> None:
    """Block boundaries found on any prefix are boundaries of the whole document too.

    This is what makes freezing safe; the partial last line never decides (``1. a`` / blank /
    ``2`` does not close the list: ``2. b`` may follow).
    """
    tricky = "1. a\n\n2. b\n\n3\n\npara\n===\n\n| x |\n|---|\n| 1 |\n"
    for text in [*DOCUMENTS.values(), tricky]:
        blocks, _ = BlockSplitter().split(text, final=True)
        boundaries = {sum(len(block) for block in blocks[:n]) for n in range(len(blocks) + 1)}
        for end in range(len(text) + 1):
            prefix_blocks, prefix_tail = BlockSplitter().split(text[:end], final=False)
            assert "".join(prefix_blocks) + prefix_tail == text[:end]
            frozen = sum(len(block) for block in prefix_blocks)
            assert frozen in boundaries, f"froze at {frozen} for prefix {text[:end]!r}"
