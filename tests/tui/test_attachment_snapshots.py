"""Snapshot: a sent message with two text attachments listed above its text, and the chips of
two pending attachments above the prompt (see tests/tui/test_snapshots.py for how snapshots
are kept stable and updated)."""

from __future__ import annotations

from textual.pilot import Pilot

from llmchat.chat.models import Attachment
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.attachment_chips import AttachmentChips
from tests.tui.helpers import THEME_DIRS, fake_settings, send, wait_until
from tests.tui.test_snapshots import (  # noqa: F401 - fixtures used by name
    FINISHED,
    SIZE,
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
