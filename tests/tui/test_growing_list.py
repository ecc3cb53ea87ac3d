"""A list that grows by Markdown.append keeps the rows of its finished items (GrowingList in
markdown_blocks.py) and still looks, after every append, exactly like a one-shot render of the
text so far."""

from __future__ import annotations

import random

from textual.widgets import Markdown

from llmchat.tui.widgets.markdown_blocks import ChatBulletList, ChatMarkdown, ChatOrderedList
from tests.tui.test_stream_markdown import Host

LISTS = """\
Intro paragraph.

- first item with **bold**
- second item
  - nested one
  - nested two
- third item

  with a second paragraph (the list is loose now)
- fourth `code`

1. one
2. two
3. three
4. four
5. five
6. six
7. seven
8. eight
9. nine
10. ten, the numbers get wider here
11. eleven

7. starts at seven
8. eight
9. nine
10. ten

- a list
- that ends

Then a paragraph, and another list:

* star one
* star two
+ plus starts a new list
"""


def pieces_of(text: str, rng: random.Random) -> list[str]:
    """`text` cut at random places, often inside a line (a partial last line at every append)."""
    pieces, at = [], 0
    while at < len(text):
        size = rng.choice([3, 7, 12, 20, 31])
        pieces.append(text[at : at + size])
        at += size
    return pieces


async def test_a_growing_list_keeps_its_rows_and_renders_like_one_shot() -> None:
    rng = random.Random(7)
    streamed, oneshot = ChatMarkdown(), ChatMarkdown()
    app = Host(streamed, oneshot)
    kept = 0
    async with app.run_test(size=(60, 120)) as pilot:
        text = ""
        for piece in pieces_of(LISTS, rng):
            lists = [block for block in streamed.children if isinstance(block, ChatBulletList | ChatOrderedList)]
            first_rows = {id(block): block.children[0] for block in lists if block.children}
            text += piece
            await streamed.append(piece)
            await oneshot.update(text)
            await pilot.pause()
            for block in streamed.children:
                if id(block) in first_rows and block.children and block.children[0] is first_rows[id(block)]:
                    kept += 1
            streamed.display, oneshot.display = True, False
            await pilot.pause()
            got = app.export_screenshot()
            streamed.display, oneshot.display = False, True
            await pilot.pause()
            assert got == app.export_screenshot(), f"differs after {text!r}"
            streamed.display = True
    assert kept > 10  # rows of finished items were kept, not rebuilt


async def test_a_list_whose_numbers_get_wider_is_rebuilt() -> None:
    text = "".join(f"{n}. item {n}\n" for n in range(1, 10))
    app = Host(markdown := ChatMarkdown())
    async with app.run_test(size=(40, 30)) as pilot:
        await markdown.append(text)
        await pilot.pause()
        (numbered,) = markdown.children
        first = numbered.children[0]
        await markdown.append("10. item 10\n")
        await pilot.pause()
        (numbered,) = markdown.children
        assert numbered.children[0] is not first  # " 1. " now, not "1. ": every row anew
        assert len(numbered.children) == 10
        await markdown.append("11. item 11\n")
        await pilot.pause()
        (again,) = markdown.children
        assert again is numbered and again.children[0] is numbered.children[0]


def test_textual_still_has_the_list_blocks_this_builds_on() -> None:
    assert issubclass(ChatBulletList, Markdown.BLOCKS["bullet_list_open"])
    assert issubclass(ChatOrderedList, Markdown.BLOCKS["ordered_list_open"])
    assert ChatMarkdown.BLOCKS["bullet_list_open"] is ChatBulletList
