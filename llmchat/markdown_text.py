"""Markdown text for the renderers that draw it with Rich, in time linear in the text however
long its lines are: code fences (CommonMark), the end of a long block for a preview, and Rich's
output as lines.

Shared by ``ask`` on a terminal (llmchat/render.py) and the session's skim view
(llmchat/tui/widgets/skim_view.py).
"""

from __future__ import annotations

import re

from rich.console import Console, RenderableType
from rich.segment import Segment

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
"""An opening or closing code fence line: the fence, then the info string."""


def fence_step(fence: str, line: str) -> tuple[str, bool]:
    """One complete line (without its newline) seen in fence state `fence` ("" outside a
    fence): the new state, and whether the line is blank outside a fence (a block ends)."""
    marker = _FENCE.match(line)
    if fence:
        if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) \
                and not marker.group(2).strip():
            return "", False
        return fence, False
    if marker and not (marker.group(1)[0] == "`" and "`" in marker.group(2)):
        return marker.group(1), False
    return fence, not line.strip()


def render_lines(console: Console, renderable: RenderableType) -> list[list[Segment]]:
    """``console.render_lines(renderable, pad=False)`` in linear time.

    Rich splits its output into lines with ``str.partition``, which copies the rest of a
    segment at every line: a long paragraph is one segment of thousands of wrapped lines, so
    a 2 MB paragraph spent 5 s there. Here each segment is split once; lines wider than the
    console are cropped as Rich does.
    """
    width = console.options.max_width
    lines: list[list[Segment]] = [[]]
    for segment in console.render(renderable, console.options):
        if segment.control or "\n" not in segment.text:
            lines[-1].append(segment)
            continue
        first, *rest = segment.text.split("\n")
        if first:
            lines[-1].append(Segment(first, segment.style))
        for part in rest:
            lines.append([Segment(part, segment.style)] if part else [])
    if not lines[-1]:
        lines.pop()
    return [
        line if sum(segment.cell_length for segment in line) <= width
        else Segment.adjust_line_length(line, width)
        for line in lines
    ]


def text_end(text: str, limit: int) -> str:
    """The last `limit` characters of the Markdown `text`, for a preview of its end (all of
    `text` when it is not longer). When the cut falls inside a fenced code block, the line
    that opened the fence comes first, so the preview still shows code as code.

    The fence is found by a scan of the lines before the cut (linear, no rendering).
    """
    if len(text) <= limit:
        return text
    start = len(text) - limit
    opener = open_fence(text, start)
    return opener + text[start:]


def open_fence(text: str, end: int) -> str:
    """The line (with its newline) that opened the code fence still open at offset `end` of
    `text`, or "" when `end` is outside any fence (CommonMark fences, as
    fence_step reads them)."""
    offset, fence, opener = 0, "", ""
    while offset < end:
        stop = text.find("\n", offset, end)
        if stop < 0:
            break
        line = text[offset:stop]
        new, _ = fence_step(fence, line)
        if new and not fence:
            opener = line + "\n"
        fence = new
        offset = stop + 1
    return opener if fence else ""
