"""The conversation engine: one :class:`ChatSession` per conversation, one path for every turn.

A session owns the conversation, the provider and model, the generation options, the tools
offered and the approval callback, and the recording of the history. A *turn* is one call
that returns an async iterator of typed events; every turn is a tool loop
(:class:`~llmchat.chat.toolloop.ToolLoop`), and a reply without tools is simply a loop of one
round. `llmchat ask` and the TUI only render these events and answer approval questions::

    RoundStarted  ContentDelta/ReasoningDelta/ToolCallDelta/Retrying...  Usage  Finish
    ReplyFinished  [ToolCallStarted ToolResult]...  [RoundStarted ...]  [RoundLimitReached]
    [Failed]  TurnFinished

However a turn ends, the conversation is whole and recorded: the reply's row is created when
each round starts, its text saved about once a second while it streams, and made final at its
end; cancelling the consumer (task cancellation, or closing the iterator) closes the
connection and keeps the partial reply with finish reason "cancelled"; a provider error ends
the turn with :class:`Failed` (the partial reply kept, finish reason "error") and
:class:`TurnFinished`, never with an exception. Regenerate, continue, edit and fork are
session operations.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from llmchat.chat.accumulator import Accumulator, TextPolicy
from llmchat.chat.branching import Branching
from llmchat.chat.models import Attachment, Conversation, Message
from llmchat.chat.recording import NoRecording, Recording
from llmchat.chat.toolloop import (
    DEFAULT_MAX_ROUNDS,
    Approve,
    LoopEvent,
    LoopFinished,
    LoopOutcome,
    ReplyFinished,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolLoop,
    ToolResult,
    deny_all,
)
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.tools import ToolRegistry
from llmchat.providers.base import ChatRequest, Provider
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    StreamEvent,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "CONTINUE_PROMPT", "ChatSession", "ContentDelta", "EngineEvent", "Failed", "Finish",
    "NoRecording", "ReasoningDelta", "Recording", "RefusalDelta", "ReplyFinished", "Retrying",
    "RoundLimitReached", "RoundStarted", "ToolCallDelta", "ToolCallStarted", "ToolResult",
    "TurnFinished", "Usage",
]

CONTINUE_PROMPT = "Continue exactly where your last answer stopped."
"""What :meth:`ChatSession.continue_reply` sends after a reply was cut off."""
SAVE_EVERY = 1.0
"""Seconds between two saves of a streaming reply's text (the recorder's heartbeat)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """A request of the turn failed; the turn ends (:class:`TurnFinished` follows).

    `message` is the partial reply, already in the conversation and recorded with finish
    reason "error" and the provider's message in :attr:`Message.error`.
    """

    error: ProviderError
    message: Message


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The last event of a turn that was not cancelled (also after :class:`Failed`)."""

    outcome: LoopOutcome
    """The messages the turn added, rounds, summed usage, last finish reason."""


EngineEvent = (
    StreamEvent | RoundStarted | ReplyFinished | ToolCallStarted | ToolResult | RoundLimitReached | Failed
    | TurnFinished
)
"""Everything a turn yields (the provider's stream events and the engine's own)."""


class _SessionLoop(ToolLoop):
    """The session's tool loop: its request may be a raw text completion (``ask --complete``)."""

    completion = False

    def next_request(self) -> ChatRequest:
        if not self.completion:
            return super().next_request()
        prompt = self.conversation.messages[-1].content
        return ChatRequest(model=self.model, messages=[], prompt=prompt, options=self.options)


class ChatSession(Branching):
    """One conversation with one provider and model; its turns stream typed events.

    Args:
        provider: the provider to stream from (may be changed between turns, as `model` may).
        model: the model name.
        conversation: the conversation to go on with (default: a new one with `system`).
        system: the system prompt of a new conversation.
        options: generation options by neutral name (``temperature``, ``max_tokens`` ...).
        tools: the tools offered to the model (None or empty: none, one round per turn).
        approve: asked before a tool that is not read-only runs (default: deny).
        recorder: writes the history ahead (default: :class:`NoRecording`).
        max_tool_rounds: the most requests one turn sends.
        tool_limits: how many calls of one reply run, and how much their results may hold.
        text: what each reply's accumulator keeps of its text (see
            :data:`~llmchat.chat.accumulator.TextPolicy`).
        fold_text: put each reply's text into the conversation (False: `llmchat ask`,
            which shows it and reads the rest from :attr:`accumulator`).
        completion: send a raw text completion of the last message instead of a chat request.
        clock: the monotonic clock of the accumulators (default: the tool loop's).
        save_every: seconds between two saves of a streaming reply.
    """

    def __init__(
        self,
        provider: Provider,
        model: str,
        conversation: Conversation | None = None,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        tools: ToolRegistry | None = None,
        approve: Approve = deny_all,
        recorder: Recording | None = None,
        max_tool_rounds: int = DEFAULT_MAX_ROUNDS,
        tool_limits: ToolLimits = ToolLimits(),
        text: TextPolicy = "keep",
        fold_text: bool = True,
        completion: bool = False,
        clock: Callable[[], float] | None = None,
        save_every: float = SAVE_EVERY,
    ) -> None:
        self.provider = provider
        self.model = model
        self.conversation = conversation if conversation is not None else Conversation(system=system)
        self.options: dict[str, Any] = dict(options or {})
        self.tools = tools
        self.approve = approve
        self.recorder: Recording = recorder if recorder is not None else NoRecording()
        self.max_tool_rounds = max_tool_rounds
        self.tool_limits = tool_limits
        self.text: TextPolicy = text
        self.fold_text = fold_text
        self.completion = completion
        self.clock = clock
        self.save_every = save_every
        self.loop: ToolLoop | None = None
        """The current or last turn's tool loop (its rounds, messages, accumulator)."""
        self.running = False
        """True while a turn runs."""
        self._finished: set[int] = set()  # id() of replies and tool messages recorded in this turn
        self._describe()

    # -- state ----------------------------------------------------------------------------

    @property
    def accumulator(self) -> Accumulator | None:
        """The current (or last) reply's accumulator, for live figures; None before a turn."""
        return self.loop.accumulator if self.loop is not None else None

    def outcome(self) -> LoopOutcome | None:
        """What the current or last turn produced so far (None before the first turn)."""
        return self.loop.outcome() if self.loop is not None else None

    def next_request(self) -> ChatRequest:
        """The request the next turn would send first (the conversation as it stands, the
        system prompt, the tools, the options), built and not sent: ``ask --dry-run`` and
        the session's context bar count it."""
        return self._make_loop().next_request()

    # -- turns ----------------------------------------------------------------------------

    def send(self, text: str, attachments: Sequence[Attachment] = ()) -> AsyncGenerator[EngineEvent, None]:
        """Add user message `text` with its `attachments` (recorded at once) and return the
        turn that answers it (see :meth:`reply`)."""
        message = Message("user", text, attachments=list(attachments))
        self.conversation.messages.append(message)
        self.recorder.user(message)
        return self.reply()

    async def reply(self) -> AsyncGenerator[EngineEvent, None]:
        """One turn: answer the conversation as it stands, running the tools the model calls.

        Use it inside ``contextlib.aclosing`` (or iterate it to the end): closing it early,
        or cancelling the task that iterates it, cancels the turn, closes the connection and
        keeps the partial reply with finish reason "cancelled".

        Yields:
            The events of the module docstring; :class:`TurnFinished` last (unless cancelled).

        Raises:
            asyncio.CancelledError: re-raised after the cancellation was recorded.
            RuntimeError: a turn of this session is already running.
        """
        if self.running:
            raise RuntimeError("a turn is already running in this session")
        self.running = True
        loop = self.loop = self._make_loop()
        self._finished = set()
        beat = asyncio.create_task(self._heartbeat(loop))
        failure: ProviderError | None = None
        try:
            async with aclosing(loop.events()) as events:
                async for event in events:
                    if isinstance(event, LoopFinished):
                        continue
                    self._record(loop, event)
                    yield event
        except ProviderError as exc:
            failure = exc
        finally:
            beat.cancel()
            self._settle(loop)
            self.running = False
        if failure is not None:
            yield Failed(failure, loop.outcome().replies[-1])
        yield TurnFinished(loop.outcome())

    def _make_loop(self) -> ToolLoop:
        extra: dict[str, Any] = {} if self.clock is None else {"clock": self.clock}
        loop = _SessionLoop(
            self.provider, self.conversation, self.model, self.tools or ToolRegistry(),
            approve=self.approve, options=self.options, max_rounds=self.max_tool_rounds,
            limits=self.tool_limits,
            text=self.text, fold_text=self.fold_text, **extra,
        )
        loop.completion = self.completion
        return loop

    def _record(self, loop: ToolLoop, event: LoopEvent) -> None:
        if isinstance(event, RoundStarted):
            self.recorder.begin_reply(self.provider.name, self.model)
        elif isinstance(event, ReplyFinished):
            self._finish_reply(event.message, loop.accumulator)
        elif isinstance(event, ToolResult):
            self._finished.add(id(event.message))
            self.recorder.user(event.message)

    def _finish_reply(self, message: Message, accumulator: Accumulator | None) -> None:
        if id(message) not in self._finished:
            self._finished.add(id(message))
            message.provider, message.model = self.provider.name, message.model or self.model
            self.recorder.finish(message, accumulator)

    def _settle(self, loop: ToolLoop) -> None:
        """However the turn ended: make the last reply final and store the results the loop
        gave unanswered calls when it was cancelled."""
        replies = [m for m in loop.messages if m.role == "assistant"]
        if replies:
            self._finish_reply(replies[-1], loop.accumulator)
        for message in loop.messages:
            if message.role == "tool" and id(message) not in self._finished:
                self._finished.add(id(message))
                self.recorder.user(message)

    async def _heartbeat(self, loop: ToolLoop) -> None:
        """Save the streaming reply's text about every `save_every` seconds, also while the
        model is silent (so other processes never take the reply for an interrupted one)."""
        while True:
            await asyncio.sleep(self.save_every)
            if loop.accumulator is not None:
                self.recorder.heartbeat(loop.accumulator)

    # -- the conversation, the model, the system prompt -------------------------------------

    def _describe(self) -> None:
        """Tell the recorder what a new stored conversation is made with."""
        recorder = self.recorder
        recorder.open(recorder.conversation_id, self.provider.name, self.model, self.conversation.system)

    def use(self, provider: Provider | None = None, model: str | None = None) -> None:
        """Send the next request with `provider` and/or `model` (the conversation goes on)."""
        self.provider = provider or self.provider
        self.model = model or self.model
        self._describe()

    def set_system(self, system: str | None) -> None:
        """Use `system` as the system prompt from the next request on (None: none)."""
        self.conversation.system = system
        self._describe()

    def new_conversation(self) -> None:
        """Start an empty conversation (same provider, model and system prompt); the next
        message starts a new stored conversation."""
        self.conversation = Conversation(system=self.conversation.system)
        self.recorder.new_conversation()

    def resume(self, conversation: Conversation, conversation_id: str | None) -> None:
        """Go on with `conversation`, stored as `conversation_id` (e.g. loaded from the history)."""
        self.conversation = conversation
        self.recorder.open(conversation_id, self.provider.name, self.model, conversation.system)

    # -- operations -----------------------------------------------------------------------

    def regenerate(self) -> AsyncGenerator[EngineEvent, None]:
        """Answer the last user message again: the new answer is a sibling of the old one,
        which leaves the conversation but stays in the history as another branch.

        Raises:
            ValueError: the conversation has no user message.
            RuntimeError: a turn is running.
        """
        self._branch_at(self._last_user() + 1)
        return self.reply()

    def continue_reply(self, prompt: str = CONTINUE_PROMPT) -> AsyncGenerator[EngineEvent, None]:
        """Ask the model to go on where its last answer stopped (a reply cut by the token
        limit, an error or Escape): sends `prompt` as a user message."""
        return self.send(prompt)

    def edit(
        self, text: str, index: int | None = None, attachments: Sequence[Attachment] = ()
    ) -> AsyncGenerator[EngineEvent, None]:
        """Send `text` (with `attachments`) instead of the user message at `index` (default:
        the last one) and return the turn that answers it: the new question and its answer
        are a sibling branch; the old one stays in the history.

        Raises:
            ValueError: no user message (or the message at `index` is not one).
            RuntimeError: a turn is running.
        """
        last = self._last_user()
        index = last if index is None else index
        if not 0 <= index < len(self.conversation.messages) or self.conversation.messages[index].role != "user":
            raise ValueError(f"message {index} is not a user message")
        self._branch_at(index)
        return self.send(text, attachments)

    def fork(self, recorder: Recording | None = None) -> ChatSession:
        """A new session that goes on from a copy of this conversation (same provider,
        model, options, tools and approvals); later turns of either leave the other alone.

        Args:
            recorder: where the copy is recorded (its messages are stored at once, as a new
                conversation); None records nothing.
        """
        messages = [copy.deepcopy(m) for m in self.conversation.messages]
        for message in messages:
            message.id = None
            message.created_at = None
        forked = ChatSession(
            self.provider, self.model, Conversation(system=self.conversation.system, messages=messages),
            options=self.options, tools=self.tools, approve=self.approve, recorder=recorder,
            max_tool_rounds=self.max_tool_rounds, tool_limits=self.tool_limits, text=self.text,
            fold_text=self.fold_text,
            completion=self.completion, clock=self.clock, save_every=self.save_every,
        )
        for message in messages:
            forked.recorder.user(message)
        return forked
