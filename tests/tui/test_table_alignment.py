"""Table column alignment (`|---:|`) is honoured in the final render, as the fast renderer does
(issue 17): a right-aligned column's cells are right-aligned, a centred one's centred."""

from __future__ import annotations

from llmchat.providers.events import ContentDelta, Finish
from tests.tui.conftest import OpenChat
from tests.tui.helpers import message_views, send, wait_until

TABLE = "| name | count | note |\n|:-----|------:|:----:|\n| apples | 1234 | ok |\n| figs | 5 | fine |\n"


async def test_the_final_table_keeps_the_column_alignment(open_chat: OpenChat) -> None:
    async with open_chat([ContentDelta(TABLE), Finish("stop", "stop")]) as chat:
        await send(chat.pilot, "table please")
        await wait_until(chat.pilot, lambda: not chat.screen.streaming and len(chat.screen.conversation.messages) == 2)
        view = message_views(chat.pilot)[-1]

        def aligned() -> list[str]:
            return [str(c.styles.text_align) for c in view.body.query("MarkdownTableContent").first().children]

        await wait_until(chat.pilot, lambda: bool(view.body.query("MarkdownTableContent")) and aligned()[1] == "right")
        assert aligned() == ["left", "right", "center"] * 3  # the header row, then both rows
