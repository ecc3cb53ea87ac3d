"""ChatTabs: a chat screen as one tab of the session (keys, ``/tab``, its title and mark).

Each tab is a ChatScreen of its own (its own session: provider, model, system prompt,
tools, stream), shown in a Textual *mode* of its own, so a modal stays with its tab and the
keys of a tab (Escape first) reach the visible one only. The app's tab set
(:mod:`llmchat.tui.tabs`) opens, switches and closes them; a screen reaches it through
:class:`TabControl` and tells it about changes with :class:`TabStateChanged`.

A tab that is not visible keeps streaming and recording, but renders nothing: its
replies' Markdown waits (:meth:`StreamingMarkdown.reveal`) until the tab shows again.
"""

from __future__ import annotations

from functools import partial
from time import monotonic
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message

from llmchat.safety import one_line
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from llmchat.tui.widgets.tab_bar import Mark, TabBar, TabEntry

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.engine import ChatSession
    from llmchat.store.recorder import Recorder

    _Base = Screen[None]
else:
    _Base = object

TAB_BINDINGS = [
    Binding("ctrl+t", "new_tab", "New tab", show=False, id="tab.new"),
    # Priority, so that it is seen before the prompt's own Ctrl+W (delete the word left),
    # which it leaves alone while the prompt has text: see ChatTabs.action_close_tab.
    Binding("ctrl+w", "close_tab", "Close tab", show=False, id="tab.close", priority=True),
    Binding("ctrl+pagedown,ctrl+tab", "next_tab", "Next tab", show=False, id="tab.next"),
    Binding("ctrl+pageup,ctrl+shift+tab", "previous_tab", "Previous tab", show=False, id="tab.previous"),
    *(Binding(f"alt+{n}", f"go_tab({n})", f"Tab {n}", show=False, id=f"tab.go-{n}") for n in range(1, 10)),
]
"""The tab keys, in browsers' habits (ChatScreen's BINDINGS include them)."""

TITLE_CHARS = 40
"""A tab's title is at most this many characters (the bar cuts it further to fit)."""

REPEAT_GUARD = 0.6
"""Seconds Ctrl+W must rest before it closes a tab after it last deleted a word or closed a
tab (a held key repeats about 30 times a second)."""

MARK_WORDS = {"busy": "streaming", "done": "new reply", "error": "failed"}
"""What ``/tab`` says of each mark."""

NEW_TITLE = "New chat"
"""The title of a tab whose conversation has no message yet."""


class TabStateChanged(Message):
    """A tab's title, mark or conversation may have changed (posted by the screen; the app's
    tab set redraws the bar and saves the open tabs)."""


@runtime_checkable
class TabControl(Protocol):
    """What a tab needs of the app's tab set (:class:`llmchat.tui.tabs.TabSet`); a
    protocol, so that the screens never import the app's modules."""

    def open_tab(self, conversation_id: str | None = None) -> object:
        """Open a tab (a conversation of the history, or a new one) and show it."""
        ...

    def close_tab(self, screen: object, *, ask: bool = True) -> object:
        """Close `screen`'s tab (asking first while it streams, when `ask`)."""
        ...

    def step_tab(self, step: int) -> None:
        """Show the tab `step` places away (wrapping around)."""
        ...

    def go_tab(self, number: int) -> bool:
        """Show tab `number` (from 1); False when there is none."""
        ...

    def tab_list(self) -> list[tuple[int, TabEntry, bool]]:
        """(number, entry, visible) of every tab, in order."""
        ...

    close_key_at: float
    """When Ctrl+W was last pressed on a tab (``time.monotonic``): the repeat guard."""


class ChatTabs(_Base):
    """A chat screen's side of the tabs, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        session: ChatSession
        recorder: Recorder
        streaming: bool
        _reply_failed: bool
        _open_at_start: str | None

    _unseen: Mark = ""
    """How the last reply ended while the tab was not visible ("done" or "error"), until seen."""
    _shown_state: tuple[str, Mark, str | None] | None = None
    """The (title, mark, conversation id) last told to the tab set."""
    stored_title: str | None = None
    """The conversation's title in the history (the tab set sets it for restored tabs; shown
    until the conversation is loaded, when the tab first shows)."""

    # -- what the bar shows ---------------------------------------------------------------

    def tab_title(self) -> str:
        """The conversation's stored title, else its first message's first line, else
        :data:`NEW_TITLE` (not yet made safe: the bar does that)."""
        if self.stored_title and not self.session.conversation.messages:
            return self.stored_title[:TITLE_CHARS * 4]
        for message in self.session.conversation.messages:
            if message.role == "user" and message.content.strip():
                return message.content.strip().split("\n", 1)[0][: TITLE_CHARS * 4]
        return NEW_TITLE

    def tab_mark(self) -> Mark:
        """"busy" while a reply streams, else how an unseen reply ended, else nothing."""
        return "busy" if self.streaming else self._unseen

    def tab_entry(self) -> TabEntry:
        """What the tab bar shows of this tab."""
        return TabEntry(self.tab_title(), self.tab_mark())

    def tab_conversation(self) -> str | None:
        """The id of the tab's conversation in the history (None: nothing sent yet); for a
        tab that was restored and not shown yet, the one it will open."""
        if self.recorder.conversation_id is None and not self.session.conversation.messages:
            return self._open_at_start
        return self.recorder.conversation_id

    def check_tab_state(self) -> None:
        """Post :class:`TabStateChanged` when the title, mark or conversation changed."""
        state = (self.tab_title(), self.tab_mark(), self.tab_conversation())
        if state != self._shown_state:
            self._shown_state = state
            self.post_message(TabStateChanged())

    def watch_streaming(self, was_streaming: bool, streaming: bool) -> None:
        """A reply that ends in a tab nobody looks at marks the tab until it is seen."""
        if was_streaming and not streaming and not self.is_current:
            outcome = self.session.outcome()
            last = outcome.replies[-1] if outcome is not None and outcome.replies else None
            if self._reply_failed:
                self._unseen = "error"
            elif last is None or last.finish_reason != "cancelled":
                self._unseen = "done"
        self.check_tab_state()

    def on_screen_resume(self) -> None:
        """The tab shows: its marks are seen, and what its replies held back renders now."""
        self._unseen = ""
        for body in self.query(StreamingMarkdown):
            body.reveal()
        if getattr(self, "mcp", None) is not None:  # a tab that first shows after the servers started
            from llmchat.tui.screens.mcp import add_prompt_completions

            add_prompt_completions(self)
        self.check_tab_state()
        self.post_message(TabStateChanged())

    def show_tabs(self, entries: list[TabEntry], active: int) -> None:
        """Draw the tab bar (the tab set calls this on the visible tab)."""
        self.query_one(TabBar).show(entries, active)

    def on_tab_bar_picked(self, event: TabBar.Picked) -> None:
        """A click on the bar shows that tab."""
        control = self._tabs()
        if control is not None:
            control.go_tab(event.index + 1)

    # -- keys, palette and /tab -------------------------------------------------------------

    def _tabs(self) -> TabControl | None:
        control = getattr(self.app, "tabs", None)
        return control if isinstance(control, TabControl) else None

    async def action_new_tab(self) -> None:
        """Open a new tab (this tab's provider, model and system prompt) and show it."""
        control = self._tabs()
        if control is not None:
            await _done(control.open_tab())

    async def action_close_tab(self) -> None:
        """Close this tab (asks first while its reply streams). Ctrl+W in a prompt that has
        text deletes the word to the left instead, and with one tab open it does only that.

        A held Ctrl+W (key repeat) never closes a tab: not when it has just emptied the prompt
        word by word, nor the next tab after it closed one; it closes again once the key has
        rested for :data:`REPEAT_GUARD` seconds.
        """
        control = self._tabs()
        if control is None or len(control.tab_list()) < 2:
            raise SkipAction()
        now, last = monotonic(), control.close_key_at
        control.close_key_at = now
        prompt = self.focused
        if isinstance(prompt, PromptInput) and prompt.text:
            raise SkipAction()
        if now - last >= REPEAT_GUARD:
            await _done(control.close_tab(self))

    def action_next_tab(self) -> None:
        """Show the next tab (after the last: the first)."""
        control = self._tabs()
        if control is not None:
            control.step_tab(1)

    def action_previous_tab(self) -> None:
        """Show the previous tab (before the first: the last)."""
        control = self._tabs()
        if control is not None:
            control.step_tab(-1)

    def action_go_tab(self, number: int) -> None:
        """Show tab `number` (from 1)."""
        control = self._tabs()
        if control is not None and not control.go_tab(number):
            self.notify(f"There is no tab {number}.", title="Tabs", timeout=3, markup=False)

    async def choose_tab(self) -> None:
        """Offer the open tabs in the command palette."""
        control = self._tabs()
        if control is None:
            return
        await self.app.search_commands(
            [(f"{number}  {one_line(entry.title, 60)}", partial(control.go_tab, number),
              "visible" if visible else (entry.mark or None)) for number, entry, visible in control.tab_list()],
            placeholder="Switch tab…",
        )

    async def run_tab_command(self, argument: str) -> None:
        """``/tab`` (list), ``/tab new``, ``/tab close``, ``/tab next``, ``/tab prev``, ``/tab N``."""
        control = self._tabs()
        if control is None:
            return
        word = argument.strip().lower()
        if word in ("", "list", "ls"):
            lines = [f"{'▸' if visible else ' '} {number}  {one_line(entry.title, 60)}"
                     + (f"  ({MARK_WORDS[entry.mark]})" if entry.mark else "")
                     for number, entry, visible in control.tab_list()]
            self.notify("\n".join(lines), title="Tabs", timeout=8, markup=False)
        elif word == "new":
            await _done(control.open_tab())
        elif word == "close":
            if len(control.tab_list()) < 2:
                self.notify("This is the only tab.", title="Tabs", timeout=3, markup=False)
            else:
                await _done(control.close_tab(self))
        elif word in ("next", "n"):
            control.step_tab(1)
        elif word in ("prev", "previous", "p"):
            control.step_tab(-1)
        elif word.isdigit():
            self.action_go_tab(int(word))
        else:
            self.notify("Usage: /tab [list|new|close|next|prev|N]", title="Tabs", severity="warning",
                        markup=False)


async def _done(result: object) -> None:
    """Await `result` when it is awaitable (a tab set's method may or may not be async)."""
    if hasattr(result, "__await__"):
        await result  # type: ignore[misc]
