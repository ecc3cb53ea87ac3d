"""ChatCompare: ``/compare MODEL [MODEL...]`` in the chat screen: the next message goes to
several models at once, their replies stream side by side (:class:`CompareView`), and the
user picks the one the conversation goes on from; the others stay as sibling branches.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) holds the session; the comparison
itself is :class:`llmchat.chat.compare.Comparison` (one session per model, the replies
stored as siblings, cancel one or all, pick). This module only sets it up from the
``/compare`` arguments, renders its events into the columns and answers the columns' keys.

While the models answer, Escape stops them all (the screen's binding cancels the stream
worker, which runs the comparison) and ``x`` on a column stops that one. Once all have
ended, a message cannot be sent before a reply is picked (Enter on a column or its "Use"
button): the conversation ends with the question until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, NamedTuple

from textual import work
from textual.timer import Timer
from textual.widgets import Static

from llmchat.chat.compare import (
    CompareFinished,
    Comparison,
    Contender,
    LaneEnded,
    LaneEvent,
    LaneResult,
    Target,
    TargetError,
    parse_targets,
)
from llmchat.chat.engine import ContentDelta, Finish, ReasoningDelta, RoundStarted, ToolCallStarted
from llmchat.chat.meter import stats_of
from llmchat.chat.models import Attachment, Message
from llmchat.safety import one_line
from llmchat.tui.compare_profiles import reply_costs, usable_providers
from llmchat.tui.widgets.compare_column import CompareColumn, SummaryRow
from llmchat.tui.widgets.compare_view import CompareView
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.engine import ChatSession
    from llmchat.providers.base import Provider
    from llmchat.store import Store

    _Base = Screen[None]
else:
    _Base = object

COMPARE_TICK = 0.25
"""Seconds between two refreshes of the columns' live figures."""
RENDER_GROUP = "compare-render"
"""Worker group of the final render of each column (not the stream's: Escape leaves it be)."""
PENDING_ID = "compare-pending"
"""The line above the prompt that names the models the next message goes to."""


class Pending(NamedTuple):
    """One model the next message goes to, resolved when ``/compare`` was typed."""

    label: str
    """``provider/model``, as the column's title."""
    contender: Contender
    provider_name: str
    """The provider or profile name (its prices are looked up by it)."""
    spec: str
    """What the user typed for it (``anthropic:claude-x``, ``gpt-4o``)."""


def word_of(target: Target, current: str) -> str:
    """How `target` is written in ``/compare``: ``PROVIDER:MODEL``, ``PROVIDER:`` (its
    configured model), or the model alone for the `current` provider."""
    if target.provider == current and target.model:
        return target.model
    return f"{target.provider}:{target.model or ''}"


class ChatCompare(_Base):
    """``/compare``, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        session: ChatSession
        provider: Provider
        model: str
        store: Store | None
        streaming: bool
        queue: list[MessageView]

        async def _reply_ended(self, normally: bool) -> None: ...

        def _history_failed(self, message: str) -> None: ...

        async def show_path(self, focus: int | None = None) -> None: ...

    compare_pending: list[Pending] | None = None
    """The models the next message goes to (None: it goes to the conversation's model)."""
    comparison: Comparison | None = None
    """The last comparison, while its view is on screen."""
    compare_view: CompareView | None = None
    _compare_timer: Timer | None = None

    # -- /compare ------------------------------------------------------------------------

    def compare_command(self, argument: str) -> None:
        """``/compare MODEL [MODEL...]``: the next message goes to these models (one model:
        the conversation's and that one); ``/compare`` or ``/compare off``: it does not."""
        words = argument.replace(",", " ").split()
        if not words or words == ["off"]:
            had = self.compare_pending is not None
            self._set_pending(None)
            self.notify("Compare is off: the next message goes to the conversation's model." if had
                        else "Usage: /compare MODEL [MODEL...] (PROVIDER:MODEL for another provider or profile).",
                        title="Compare", timeout=4, markup=False)
            return
        pending = self._resolve(words)
        if pending is None:
            return
        self._set_pending(pending)
        names = ", ".join(p.label for p in pending)
        self.notify(f"The next message goes to {len(pending)} models: {names}. /compare off cancels.",
                    title="Compare", timeout=5, markup=False)

    def _resolve(self, words: list[str]) -> list[Pending] | None:
        """The models of `words` (``PROVIDER:MODEL`` or a model of the current provider),
        each with a provider made for it; None after a notification saying what is wrong."""
        from llmchat.config import BUILTIN_PROFILES
        from llmchat.errors import ConfigError

        settings = getattr(self.app, "settings", None)
        known = {*BUILTIN_PROFILES, *(settings.profiles if settings is not None else ()), self.provider.name}
        try:
            targets = parse_targets(words, providers=known, default_provider=self.provider.name)
        except TargetError as exc:
            self.notify(str(exc), title="Compare", severity="error", markup=False)
            return None
        pending: list[Pending] = []
        current = f"{self.provider.name}/{self.model}"
        for target in targets:
            if target.provider == self.provider.name:  # the conversation's own provider
                provider, model = self.provider, target.model or self.model
            else:
                make = getattr(self.app, "make_provider", None)
                if make is None:
                    self.notify("Only models of the current provider can be compared here.", title="Compare",
                                severity="error", markup=False)
                    return None
                try:
                    provider, default = make(target.provider)
                except ConfigError as exc:
                    self.notify(str(exc), title="Compare", severity="error", markup=False)
                    return None
                model = target.model or default
            spec = word_of(target, self.provider.name)
            pending.append(Pending(f"{target.provider}/{model}", Contender(provider, model), target.provider, spec))
        if len(pending) == 1 and pending[0].label != current:  # one model: compared with this one
            pending.insert(0, Pending(current, Contender(self.provider, self.model), self.provider.name, self.model))
        if len(pending) < 2:
            self.notify("Name at least one other model to compare with (PROVIDER:MODEL for another provider).",
                        title="Compare", severity="warning", markup=False)
            return None
        return pending

    @work(exclusive=True, group="compare-models", exit_on_error=False)
    async def choose_compare_models(self) -> None:
        """The palette's "Compare models…": tick models in a dialog (the current provider's
        models, and the other providers and profiles that have what they need, each with its
        configured model); the next message goes to those ticked."""
        from llmchat.tui.screens.compare_picker import CompareModelsScreen

        try:
            names = await self.provider.list_models()
        except Exception:  # noqa: BLE001 - no list: the other providers and the text box remain
            names = []
        choices = [(name, f"{name}  ({self.provider.name})") for name in names]
        if self.model not in names:
            choices.insert(0, (self.model, f"{self.model}  ({self.provider.name})"))
        settings = getattr(self.app, "settings", None)
        if settings is not None:
            choices += await asyncio.to_thread(usable_providers, settings, self.provider.name)
        chosen = [p.spec for p in self.compare_pending or []]
        specs = await self.app.push_screen_wait(CompareModelsScreen(choices, chosen))
        if specs is not None:
            self.compare_command(" ".join(specs))

    def _set_pending(self, pending: list[Pending] | None) -> None:
        """Remember the models of the next message and name them above the prompt."""
        self.compare_pending = pending
        line = next(iter(self.query(f"#{PENDING_ID}")), None)
        if pending is None:
            if line is not None:
                line.remove()
            return
        text = f"⇶ next message to {len(pending)} models: " + " · ".join(p.label for p in pending) + \
            "  (/compare off cancels)"
        if isinstance(line, Static):
            line.update(one_line(text, 400))
            return
        prompt = self.query_one(PromptInput)
        if prompt.parent is not None:
            prompt.parent.mount(Static(one_line(text, 400), id=PENDING_ID, markup=False), before=prompt)

    # -- sending --------------------------------------------------------------------------

    def compare_awaiting_pick(self) -> bool:
        """True while a finished comparison is on screen and no reply was picked yet."""
        view = self.compare_view
        return view is not None and view.is_attached and self.comparison is not None

    def compare_blocks_sending(self) -> bool:
        """Whether a message must wait (the models still answer, or a reply is to be picked
        first); says so when it must."""
        if not self.compare_awaiting_pick():
            return False
        assert self.comparison is not None
        if self.comparison.running or self.streaming:
            self.notify("The models are still answering: wait for them, or Escape stops them all.",
                        title="Compare", timeout=4, markup=False)
        else:
            self.notify("Pick the reply to go on from first: Shift+Tab to its column, then Enter "
                        "(or click its Use button).", title="Compare", timeout=6, markup=False)
        return True

    async def send_compare(self, text: str, shown: MessageView | None = None,
                           attachments: Sequence[Attachment] = ()) -> None:
        """Send user message `text` to every pending model and show their replies side by
        side; `shown` is its queued view (already in the transcript), else one is added."""
        from llmchat.store.recorder import Recorder

        pending, self.compare_pending = self.compare_pending or [], None
        self._set_pending(None)
        store = self.store
        comparison = Comparison(self.session, [p.contender for p in pending],
                                recorders=lambda: Recorder(store, self._history_failed))
        events = comparison.send(text, attachments)
        sent = self.session.conversation.messages[-1]
        transcript = self.query_one(Transcript)
        if shown is not None and shown.is_attached:
            shown.set_queued(False)
            shown.message = sent
            after: MessageView | None = shown
        else:
            after = await transcript.add_message("user", text, attachments=attachments)
            after.message = sent
        view = CompareView([p.label for p in pending])
        self.comparison, self.compare_view = comparison, view
        await transcript.mount(view, after=after)
        transcript.anchor()
        self.run_compare(view, comparison, events, pending)

    @work(exclusive=True, group="stream", exit_on_error=False)
    async def run_compare(self, view: CompareView, comparison: Comparison, events: object,
                          pending: list[Pending]) -> None:
        """Render the comparison's events into `view`'s columns (each delta only buffered by
        its column's StreamingMarkdown); however it ends, every column shows how its reply
        ended, and the summary table follows.

        (The group is the chat screen's stream group: Escape cancels this worker, and the
        comparison then stops every model and records their partial replies.)
        """
        self.streaming = True
        self._compare_timer = self.set_interval(COMPARE_TICK, lambda: self._compare_tick(view, comparison))
        finished: dict[int, LaneResult] = {}
        try:
            async with aclosing(events) as stream:  # type: ignore[type-var]
                async for event in stream:
                    if isinstance(event, LaneEvent):
                        self._lane_event(view.columns[event.index], event.event)
                    elif isinstance(event, LaneEnded):
                        finished[event.index] = event.result
                        self._end_column(view.columns[event.index], event.result)
                    elif isinstance(event, CompareFinished):
                        break
        finally:
            if self._compare_timer is not None:
                self._compare_timer.stop()
            for lane in comparison.lanes:  # stopped by Escape: the lanes ended without us
                if lane.index not in finished and lane.result is not None:
                    finished[lane.index] = lane.result
                    self._end_column(view.columns[lane.index], lane.result)
            if self.queue:  # messages queued before the comparison: back to the prompt (a reply is to be picked first)
                await self._reply_ended(normally=False)
            view.show_summary([SummaryRow(c.label, c.message or Message("assistant")) for c in view.columns])
            if view.is_attached:
                self.run_worker(self._price_compare(view, pending), exit_on_error=False)
            if view.is_attached and self.is_current:  # (a tab in the background says nothing: its mark does)
                self.notify("Pick the reply to go on from: Shift+Tab to its column, then Enter (or its "
                            "Use button); the others stay as branches.", title="Compare", timeout=6,
                            markup=False)
            self.streaming = False

    def _lane_event(self, column: CompareColumn, event: object) -> None:
        if isinstance(event, ContentDelta):
            column.append(event.text)
        elif isinstance(event, ReasoningDelta):
            column.add_reasoning(event.text)
        elif isinstance(event, Finish):
            column.body.show_pending()
        elif isinstance(event, RoundStarted) and event.round > 1:
            column.append("\n\n")
        elif isinstance(event, ToolCallStarted):
            column.append(f"\n\n*⚙ {event.call.name}*\n\n")

    def _end_column(self, column: CompareColumn, result: LaneResult) -> None:
        """Mark how `column`'s reply ended; the rest of its text renders in a worker of its own,
        so the other columns' events are not held up meanwhile (a final pass of a long reply
        can take a few hundred milliseconds)."""
        message = result.message
        if message is None:  # stopped before its request was sent
            message = Message("assistant", finish_reason=result.finish_reason or "cancelled")
        if result.status == "failed" and message.finish_reason != "error":
            message.finish_reason, message.error = "error", message.error or result.error
        column.end(message)
        if not column.body.finished:
            self.run_worker(column.body.finish(), group=RENDER_GROUP, exit_on_error=False)

    def _compare_tick(self, view: CompareView, comparison: Comparison) -> None:
        """Refresh the live figures of every column that still streams."""
        if view.is_attached:
            view.tick([lane.accumulator.stats() if lane.accumulator is not None else None
                       for lane in comparison.lanes])

    async def _price_compare(self, view: CompareView, pending: list[Pending]) -> None:
        """Price every reply (in a thread: the price database loads there) and show the costs
        in the columns and the summary."""
        settings = getattr(self.app, "settings", None)
        if settings is None:
            return
        replies = [(p.provider_name, p.contender.model, c.message) for p, c in zip(pending, view.columns)]
        costs = await asyncio.to_thread(reply_costs, settings, replies)
        if not view.is_attached:
            return
        for column, cost in zip(view.columns, costs):
            column.show_cost(cost)
        view.show_summary([SummaryRow(c.label, c.message or Message("assistant"), cost)
                           for c, cost in zip(view.columns, costs)])

    # -- the columns' keys ------------------------------------------------------------------

    def on_compare_column_stop(self, event: CompareColumn.Stop) -> None:
        """``x`` on a column: stop that model's reply only."""
        comparison = self.comparison
        if comparison is None or event.column.ended or not comparison.running:
            self.notify("This reply has ended.", title="Compare", timeout=2, markup=False)
            return
        comparison.cancel(event.column.index)

    async def on_compare_column_pick(self, event: CompareColumn.Pick) -> None:
        """Enter on a column (or its Use button): the conversation goes on from its reply
        (and with its model); the other replies stay as sibling branches."""
        comparison, view = self.comparison, self.compare_view
        if comparison is None or view is None or not view.is_attached:
            return
        if comparison.running or self.streaming:
            self.notify("Wait until every model has answered (Escape stops them all), then pick.",
                        title="Compare", timeout=4, markup=False)
            return
        index = event.column.index
        try:
            comparison.pick(index)
        except (ValueError, RuntimeError) as exc:
            self.notify(str(exc), title="Compare", severity="warning", markup=False)
            return
        self.comparison = self.compare_view = None
        sidebar = self.query_one(Sidebar)
        sidebar.provider, sidebar.model = self.provider.name, self.model
        if event.column.message is not None:
            sidebar.stats = stats_of(event.column.message)  # the figures of the reply gone on with
        others = len(view.columns) - 1
        await self.show_path()
        self.query_one(PromptInput).focus()
        self.notify(f"Going on with {event.column.label}; the {others} other repl{'ies' if others != 1 else 'y'} "
                    "stay as branches ([ / ] on the reply).", title="Compare", timeout=5, markup=False)
