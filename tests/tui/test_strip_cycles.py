"""Textual's Strip no longer caches itself in itself (llmchat/tui/strip_cycles.py): a line that
is drawn and replaced is freed at once, with the same results as Textual's methods."""

from __future__ import annotations

import gc
import random

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from llmchat.tui.strip_cycles import TEXTUAL_METHODS, break_strip_cycles, strip_cycles


def random_strip(rng: random.Random) -> Strip:
    words = ["a", "héllo", "東京", "🚀", " ", "x" * 7]
    segments = [Segment(rng.choice(words), rng.choice([None, Style(bold=True), Style(color="red")]))
                for _ in range(rng.randint(0, 6))]
    return Strip(segments)


def test_textual_made_the_cycle_and_the_patch_breaks_it() -> None:
    break_strip_cycles()
    assert set(TEXTUAL_METHODS) == {"divide", "crop_extend"}, "Textual no longer caches a strip in itself?"
    assert strip_cycles() == []
    assert break_strip_cycles() == []  # idempotent


def test_a_drawn_line_is_freed_without_the_garbage_collector() -> None:
    break_strip_cycles()
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            strip = Strip([Segment("a line of text")])
            strip.divide([strip.cell_length])
            strip.crop_extend(0, strip.cell_length, None)
            strip.divide([3, strip.cell_length])
            strip.crop_extend(2, 30, Style(bold=True))
            del strip
        assert gc.collect() == 0  # nothing was left for the collector
    finally:
        gc.enable()


def test_results_are_textuals() -> None:
    break_strip_cycles()
    rng = random.Random(5)
    for _ in range(400):
        strip = random_strip(rng)
        length = strip.cell_length
        cuts = sorted({rng.randint(0, length + 3) for _ in range(rng.randint(1, 3))} | {length})
        for chosen in (cuts, [length], [length + 2], [length, length + 1]):
            assert list(strip.divide(chosen)) == list(TEXTUAL_METHODS["divide"](random_strip_copy(strip), chosen))
        start, end = rng.randint(-2, length + 2), rng.randint(0, length + 4)
        for s, e in ((start, end), (0, length), (-1, length), (0, length + 3)):
            style = rng.choice([None, Style(italic=True)])
            got = strip.crop_extend(s, e, style)
            expected = TEXTUAL_METHODS["crop_extend"](random_strip_copy(strip), s, e, style)
            assert got == expected and got.cell_length == expected.cell_length  # type: ignore[attr-defined]
        if length:
            assert strip.crop_extend(0, length, None) is strip  # as Textual returns it


def random_strip_copy(strip: Strip) -> Strip:
    """The same line as a new strip (so that Textual's method does not see the patched one's caches)."""
    return Strip(list(strip), strip.cell_length)
