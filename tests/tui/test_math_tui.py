"""The session shows LaTeX math as Unicode (issue 17) and copies the model's source."""

from __future__ import annotations

from tests.tui.conftest import OpenChat


async def test_the_session_shows_math_as_unicode_and_copies_the_source(open_chat: OpenChat) -> None:
    from llmchat.providers.events import ContentDelta, Finish
    from tests.tui.helpers import message_views, plain_text, send, wait_until

    answer = "The area is $\\pi r^2$.\n\nDone."
    async with open_chat([ContentDelta(answer), Finish("stop", "stop")]) as chat:
        await send(chat.pilot, "area?")
        await wait_until(chat.pilot, lambda: not chat.screen.streaming and len(chat.screen.conversation.messages) == 2)
        await chat.pilot.pause()
        view = message_views(chat.pilot)[-1]
        shown = " ".join(plain_text(w) for w in view.body.query("MarkdownParagraph"))
        assert "πr²" in shown and "$" not in shown
        assert view.copy_text == answer  # copies and the history keep the source
