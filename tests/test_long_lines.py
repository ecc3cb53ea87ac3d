"""Long lines cost linear time (issue 20): a reply that is one 10 MB line must not make the
renderers redo work in proportion to everything received so far at every delta or frame.

These tests count work (characters copied, scanned or handed to Rich), never wall-clock time;
benchmarks/long_line.py measures the time for N and 4N.
"""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from rich.markdown import Markdown

from llmchat.markdown_text import open_fence, render_lines, text_end
from llmchat.providers.events import ContentDelta
from llmchat.render import BlockSplitter, TerminalSink, split_finished

PIECES = ["word ", "**bold** ", "\n", "\n\n", "```\n", "```py\n", "~~~~\n", "    ```\n", "x", "`a` ", "# T\n"]


def random_markdown(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(PIECES) for _ in range(n))


def feed_in_pieces(splitter: BlockSplitter, text: str, rnd: random.Random) -> list[str]:
    blocks, i = [], 0
    while i < len(text):
        step = rnd.randint(1, 12)
        blocks += splitter.feed(text[i : i + step])
        i += step
    return blocks


@pytest.mark.parametrize("seed", range(40))
def test_block_splitter_finds_the_blocks_split_finished_finds(seed: int) -> None:
    rnd = random.Random(seed)
    text = random_markdown(rnd, 300)
    splitter = BlockSplitter()
    blocks = feed_in_pieces(splitter, text, rnd)
    assert "".join(blocks) == text[: split_finished(text)]
    assert "".join(blocks) + splitter.text() == text
    assert splitter.size == len(text) - len("".join(blocks))
    for block in blocks:  # each block ends where split_finished would cut
        assert split_finished(block) == len(block)


@pytest.mark.parametrize("delta", [1, 5, 4096])
def test_a_long_line_costs_the_block_splitter_linear_work(delta: int) -> None:
    size = 400_000
    splitter = BlockSplitter()
    line = "word " * (size // 5)
    for i in range(0, size, delta):
        assert splitter.feed(line[i : i + delta]) == []
    assert splitter.feed("\n\n") == [line + "\n\n"]
    # Every character is joined about twice (a group, then the line) and scanned once.
    assert splitter.copied <= 5 * size


def test_many_short_lines_in_one_open_block_cost_linear_work() -> None:
    splitter = BlockSplitter()
    splitter.feed("```\n")
    lines = 50_000
    for _ in range(lines):
        assert splitter.feed("code line\n") == []
    size = splitter.size
    assert splitter.feed("```\n\n")[0].count("\n") == lines + 3
    assert splitter.copied <= 4 * size


def test_the_end_of_an_open_block_costs_its_limit_not_the_block() -> None:
    splitter = BlockSplitter()
    for _ in range(100_000):
        splitter.feed("word ")
    before = splitter.copied
    end = splitter.end(1000)
    assert end == ("word " * 200)[-1000:]
    assert splitter.copied - before <= 1000


def test_the_end_of_an_open_fence_starts_with_its_opener() -> None:
    splitter = BlockSplitter()
    splitter.feed("~~~~python\n" + "print(1)\n" * 1000)
    assert splitter.end(90).startswith("~~~~python\nprint(1)\n")
    assert text_end("```js\n" + "a();\n" * 1000, 50).startswith("```js\n")
    assert text_end("para\n\n```\ncode\n```\n" + "x" * 100, 50) == "x" * 50
    assert open_fence("```\ncode\n```\n```c\nint", 18) == "```c\n"


def test_terminal_sink_draws_a_long_line_with_bounded_work_per_frame() -> None:
    out = io.StringIO()
    sink = TerminalSink(out)
    size, delta = 200_000, 1000
    line = "word " * (size // 5)
    draws = 0
    for i in range(0, size, delta):  # outside an event loop every delta draws at once
        sink.event(ContentDelta(line[i : i + delta]))
        draws += 1
    sink.close()
    window = 4 * sink.console.width * sink.console.height
    # Today's renderer gave Rich the whole line at every frame: about draws * size / 2.
    assert sink.rendered <= 2 * size + draws * window
    final = out.getvalue().rsplit("\x1b[J", 1)[-1]
    assert final.count("word") == size // 5  # the line is printed whole at the end


DOCS = [
    "# Title\n\nA paragraph with **bold**, `code` and a [link](http://x).\n\n- one\n- two\n  - nested\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n| 東京 | 🚀 |\n",
    "```python\n" + "x = 1  # " + "long " * 40 + "\n\nprint(x)\n```\n",
    "word " * 3000,
    "> quoted\n> text\n\n1. first\n2. second\n\n---\n\nend",
    "東京" * 500,
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("width", [20, 80])
def test_render_lines_matches_rich(doc: str, width: int) -> None:
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")
    expected = console.render_lines(Markdown(doc), pad=False)
    got = render_lines(console, Markdown(doc))
    assert [list(line) for line in got] == [list(line) for line in expected]


def test_the_skim_view_renders_only_the_end_of_a_long_open_block() -> None:
    import asyncio

    from textual.app import App, ComposeResult

    from llmchat.tui.widgets.skim_view import SkimView

    rendered: list[int] = []

    class Recording(SkimView):
        def _render_markdown(self, text: str, width: int):  # type: ignore[no-untyped-def]
            rendered.append(len(text))
            return super()._render_markdown(text, width)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Recording()

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(80, 24)):
            view = app.query_one(Recording)
            tail = ""
            for _ in range(50):
                tail += "word " * 20_000
                view.push([], tail, 30)
            assert view.active

    asyncio.run(run())
    assert len(rendered) == 50
    assert max(rendered) <= 4 * 80 * 30
