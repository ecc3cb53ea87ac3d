"""Compare: one user turn of a conversation answered by several models at once (issue 16).

Each *target* is a provider (or config profile) and a model. Every target gets a
:class:`~llmchat.chat.engine.ChatSession` of its own (its own provider object, the same
conversation up to the question), and the turns run concurrently as tasks; this module only
starts, watches and stops them, so streaming, the accumulator, tools and recording are the
engine's. The replies are *siblings*: each is stored as a child of the same user message (a
conversation is a tree, see :mod:`llmchat.chat.branching`), and :meth:`Comparison.pick`
makes one of them the conversation's current branch.

The API, as a front-end uses it::

    targets = parse_targets("gpt-4o-mini,anthropic:claude-3-5-haiku,ollama:llama3:8b",
                            providers=known_names, default_provider="openai")
    # the front-end resolves each Target to a provider object and a model:
    comparison = Comparison(session, [Contender(provider, model), ...],
                            recorders=lambda: Recorder(store, on_error))
    async with aclosing(comparison.send("question")) as events:   # or .reply()
        async for event in events:
            match event:
                case LaneEvent(index, ContentDelta(text)): ...  # any engine event, tagged
                case LaneEnded(index, result): ...    # result.status, result.finish_reason
                case CompareFinished(results): ...    # always last, unless cancelled
    comparison.pick(1)   # go on with the second reply (and its model)

- :func:`~llmchat.chat.targets.parse_targets` (re-exported here) reads
  ``"m1,PROVIDER:m2,..."`` (see its docstring for the rules) and raises
  :class:`~llmchat.chat.targets.TargetError` (one line) on a bad list.
- :class:`Comparison` holds one :class:`Lane` per contender, in order (``lanes[i].label``,
  and ``lanes[i].accumulator`` for the live figures: ``.stats()`` gives TTFT, tokens/s,
  usage, finish reason while the reply streams).
- Events: :class:`LaneEvent` wraps every event a lane's turn yields (the engine's
  :data:`~llmchat.chat.engine.EngineEvent`: deltas, ``Usage``, ``Finish``, ``Failed``,
  ``TurnFinished`` ...) with the lane's index; :class:`LaneEnded` follows a lane's last event
  (however it ended) with its :class:`LaneResult`; :class:`CompareFinished` is last, with
  every result in lane order. A lane's events keep their order; lanes interleave.
- A failure stays in its lane: a provider error (an HTTP error, ``StreamInterrupted``
  mid-stream ...) ends that lane with status "failed" (the partial reply kept and recorded
  with finish reason "error"); an unexpected exception in a lane is reported the same way.
  The other lanes go on.
- Cancellation is task cancellation: :meth:`Comparison.cancel` stops one lane,
  :meth:`Comparison.cancel_all` every lane (each keeps its partial reply, finish reason
  "cancelled", status "cancelled"); the event stream still ends with
  :class:`CompareFinished`. Cancelling the task that iterates the events (or closing the
  iterator early) cancels every lane, waits until each has recorded its partial reply, and
  re-raises.
- While the lanes run, the session counts as running (its own turns and branch operations
  refuse). Afterwards the session's conversation still ends with the question: call
  :meth:`Comparison.pick` before the session's next turn. The store's current leaf is the
  last reply written until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, Literal

from llmchat.chat.accumulator import Accumulator, ReplyStats
from llmchat.chat.attachments import prepare, provider_kind
from llmchat.chat.engine import ChatSession, EngineEvent, Failed
from llmchat.chat.loop_events import LoopOutcome
from llmchat.chat.models import Attachment, Message
from llmchat.chat.recording import LaneRecording, NoRecording, Recording
from llmchat.chat.targets import MAX_TARGETS, Target, TargetError, parse_targets
from llmchat.providers.base import Provider
from llmchat.providers.events import FinishReason
from llmchat.safety import one_line

__all__ = [
    "MAX_TARGETS", "CompareEvent", "CompareFinished", "Comparison", "Contender", "Lane", "LaneEnded",
    "LaneEvent", "LaneResult", "LaneStatus", "Target", "TargetError", "parse_targets",
]

# -- the comparison ------------------------------------------------------------------------

LaneStatus = Literal["waiting", "running", "done", "failed", "cancelled"]
"""Where a lane is: not started, streaming, ended normally (any finish reason but "error"),
ended by an error, stopped by the user."""


@dataclass(frozen=True, slots=True)
class Contender:
    """One target, resolved by the front-end: what its lane streams from."""

    provider: Provider
    """Its own provider object (it may share the HTTP client with the others)."""
    model: str
    options: Mapping[str, Any] | None = None
    """Generation options for this target (a profile's own); None: the session's."""


@dataclass(frozen=True, slots=True)
class LaneResult:
    """How one lane ended."""

    index: int
    label: str
    """``provider/model`` as asked."""
    status: LaneStatus
    """"done", "failed" or "cancelled"."""
    finish_reason: FinishReason | None
    """The last reply's finish reason ("error" when failed, "cancelled" when cancelled)."""
    error: str | None
    """One line for the user when the lane failed (the provider's message), else None."""
    outcome: LoopOutcome | None
    """The messages the lane's turn added, its rounds, summed usage; None when it was
    cancelled before its turn started."""
    stats: ReplyStats | None
    """The last reply's figures (TTFT, tokens/s, usage ...); None when no request was made."""

    @property
    def message(self) -> Message | None:
        """The lane's last reply (None when no request was made)."""
        replies = self.outcome.replies if self.outcome is not None else []
        return replies[-1] if replies else None


@dataclass(frozen=True, slots=True)
class LaneEvent:
    """An event of lane `index`'s turn (any engine event, in the order the lane yields them)."""

    index: int
    event: EngineEvent


@dataclass(frozen=True, slots=True)
class LaneEnded:
    """Lane `index` ended (after its last :class:`LaneEvent`)."""

    index: int
    result: LaneResult


@dataclass(frozen=True, slots=True)
class CompareFinished:
    """Every lane ended; the last event."""

    results: tuple[LaneResult, ...]
    """One per lane, in lane order."""


CompareEvent = LaneEvent | LaneEnded | CompareFinished
"""Everything :meth:`Comparison.reply` yields."""


class Lane:
    """One target of a :class:`Comparison`: its session, task and result."""

    def __init__(self, index: int, contender: Contender) -> None:
        self.index = index
        self.contender = contender
        self.session: ChatSession | None = None
        """The lane's session, made when the comparison starts."""
        self.task: asyncio.Task[None] | None = None
        self.result: LaneResult | None = None
        """Set when the lane ended."""
        self.failure: str | None = None
        """The error of a :class:`~llmchat.chat.engine.Failed` event of the lane's turn."""
        self.stop_requested = False
        """:meth:`Comparison.cancel` was called before the lane's task existed."""

    @property
    def label(self) -> str:
        """``provider/model``."""
        return f"{self.contender.provider.name}/{self.contender.model}"

    @property
    def accumulator(self) -> Accumulator | None:
        """The streaming (or last) reply's accumulator, for live figures (None before)."""
        return self.session.accumulator if self.session is not None else None

    @property
    def status(self) -> LaneStatus:
        """Where the lane is (see :data:`LaneStatus`)."""
        if self.result is not None:
            return self.result.status
        return "waiting" if self.task is None else "running"

    def end(self, task: asyncio.Task[None]) -> LaneResult:
        """Set and return :attr:`result` from the lane's finished `task`."""
        status: LaneStatus = "done"
        error = self.failure
        if task.cancelled():
            status = "cancelled"
        elif task.exception() is not None:
            exc = task.exception()
            status, error = "failed", one_line(f"{type(exc).__name__}: {exc}", 300)
        elif error is not None:
            status = "failed"
        outcome = self.session.outcome() if self.session is not None else None
        accumulator = self.accumulator
        reason: FinishReason | None = outcome.finish_reason if outcome is not None else None
        if status == "cancelled":
            reason = "cancelled"
        elif status == "failed":
            reason = "error"
        self.result = LaneResult(
            self.index, self.label, status, reason, error, outcome,
            accumulator.stats() if accumulator is not None else None,
        )
        return self.result


class Comparison:
    """One turn of `session`'s conversation, answered by every contender at once.

    Args:
        session: the conversation's session; its conversation, system prompt, options,
            tools, approvals and limits are the lanes'. Its recorder stores the question.
        contenders: what each lane streams from, in display order (at least one).
        recorders: makes a fresh recorder for each lane, writing to the same history as
            `session`'s (e.g. ``lambda: Recorder(store, on_error)``); the default records
            nothing. Each lane's replies are stored under the question.
    """

    def __init__(
        self,
        session: ChatSession,
        contenders: Sequence[Contender],
        *,
        recorders: Callable[[], Recording] = NoRecording,
    ) -> None:
        if not contenders:
            raise ValueError("a comparison needs at least one contender")
        self.session = session
        self.lanes = [Lane(i, c) for i, c in enumerate(contenders)]
        self.recorders = recorders
        self._started = False
        self._question: Message | None = None

    @property
    def running(self) -> bool:
        """True while any lane runs."""
        return any(lane.status in ("waiting", "running") for lane in self.lanes) and self._started

    def send(self, text: str, attachments: Sequence[Attachment] = ()) -> AsyncGenerator[CompareEvent, None]:
        """Add user message `text` with its `attachments` to the session's conversation
        (recorded at once) and return the comparison that answers it (see :meth:`reply`)."""
        if self.session.running:
            raise RuntimeError("a turn is already running in this session")
        message = Message("user", text, attachments=list(attachments))
        self.session.conversation.messages.append(message)
        self.session.recorder.user(message)
        return self.reply()

    async def reply(self) -> AsyncGenerator[CompareEvent, None]:
        """Answer the conversation as it stands (it ends with the user's question, already
        recorded) with every lane at once; use it inside ``contextlib.aclosing``.

        Yields:
            :class:`LaneEvent`, :class:`LaneEnded` per lane, then :class:`CompareFinished`.

        Raises:
            asyncio.CancelledError: re-raised after every lane recorded its cancellation.
            ValueError: the conversation does not end with a user message.
            RuntimeError: the comparison already ran, or the session runs a turn.
            AttachmentError: a PDF's text is needed for a lane's protocol and cannot be had
                (before any lane starts).
        """
        if self._started:
            raise RuntimeError("a Comparison runs once; make a new one for the next question")
        base = self.session
        if base.running:
            raise RuntimeError("a turn is already running in this session")
        messages = base.conversation.messages
        if not messages or messages[-1].role != "user":
            raise ValueError("the conversation does not end with a user message")
        self._started = True
        self._question = messages[-1]
        queue: asyncio.Queue[CompareEvent] = asyncio.Queue()
        for lane in self.lanes:
            lane.session = self._lane_session(lane)
        base.running = True
        try:
            for lane in self.lanes:
                lane.task = asyncio.create_task(self._run_lane(lane, queue), name=f"compare-{lane.label}")
                lane.task.add_done_callback(
                    lambda task, lane=lane: queue.put_nowait(LaneEnded(lane.index, lane.end(task))))
                if lane.stop_requested:
                    lane.task.cancel()  # cancelled before it ran: it sends nothing
            pending = len(self.lanes)
            while pending:
                event = await queue.get()
                if isinstance(event, LaneEnded):
                    pending -= 1
                yield event
            yield CompareFinished(tuple(lane.result for lane in self.lanes if lane.result is not None))
        finally:
            try:
                tasks = [lane.task for lane in self.lanes if lane.task is not None]
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(tasks)  # each lane records its partial reply as cancelled
            finally:
                base.running = False

    def _lane_session(self, lane: Lane) -> ChatSession:
        base, contender = self.session, lane.contender
        assert self._question is not None
        recorder = LaneRecording(self.recorders(), self._question)
        recorder.conversation_id = base.recorder.conversation_id
        kind = provider_kind(contender.provider)
        messages = [  # attachments as this lane's protocol takes them (a PDF: document or text)
            replace(m, attachments=prepare(m.attachments, kind)) if m.attachments else m
            for m in base.conversation.messages
        ]
        conversation = type(base.conversation)(system=base.conversation.system, messages=messages)
        return ChatSession(
            contender.provider, contender.model, conversation,
            options=base.options if contender.options is None else contender.options,
            tools=base.tools, approve=base.approve, recorder=recorder,
            max_tool_rounds=base.max_tool_rounds, tool_limits=base.tool_limits,
            text="keep", fold_text=True,  # pick() puts a lane's messages in the conversation
            completion=base.completion, clock=base.clock, save_every=base.save_every,
        )

    @staticmethod
    async def _run_lane(lane: Lane, queue: asyncio.Queue[CompareEvent]) -> None:
        assert lane.session is not None
        async with aclosing(lane.session.reply()) as events:
            async for event in events:
                if isinstance(event, Failed):
                    lane.failure = event.message.error or event.error.describe()
                queue.put_nowait(LaneEvent(lane.index, event))

    def cancel(self, index: int) -> None:
        """Stop lane `index` (its partial reply is kept, finish reason "cancelled"); the
        others go on. A lane that already ended is left alone; one that has not started yet
        will send nothing.

        Raises:
            IndexError: no such lane.
        """
        lane = self.lanes[index]
        if lane.task is None:
            lane.stop_requested = True
        elif not lane.task.done():
            lane.task.cancel()

    def cancel_all(self) -> None:
        """Stop every lane that still runs."""
        for lane in self.lanes:
            self.cancel(lane.index)

    def pick(self, index: int, *, use_model: bool = True) -> list[Message]:
        """Go on with lane `index`'s reply: the session's conversation becomes the question
        and that reply (with its tool rounds), the store's current leaf that reply (the other
        replies stay as sibling branches), and with `use_model` the session's provider and
        model become the lane's.

        Returns:
            The session's new conversation messages.

        Raises:
            IndexError: no such lane.
            ValueError: the lane made no reply (cancelled before its request).
            RuntimeError: the comparison has not run, or still runs.
        """
        lane = self.lanes[index]
        if not self._started or self.running:
            raise RuntimeError("pick a reply once the comparison has ended")
        outcome = lane.session.outcome() if lane.session is not None else None
        if lane.session is None or outcome is None or not outcome.messages:
            raise ValueError(f"{lane.label} made no reply to continue with")
        base = self.session
        base.conversation.messages[:] = lane.session.conversation.messages
        if use_model:
            base.use(lane.contender.provider, lane.contender.model)
            if lane.contender.options is not None:
                base.options = dict(lane.contender.options)
        base.recorder.branch(outcome.messages[-1])
        return base.conversation.messages
