"""Textual's rendered lines without reference cycles.

A ``textual.strip.Strip`` (one rendered line) caches the results of its operations on itself.
Two of them can be the strip itself, and are cached all the same: ``divide`` at the strip's own
length gives ``[self]`` (the compositor divides every line it draws), and ``crop_extend`` from 0
to the strip's length gives ``self``. The strip then refers to itself through its cache: it is
no longer freed when the last reference goes, only by a full collection of the garbage
collector, which the session makes rare (full collections of Textual's many objects stalled
key presses: docs/performance.md, "Garbage collection"). In a reply that streams for a minute
or two, lines drawn and replaced piled up by the hundred thousand objects (with their caches)
and the session's memory grew with the time the reply took, not with its length
(docs/performance.md, "Memory at the everyday rate").

:func:`break_strip_cycles` makes those two calls return the strip without caching it; any other
call is Textual's own. It first checks that the cycle is there (a strip that gains a reference to
itself), so it does nothing on a Textual that no longer makes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

__all__ = ["TEXTUAL_METHODS", "break_strip_cycles", "strip_cycles"]

_patched = False
TEXTUAL_METHODS: dict[str, Callable[..., object]] = {}
"""Textual's own methods that :func:`break_strip_cycles` replaced, by name (for tests)."""


def strip_cycles() -> list[str]:
    """The Strip operations that leave a strip referring to itself (checked by calling them on a
    fresh strip and counting its references): a subset of ``["divide", "crop_extend"]``."""
    found = []
    probes: dict[str, Callable[[Strip], object]] = {
        "divide": lambda strip: strip.divide([strip.cell_length]),
        "crop_extend": lambda strip: strip.crop_extend(0, strip.cell_length, None),
    }
    for name, call in probes.items():
        strip = Strip([Segment("probe")], 5)
        before = sys.getrefcount(strip)
        call(strip)  # (its result is dropped at once)
        if sys.getrefcount(strip) > before:  # the strip holds itself
            found.append(name)
    return found


def break_strip_cycles() -> list[str]:
    """Make ``Strip.divide`` and ``Strip.crop_extend`` return the strip itself uncached, where
    Textual would cache it in itself; the same results as Textual's for every call. Idempotent.

    Returns:
        The operations that were patched now (empty when there was nothing to patch).
    """
    global _patched
    if _patched:
        return []
    _patched = True
    found = strip_cycles()
    if "divide" in found:
        divide = TEXTUAL_METHODS["divide"] = Strip.divide

        def divide_without_cycle(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
            cuts = [cut for cut in cuts if cut <= self.cell_length]  # as Textual filters them
            if cuts == [self.cell_length]:
                return [self]
            return divide(self, cuts)

        divide_without_cycle.__doc__ = divide.__doc__
        Strip.divide = divide_without_cycle  # type: ignore[method-assign]
    if "crop_extend" in found:
        crop_extend = TEXTUAL_METHODS["crop_extend"] = Strip.crop_extend

        def crop_extend_without_cycle(self: Strip, start: int, end: int, style: Style | None) -> Strip:
            if start <= 0 and end == self.cell_length:  # Textual: extended to itself, cropped to itself
                return self
            return crop_extend(self, start, end, style)

        crop_extend_without_cycle.__doc__ = crop_extend.__doc__
        Strip.crop_extend = crop_extend_without_cycle  # type: ignore[method-assign]
    return found
