"""The chat screen fits its terminal: the sidebar folds away below SIDEBAR_FOLDS_BELOW columns
and comes back above it; the sidebar key still works, and the user's choice holds until the
width crosses the line again (tui/screens/chat_layout.py)."""

from __future__ import annotations

import asyncio

from textual.geometry import Region
from textual.widgets import Button, Footer

from llmchat.chat.attachments import from_bytes
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.tui.screens.chat_layout import NARROW_PLACEHOLDER, PLACEHOLDER, SIDEBAR_FOLDS_BELOW
from llmchat.tui.screens.help import HelpScreen
from llmchat.tui.widgets.attachment_chips import AttachmentChips
from llmchat.tui.widgets.figures_text import FiguresText
from llmchat.tui.widgets.fitting_footer import FittingFooter
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from tests.tui.conftest import Chat, OpenChat
from tests.tui.helpers import send, wait_until

WIDE = SIDEBAR_FOLDS_BELOW + 10
NARROW = SIDEBAR_FOLDS_BELOW - 10


def sidebar_shown(chat: Chat) -> bool:
    """The sidebar is on screen (displayed and given room)."""
    sidebar = chat.screen.query_one(Sidebar)
    return sidebar.display and sidebar.region.width > 0


async def resize(chat: Chat, width: int, height: int = 30) -> None:
    """Resize the terminal and wait until the screen has been fitted to the new width."""
    await chat.pilot.resize_terminal(width, height)
    await wait_until(chat.pilot, lambda: chat.screen.size.width == width
                     and chat.screen.has_class("-narrow") == (width < SIDEBAR_FOLDS_BELOW))
    await chat.pilot.pause()


async def toggle(chat: Chat) -> None:
    before = chat.screen.query_one(Sidebar).display
    await chat.pilot.press("ctrl+b")
    await wait_until(chat.pilot, lambda: chat.screen.query_one(Sidebar).display != before)
    await chat.pilot.pause()


async def test_the_sidebar_folds_below_the_line_and_comes_back_above_it(open_chat: OpenChat) -> None:
    async with open_chat([], size=(WIDE, 30)) as chat:
        assert sidebar_shown(chat)
        assert chat.screen.query_one(PromptInput).placeholder == PLACEHOLDER
        await resize(chat, NARROW)
        await wait_until(chat.pilot, lambda: not sidebar_shown(chat))
        # the conversation gets the whole width; the footer and the placeholder get shorter
        assert chat.screen.query_one("#chat").region.width == NARROW
        assert chat.screen.query_one(Footer).compact
        assert chat.screen.query_one(PromptInput).placeholder == NARROW_PLACEHOLDER
        await resize(chat, SIDEBAR_FOLDS_BELOW)  # the line itself is wide
        await wait_until(chat.pilot, lambda: sidebar_shown(chat))
        assert not chat.screen.query_one(Footer).compact
        assert chat.screen.query_one(PromptInput).placeholder == PLACEHOLDER


async def test_a_narrow_start_has_no_sidebar_and_the_key_still_shows_it(open_chat: OpenChat) -> None:
    async with open_chat([], size=(80, 24)) as chat:
        await wait_until(chat.pilot, lambda: chat.screen.has_class("-narrow"))
        assert not sidebar_shown(chat)
        await toggle(chat)
        assert sidebar_shown(chat)
        await toggle(chat)
        assert not sidebar_shown(chat)


async def test_the_users_choice_holds_until_the_width_crosses_the_line(open_chat: OpenChat) -> None:
    async with open_chat([], size=(WIDE, 30)) as chat:
        await toggle(chat)  # hidden by hand in a wide terminal
        assert not sidebar_shown(chat)
        await resize(chat, WIDE + 30)  # wider still: the choice holds
        assert not sidebar_shown(chat)
        await resize(chat, NARROW)  # crossed: narrow, folded
        assert not sidebar_shown(chat)
        await toggle(chat)  # shown by hand in a narrow terminal
        assert sidebar_shown(chat)
        await resize(chat, NARROW - 20, 20)  # narrower and shorter: the choice holds
        assert sidebar_shown(chat)
        await resize(chat, WIDE)  # crossed: wide, shown
        assert sidebar_shown(chat)
        await toggle(chat)
        await resize(chat, NARROW)
        await resize(chat, WIDE)  # crossed twice: shown again, whatever the last choice was
        assert sidebar_shown(chat)


async def test_a_resize_under_a_dialog_fits_the_screen_beneath(open_chat: OpenChat) -> None:
    async with open_chat([], size=(WIDE, 30)) as chat:
        chat.app.push_screen(HelpScreen("/help text"))
        await wait_until(chat.pilot, lambda: isinstance(chat.app.screen, HelpScreen))
        await chat.pilot.resize_terminal(NARROW, 30)
        await wait_until(chat.pilot, lambda: chat.screen.has_class("-narrow"))
        assert not chat.screen.query_one(Sidebar).display
        await chat.pilot.press("escape")
        await wait_until(chat.pilot, lambda: chat.app.screen is chat.screen)
        await chat.pilot.pause()
        assert not sidebar_shown(chat)


async def test_the_short_terminal_drops_the_line_under_the_prompt(open_chat: OpenChat) -> None:
    async with open_chat([], size=(80, 30)) as chat:
        prompt = chat.screen.query_one(PromptInput)
        assert not chat.screen.has_class("-short")
        assert prompt.styles.margin.bottom == 1
        await resize(chat, 80, 24)
        await wait_until(chat.pilot, lambda: chat.screen.has_class("-short"))
        await wait_until(chat.pilot, lambda: prompt.styles.margin.bottom == 0)
        # the prompt keeps its side margins and sits right above the footer
        assert prompt.styles.margin.left == prompt.styles.margin.right == 1
        footer = chat.screen.query_one(Footer)
        assert prompt.region.bottom == footer.region.y


def footer_offers(chat: Chat) -> dict[str, str]:
    """Footer description -> key shown, for the keys the footer offers now."""
    footer = chat.screen.query_one(Footer)
    return {key.description: key.key_display for key in footer.query("FooterKey")}


async def test_the_footer_offers_stop_reply_only_while_a_reply_streams(open_chat: OpenChat) -> None:
    gate = asyncio.Event()  # never set: the reply streams until Escape
    async with open_chat([ContentDelta("Once upon"), gate], size=(80, 24)) as chat:
        await wait_until(chat.pilot, lambda: "New chat" in footer_offers(chat))
        assert "Stop reply" not in footer_offers(chat)  # idle: nothing to stop
        await send(chat.pilot, "Tell me a story")
        await wait_until(chat.pilot, lambda: chat.screen.streaming and "Stop reply" in footer_offers(chat))
        assert footer_offers(chat)["Stop reply"] == "esc"
        await chat.pilot.press("escape")
        await wait_until(chat.pilot, lambda: not chat.screen.streaming)
        await wait_until(chat.pilot, lambda: "Stop reply" not in footer_offers(chat)
                         and "New chat" in footer_offers(chat))
        assert chat.screen.conversation.messages[-1].finish_reason == "cancelled"


FIGURES = "gpt-4o-mini · 23 in / 71 out · TTFT 0.42 s · 59 tok/s · 1.62 s · $0.000046"


def test_the_figures_line_wraps_between_figures_never_inside_one() -> None:
    text = FiguresText(FIGURES)
    parts = FIGURES.split(" · ")
    assert text.rows(len(FIGURES)) == [FIGURES] and str(text) == FIGURES
    assert text.rows(len(FIGURES) - 1) == [" · ".join(parts[:-1]), parts[-1]]
    assert text.rows(44) == ["gpt-4o-mini · 23 in / 71 out · TTFT 0.42 s", "59 tok/s · 1.62 s · $0.000046"]
    for width in range(max(map(len, parts)), len(FIGURES) + 1):
        rows = text.rows(width)
        assert " · ".join(rows) == FIGURES
        assert all(len(row) <= width for row in rows)
        assert all(row.startswith(tuple(parts)) and row.endswith(tuple(parts)) for row in rows)
        # no row could have taken the next row's first figure
        assert all(len(f"{row} · {after.split(' · ')[0]}") > width for row, after in zip(rows, rows[1:]))
    assert text.rows(5)[0] == "gpt-4o-mini"  # a figure wider than the row stays whole (it folds when drawn)
    assert FiguresText("").rows(40) == []


async def test_a_reply_figures_line_in_a_small_terminal(open_chat: OpenChat) -> None:
    usage = Usage(input_tokens=23, output_tokens=71, total_tokens=94)
    async with open_chat([ContentDelta("Hello there."), usage, Finish("stop", "stop")], size=(60, 20)) as chat:
        await send(chat.pilot, "Hi")
        view = chat.screen.query(MessageView).last()
        await wait_until(chat.pilot, lambda: view.figures.display and view.figures.size.height > 0)
        await chat.app.workers.wait_for_complete()
        await chat.pilot.pause()
        line = str(view.figures.content)
        width, height = view.figures.size
        shown = [strip.text.rstrip() for strip in view.figures.render_lines(Region(0, 0, width, height))]
        assert shown == FiguresText(line).rows(width)
        assert len(shown) > 1 and " · ".join(shown) == line  # it did wrap, between figures


def footer_shown(chat: Chat) -> list[str]:
    """The descriptions of the footer keys on screen, left to right (the palette key last)."""
    footer = chat.screen.query_one(FittingFooter)
    return [key.description for key in footer.query("FooterKey") if key.display]  # type: ignore[attr-defined]


async def test_the_footer_shows_whole_keys_only(open_chat: OpenChat) -> None:
    async with open_chat([], size=(60, 20)) as chat:
        footer = chat.screen.query_one(FittingFooter)
        offered = lambda: list(footer_offers(chat))  # noqa: E731
        # (while Textual rebuilds the keys, the old ones are there but not displayed)
        await wait_until(chat.pilot, lambda: "Send" in footer_shown(chat) and footer.fitted
                         and len(footer_shown(chat)) < len(offered()))
        shown = footer_shown(chat)
        assert shown[0] == "Send" and shown[-1] == "palette" and "New chat" in shown
        palette = footer.query(".-command-palette").first()
        for key in footer.query("FooterKey"):
            if key.display and key is not palette:
                assert key.region.right <= palette.region.x, key
        await resize(chat, 160, 48)  # room for every key again
        await wait_until(chat.pilot, lambda: footer.fitted and footer_shown(chat) == offered())
        await resize(chat, 80, 24)
        await wait_until(chat.pilot, lambda: footer.fitted)
        assert footer_shown(chat)[:4] == ["Send", "Newline", "Editor", "New chat"]


async def test_attachment_chips_stack_when_they_do_not_fit_side_by_side(open_chat: OpenChat) -> None:
    names = ["chapter_one.md", "notes.md", "figures.csv"]  # about 35 columns a chip
    attachments = [from_bytes(name, b"hello\n") for name in names]
    async with open_chat([], size=(60, 20)) as chat:
        chips = chat.screen.query_one(AttachmentChips)
        await chips.add(attachments)
        await wait_until(chat.pilot, lambda: chips.has_class("-stacked") and chips.size.height == 3)
        await chat.pilot.pause()
        shown = list(chips.query(Button))
        assert [chip.region.y for chip in shown] == [chips.region.y + row for row in range(3)]  # each whole
        assert all(chips.region.contains_region(chip.region) for chip in shown)  # nothing off screen
        await resize(chat, 160, 48)  # room for all three in one row (beside the sidebar)
        await wait_until(chat.pilot, lambda: not chips.has_class("-stacked") and chips.size.height == 1)
        await chat.pilot.pause()
        assert len({chip.region.y for chip in shown}) == 1
        assert all(chips.region.contains_region(chip.region) for chip in shown)
        await chips.remove_at(0)
        await resize(chat, 60, 20)
        await wait_until(chat.pilot, lambda: chips.has_class("-stacked") and chips.size.height == 2)
