"""Snapshot: a sent message with two text attachments listed above its text, and the chips of
two pending attachments above the prompt (see tests/tui/test_snapshots.py for how snapshots
are kept stable and updated)."""

from __future__ import annotations

from textual.pilot import Pilot

from llmchat.chat.models import Attachment
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.attachment_chips import AttachmentChips
from llmchat.tui.widgets.image_view import HalfBlockImage
from tests.tui.helpers import THEME_DIRS, fake_settings, send, wait_until
from tests.tui.test_snapshots import (  # noqa: F401 - fixtures used by name
    FINISHED,
    SIZE,
    At,
    FakeClock,
    ScriptedProvider,
    Snap,
    chat_ready,
    clock,
    fixed_terminal,
    wait_for_end,
)

LOG = Attachment("logs/app.log", "text/plain", b"ERROR: disk full\n" * 40, "ERROR: disk full\n" * 40)
CONFIG = Attachment("config.yaml", "text/plain", b"disk:\n  quota: 10G\n", "disk:\n  quota: 10G\n")
NOTES = Attachment("notes.md", "text/plain", b"# Notes\n", "# Notes\n")


async def two_attachments_sent(pilot: Pilot[None]) -> None:
    screen = await chat_ready(pilot)
    chips = screen.query_one(AttachmentChips)
    await wait_until(pilot, lambda: len(chips.attachments) == 2)
    await send(pilot, "Why does the service stop?")
    await wait_for_end(pilot, screen, "done")
    await screen.add_attachments([NOTES, LOG])  # pending for the next message: chips
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_message_with_two_text_attachments(snap_compare: Snap, clock: FakeClock) -> None:  # noqa: F811
    app = LlmChatApp(fake_settings(LLMCHAT_MODEL="gpt-4o-mini"), provider=ScriptedProvider(clock, FINISHED),
                     theme_dirs=THEME_DIRS, attachments=[LOG, CONFIG])
    assert snap_compare(app, terminal_size=SIZE, run_before=two_attachments_sent)


def small_png() -> bytes:
    """A 48 x 24 PNG: four colour bands over a dark square, drawn with Pillow."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (48, 24), (20, 20, 40))
    draw = ImageDraw.Draw(image)
    for i, colour in enumerate([(230, 60, 60), (60, 200, 90), (70, 110, 230), (240, 200, 40)]):
        draw.rectangle([i * 12, 0, i * 12 + 11, 11], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SHORT_REPLY = [At(0.42), ContentDelta("Four colour bands (red, green, blue, yellow) over a dark square."),
               Usage(input_tokens=85, output_tokens=16, total_tokens=101), At(0.61), Finish("stop", "stop")]
"""A reply short enough that the picture above it stays on screen (a long one scrolls it away)."""


async def image_sent(pilot: Pilot[None]) -> None:
    screen = await chat_ready(pilot)
    await wait_until(pilot, lambda: len(screen.query_one(AttachmentChips).attachments) == 1)
    await send(pilot, "What is in this picture?")
    await wait_for_end(pilot, screen, "done")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    image = screen.query_one(HalfBlockImage)
    shown = screen.find_widget(image).visible_region  # the part of the picture on screen
    assert image.size.height > 0 and shown.height == image.size.height, (shown, image.size)


def test_message_with_an_image_in_half_blocks(snap_compare: Snap, clock: FakeClock) -> None:  # noqa: F811
    """The image is drawn in half blocks (the fallback of every terminal, tmux included), whole
    on screen above the message's text."""
    picture = Attachment("bands.png", "image/png", small_png())
    app = LlmChatApp(fake_settings(LLMCHAT_MODEL="gpt-4o-mini"), provider=ScriptedProvider(clock, SHORT_REPLY),
                     theme_dirs=THEME_DIRS, attachments=[picture])
    assert snap_compare(app, terminal_size=SIZE, run_before=image_sent)


def test_half_blocks_put_two_pixels_in_a_cell() -> None:
    import io

    from PIL import Image

    from llmchat.tui.widgets.image_view import half_blocks

    image = Image.new("RGB", (2, 2))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((0, 1), (0, 0, 255))
    image.putpixel((1, 0), (0, 255, 0))
    image.putpixel((1, 1), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    drawing = half_blocks(out.getvalue())
    assert drawing is not None and drawing.plain == "▀▀"
    styles = [span.style for span in drawing.spans]
    assert [(s.color.triplet, s.bgcolor.triplet) for s in styles] == [  # type: ignore[union-attr]
        ((255, 0, 0), (0, 0, 255)), ((0, 255, 0), (255, 255, 255))]
    assert half_blocks(b"not an image") is None
