"""The top-level blocks of a growing Markdown text, for StreamingMarkdown.

The Markdown widget llmchat renders with (:class:`ChatMarkdown`), where a finished block ends
(:class:`BlockSplitter`), how to keep the margins between blocks that live in separate Markdown
widgets (:func:`lift_margins`), and how tall a block probably is before it was ever laid out
(:func:`estimate_height`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from textual.await_complete import AwaitComplete
from textual.content import Content
from textual.geometry import Spacing
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

from llmchat.math_text import render_math


@cache
def markdown_parser() -> MarkdownIt:
    """The parser Textual's Markdown uses by default (``parser_factory`` for our widgets too).

    One instance is shared: building one costs milliseconds (it loads every rule), and parsing
    keeps no state in it.
    """
    return MarkdownIt("gfm-like")


@cache
def block_parser() -> MarkdownIt:
    """:func:`markdown_parser` with the block rules only: the same top-level blocks (and
    reference definitions) in a quarter of the time, as inline parsing is skipped."""
    parser = MarkdownIt("gfm-like")
    parser.disable(["inline", "linkify", "replacements", "smartquotes", "text_join"], ignoreInvalid=True)
    return parser


class PlainFence(MarkdownFence):
    """A code block that is highlighted only when it names its language.

    Textual's fence guesses the language of a block without one (pygments' ``guess_lexer`` tries
    every lexer on the code: 50-300 ms per block, redone at every render pass of a block that
    streams). An unlabelled or indented block is shown as plain text instead, as GitHub does.
    """

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        return super().highlight(code, language or "text", ansi, dark)


_Table = Markdown.BLOCKS["table_open"]


class ChatTable(_Table):  # type: ignore[misc,valid-type]
    """Textual's table block; when its rows are updated in place it says so (:attr:`patched`).

    ``Markdown.append`` updates a growing table's last rows in place, with widgets of another
    kind than a one-shot build makes, and fails when the new parse has fewer rows (a partial line
    that looked like a row turns out to start a block): then the table is built afresh.
    """

    patched = False
    """Rows were updated in place: what it shows is not exactly what a one-shot build shows."""

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        try:  # (Textual internals: another version without them gets a fresh table every time)
            shrinking = len(block._get_headers_and_rows()[1]) < len(self._rows)  # type: ignore[attr-defined]
        except AttributeError:
            shrinking = True
        if not isinstance(block, _Table) or shrinking:
            await MarkdownBlock._update_from_block(self, block)  # replaced by `block`
            return
        await super()._update_from_block(block)
        if self.is_attached:  # not replaced: updated in place
            self.patched = True
            self.call_after_refresh(self.align_columns)

    def on_mount(self) -> None:
        self.call_after_refresh(self.align_columns)

    def column_alignments(self) -> list[str]:
        """Each column's alignment from the delimiter row (``|:--|--:|:-:|``): ``left``,
        ``right``, ``center``, or ``left`` when none is given (the fast renderer's rule too)."""
        aligned: list[str] = []

        def walk(block: MarkdownBlock) -> None:
            for child in block._blocks:
                if type(child).__name__ == "MarkdownTH":
                    style = str((child._token.attrs or {}).get("style", ""))
                    aligned.append(style.partition("text-align:")[2].strip() or "left")
                walk(child)

        walk(self)
        return aligned

    def align_columns(self) -> None:
        """Align the cells of each column as its delimiter row asks (Textual's table block
        draws every cell left-aligned), so a table looks the same as in the fast renderer."""
        aligned = self.column_alignments()
        if not aligned or all(a == "left" for a in aligned):
            return
        for content in self.query("MarkdownTableContent"):
            for index, cell in enumerate(content.children):
                cell.styles.text_align = aligned[index % len(aligned)]  # type: ignore[assignment]


if TYPE_CHECKING:
    from textual.app import ComposeResult

    _ListBase = MarkdownBlock
else:
    _ListBase = object

_LIST_ITEMS = (Markdown.BLOCKS["list_item_ordered_open"], Markdown.BLOCKS["list_item_unordered_open"])


def list_item_lines(block: MarkdownBlock) -> list[tuple[int, int]]:
    """The line ranges of a list block's items (before it is composed), relative to the list's
    first line: the same in two parses of a growing text that start on different lines."""
    first = block._token.map[0] if block._token.map else 0
    return [
        (item.source_range[0] - first, item.source_range[1] - first)
        for item in block._blocks
        if isinstance(item, _LIST_ITEMS)
    ]


class GrowingList(_ListBase):
    """A list block that a longer parse of the same text updates in place (a mixin: Textual's
    CSS of the list block it is mixed into still applies).

    Textual's list block is replaced whole by ``Markdown.append`` at every render pass while it is
    the open block: every item's widgets built and mounted again, and the old ones left to the
    garbage collector's full collections (at 50 tokens/s a list that streams for a minute was
    most of the session's garbage: docs/performance.md). The items before the last one are
    complete, closed by the item that follows: when the new parse starts them on the same lines
    and their numbering keeps its width, their rows are kept and only the rest is rebuilt,
    with the same widgets a one-shot build makes.
    """

    item_lines: list[tuple[int, int]]
    """Where each item is (list_item_lines), as composed."""

    def compose(self) -> ComposeResult:
        self.item_lines = list_item_lines(self)
        yield from super().compose()

    def _number_width(self, count: int) -> int:
        """The width of the widest item number of a list of `count` items (0: a bullet list)."""
        return 0

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        old = getattr(self, "item_lines", None)
        new = list_item_lines(block)
        rows = list(self.children)
        keep = 0
        if type(block) is type(self) and old is not None and len(rows) == len(old):
            limit = min(len(old), len(new)) - 1
            while keep < limit and old[keep] == new[keep]:
                keep += 1
            if self._number_width(len(old)) != self._number_width(len(new)):
                keep = 0
        if keep == 0:
            await MarkdownBlock._update_from_block(self, block)  # replaced by `block`, as Textual does
            return
        fresh = list(block.compose())  # rows as a one-shot build makes them, for every item
        await self.remove_children(rows[keep:])
        await self.mount_all(fresh[keep:])
        self.item_lines = new


_BulletList = Markdown.BLOCKS["bullet_list_open"]
_OrderedList = Markdown.BLOCKS["ordered_list_open"]


class ChatBulletList(GrowingList, _BulletList):  # type: ignore[misc,valid-type]
    """Textual's bullet list, updated in place while it grows (:class:`GrowingList`)."""


class ChatOrderedList(GrowingList, _OrderedList):  # type: ignore[misc,valid-type]
    """Textual's numbered list, updated in place while it grows (:class:`GrowingList`)."""

    def _number_width(self, count: int) -> int:
        start = self._token.attrGet("start")  # set when the list does not start at 1
        return len(str((int(start) if isinstance(start, int | str) else 1) + max(count, 1) - 1))


class ChatMarkdown(Markdown):
    """Textual's Markdown as llmchat renders replies: the shared parser, no language guessing,
    tables that survive a shrinking update.

    Args:
        markdown: The text (rendered once mounted).
        name: The name of the widget.
        id: The ID of the widget in the DOM.
        classes: The CSS classes of the widget.
    """

    BLOCKS: dict[str, type[MarkdownBlock]] = {  # noqa: RUF012 (Textual's own annotation)
        **Markdown.BLOCKS, "fence": PlainFence, "code_block": PlainFence, "table_open": ChatTable,
        "bullet_list_open": ChatBulletList, "ordered_list_open": ChatOrderedList,
    }

    def __init__(
        self,
        markdown: str | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(markdown, name=name, id=id, classes=classes, parser_factory=markdown_parser)

    def update(self, markdown: str) -> AwaitComplete:
        """Show `markdown`, its LaTeX math as Unicode (:func:`llmchat.math_text.render_math`;
        what is appended while a block streams stays as typed until the block is redrawn)."""
        return super().update(render_math(markdown))


class BlockSplitter:
    """Cuts the open tail of a growing text into finished top-level blocks and the open one."""

    def __init__(self) -> None:
        self._parser = block_parser()
        self.has_references = False
        """True once a reference-style link definition was seen (they reach across blocks)."""

    def split(self, text: str, *, final: bool) -> tuple[list[str], str]:
        """Cut `text` (the open tail plus new text) into finished blocks and the open tail.

        Only complete lines decide: the last, partial line could still turn into something that
        continues an earlier block (``1. a`` / blank / ``2`` may become ``2. b``, the same list).
        A top-level token that opens a block has ``level == 0`` and a line ``map``. Once a later
        top-level block has started on a complete line, the blocks before it are closed for good:
        CommonMark parses blocks line by line and never reopens a closed one (a setext underline
        or a table's delimiter row only changes the paragraph that is still the last block).
        Blank lines and anything that makes no token (reference definitions) stay with the block
        before them.

        Args:
            text: Markdown with ``\\n`` line ends, starting at the start of a top-level block.
            final: The text is complete: its last line counts too.

        Returns:
            The finished blocks and the rest; together they are `text`.
        """
        end = len(text) if final else text.rfind("\n") + 1
        if end <= 0:
            return [], text
        env: dict[str, object] = {}
        tokens = self._parser.parse(text[:end], env)
        if env.get("references"):
            self.has_references = True
        starts = [
            token.map[0]
            for token in tokens
            if token.level == 0 and token.nesting >= 0 and token.map is not None
        ]
        if len(starts) < 2:
            return [], text
        starts[0] = 0
        line_offsets = [0]
        offset = 0
        for _ in range(starts[-1]):
            offset = text.index("\n", offset) + 1
            line_offsets.append(offset)
        cuts = [line_offsets[line] for line in starts]
        blocks = [text[a:b] for a, b in pairwise(cuts) if a < b]
        return blocks, text[cuts[-1] :]


def normalize_newlines(text: str) -> str:
    """Line ends as markdown-it counts them (it reads CRLF and CR as LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def estimate_height(text: str, width: int) -> int:
    """Rows a chunk of Markdown probably takes at `width` (for a chunk never laid out)."""
    rows = 0
    for line in text.rstrip("\n").split("\n"):
        rows += max(1, -(-len(line) // width))
    return rows


def lift_margins(markdown: Markdown) -> tuple[int, int]:
    """Move the top margin of the first block and the bottom margin of the last onto `markdown`.

    Inside one Markdown widget, the vertical layout collapses the margins between blocks (the gap
    is the larger of the two). Split over sibling Markdown widgets, they would add up. With the
    outer margins lifted onto the Markdown widgets themselves, the siblings' margins collapse
    exactly as the blocks' did.

    Returns:
        The lifted (top, bottom) margins.
    """
    lift = MarginLift()
    lift.apply(markdown)
    return lift.top, lift.bottom


@dataclass(eq=False)
class MarginLift:
    """The margins lifted from a Markdown widget's first and last blocks (see lift_margins).

    ``apply`` may run again after the widget changed (``Markdown.append`` replaces or adds
    blocks): a block that is no longer first or last gets its margin back.
    """

    first: MarkdownBlock | None = None
    top: int = 0
    last: MarkdownBlock | None = None
    bottom: int = 0

    def apply(self, markdown: Markdown) -> None:
        """Lift the margins of `markdown`'s current first and last blocks onto it."""
        blocks = list(markdown.query_children(MarkdownBlock))
        first = blocks[0] if blocks else None
        last = blocks[-1] if blocks else None
        if self.last is not None and self.last is not last and self.last.is_attached:
            above, right, _, left = self.last.styles.margin
            self.last.styles.margin = Spacing(above, right, self.bottom, left)
        if self.first is not None and self.first is not first and self.first.is_attached:
            _, right, below, left = self.first.styles.margin
            self.first.styles.margin = Spacing(self.top, right, below, left)
        if first is not self.first:
            self.first, self.top = first, 0
            if first is not None:
                above, right, below, left = first.styles.margin
                self.top = above
                first.styles.margin = Spacing(0, right, below, left)
        if last is not self.last:
            self.last, self.bottom = last, 0
            if last is not None:
                above, right, below, left = last.styles.margin
                self.bottom = below
                last.styles.margin = Spacing(above, right, 0, left)
        markdown.styles.margin = (self.top, 0, self.bottom, 0)
