"""An attached image drawn inline in the transcript.

With the optional ``images`` extra (``textual-image``, which brings Pillow) the image is drawn
with the terminal's graphics protocol (Kitty, Sixel) when ``textual-image`` found one at start
(it must ask the terminal before Textual takes it over: :func:`detect_graphics`). Everywhere
else, tmux included, it is drawn in half blocks: each cell is two pixels, the upper one the
foreground colour of ``▀`` and the lower one its background. Without Pillow the image is not
drawn (the message still lists it).
"""

from __future__ import annotations

import io
import sys

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

MAX_COLUMNS = 40
"""Widest an inline image is drawn, in cells."""
MAX_ROWS = 12
"""Tallest an inline image is drawn, in cells (two pixels each)."""


def detect_graphics() -> None:
    """Let ``textual-image`` (if installed) ask the terminal which graphics it draws; call it
    before the Textual app starts, on a terminal only. Nothing happens without the extra."""
    if not (sys.__stdout__ and sys.__stdout__.isatty()):
        return
    try:
        import textual_image.widget  # noqa: F401 - importing it asks the terminal
    except Exception:  # not installed, or the terminal did not answer: half blocks
        return


def graphics_widget(data: bytes) -> Static | None:
    """A ``textual-image`` widget drawing `data` with the terminal's graphics protocol, when
    :func:`detect_graphics` found one (None: draw half blocks)."""
    module = sys.modules.get("textual_image.widget")
    renderable = sys.modules.get("textual_image.renderable")
    if module is None or renderable is None:
        return None
    halfcell = sys.modules.get("textual_image.renderable.halfcell")
    unicode = sys.modules.get("textual_image.renderable.unicode")
    chosen = getattr(renderable, "Image", None)
    if chosen is None or chosen in (getattr(halfcell, "Image", None), getattr(unicode, "Image", None)):
        return None
    try:
        from PIL import Image as PILImage

        widget = module.Image(PILImage.open(io.BytesIO(data)), classes="message-image")
    except Exception:
        return None
    return widget  # type: ignore[no-any-return]


def half_blocks(data: bytes, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS) -> Text | None:
    """`data` (any image Pillow reads) as rows of ``▀`` cells, scaled to fit `max_columns` x
    `max_rows` cells keeping its aspect (a cell is taken as twice as tall as wide); None when
    Pillow is missing or cannot read it."""
    try:
        from PIL import Image as PILImage

        image = PILImage.open(io.BytesIO(data))
        image.seek(0)
        image = image.convert("RGBA")
    except Exception:
        return None
    width, height = image.size
    if not width or not height:
        return None
    scale = min(max_columns / width, (2 * max_rows) / height, 1.0)
    columns = max(1, round(width * scale))
    pixel_rows = max(2, round(height * scale))
    pixel_rows += pixel_rows % 2
    small = image.resize((columns, pixel_rows))
    background = PILImage.new("RGBA", small.size, (0, 0, 0, 255))
    pixels = PILImage.alpha_composite(background, small).convert("RGB").load()
    assert pixels is not None
    lines = []
    for row in range(0, pixel_rows, 2):
        segments = []
        for column in range(columns):
            top, bottom = pixels[column, row], pixels[column, row + 1]
            style = Style(color=Color.from_rgb(*top[:3]), bgcolor=Color.from_rgb(*bottom[:3]))
            segments.append(Segment("▀", style))
        line = Text()
        for segment in segments:
            line.append(segment.text, segment.style)
        lines.append(line)
    return Text("\n").join(lines)


class HalfBlockImage(Static):
    """An image drawn in half blocks (see :func:`half_blocks`)."""

    DEFAULT_CSS = "HalfBlockImage { width: auto; height: auto; margin: 0 0 1 0; }"

    def __init__(self, drawing: Text) -> None:
        super().__init__(drawing, classes="message-image")


def image_widget(data: bytes) -> Static | None:
    """The widget that draws an attached image inline (graphics protocol or half blocks), or
    None when it cannot be drawn here."""
    widget = graphics_widget(data)
    if widget is not None:
        return widget
    drawing = half_blocks(data)
    return HalfBlockImage(drawing) if drawing is not None else None
