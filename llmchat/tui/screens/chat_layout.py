"""ChatLayout: the chat screen fits the terminal it is in.

Below :data:`SIDEBAR_FOLDS_BELOW` columns the sidebar folds away by itself and it comes back
when the terminal is widened again. The sidebar key (Ctrl+B, the palette's "Toggle sidebar")
still works at any width, and the user's choice wins until the width next crosses the
threshold: a terminal made narrow gets its room back, a terminal made wide gets its figures
back, and a resize that stays on one side of the line keeps what the user chose.

The screen carries the class ``-narrow`` below that width (the footer goes compact, the
prompt's placeholder gets shorter) and ``-short`` below :data:`SHORT_BELOW` rows (the blank
line under the prompt goes), so app.tcss can style each case.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) composes the sidebar, the prompt and the
footer; the resize reaches this class through Textual's handler lookup, also while a dialog
is open over the screen (Textual sends it to the screens under a modal one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.geometry import Size
from textual.widgets import Footer

from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

SIDEBAR_FOLDS_BELOW = 110
"""Columns: a narrower terminal hides the sidebar by itself (it leaves the conversation about
78 columns at this width, the width of a classic terminal)."""
SHORT_BELOW = 30
"""Rows: a shorter terminal drops the blank line under the prompt."""

PLACEHOLDER = "Message (Enter to send, Ctrl+J for a new line, /help for commands)"
"""The prompt's placeholder where there is room for it."""
NARROW_PLACEHOLDER = "Message (/help for commands)"
"""The placeholder below :data:`SIDEBAR_FOLDS_BELOW` columns (the footer shows the keys)."""


class ChatLayout(_Base):
    """Folds the sidebar away in a narrow terminal; mixed into ChatScreen."""

    _wide: bool | None = None
    """The side of :data:`SIDEBAR_FOLDS_BELOW` the terminal was on at the last fit (None:
    never fitted yet)."""

    @property
    def sidebar_folded(self) -> bool:
        """True while the sidebar is hidden (by the width or by the user)."""
        return not self.query_one(Sidebar).display

    def fit_to(self, size: Size) -> None:
        """Fit the screen to a terminal of `size` (columns, rows): the classes, the footer, the
        placeholder, and the sidebar when the width crossed :data:`SIDEBAR_FOLDS_BELOW` (or on
        the first fit)."""
        wide = size.width >= SIDEBAR_FOLDS_BELOW
        self.set_class(not wide, "-narrow")
        self.set_class(size.height < SHORT_BELOW, "-short")
        if wide == self._wide:
            return  # same side of the line: the sidebar stays as the user left it
        self._wide = wide
        self.query_one(Sidebar).display = wide
        self.query_one(Footer).compact = not wide
        self.query_one(PromptInput).placeholder = PLACEHOLDER if wide else NARROW_PLACEHOLDER

    def on_resize(self, event: events.Resize) -> None:
        self.fit_to(event.size)

    def on_screen_resume(self) -> None:
        # a resize while another (non-modal) screen covered this one did not reach it
        self.fit_to(self.app.size)

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar (the choice holds until the width crosses the fold line)."""
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display
