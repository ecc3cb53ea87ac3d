"""The tool loop: stream a reply, run the tools it calls, send the results, stream again.

:class:`ToolLoop` drives one user turn. Its :meth:`ToolLoop.events` is an async generator of
the provider's stream events (for every round) and of the loop's own events, in order::

    RoundStarted(1) ContentDelta... ToolCallDelta... Usage Finish ReplyFinished(1)
        ToolCallStarted(1, 0) ToolResult(1, 0)  ToolCallStarted(1, 1) ToolResult(1, 1)
    RoundStarted(2) ContentDelta... Usage Finish ReplyFinished(2)
    LoopFinished(outcome)

The events are defined in :mod:`llmchat.chat.loop_events`. Everything is written into the
conversation as it happens (the assistant message of each round, one ``tool`` message per
call), so however the loop ends the conversation is whole
and can be sent again: on cancellation (the task is cancelled, or the generator closed) the
partial reply is kept with finish reason "cancelled", a running tool is stopped (a command's
processes killed), and calls left unanswered get a "cancelled" result. A provider error is
raised after the partial reply was recorded. The loop's state (rounds, summed usage, the
current round's accumulator) can be read at any time, also after a cancellation.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Literal, cast

from llmchat.chat.accumulator import Accumulator, TextPolicy
from llmchat.chat.loop_events import (
    LoopEvent,
    LoopFinished,
    LoopOutcome,
    ReplyFinished,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolResult,
)
from llmchat.chat.models import Conversation, Message, ToolCall
from llmchat.chat.reply import stream_reply
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.tools import Tool, ToolOutput, ToolRegistry, error_output
from llmchat.providers.base import ChatRequest, Provider
from llmchat.providers.events import StreamEvent, Usage

DEFAULT_MAX_ROUNDS = 8

Approve = Callable[[Tool, dict[str, Any]], Awaitable[bool]]
"""Asks the user whether a call may run: a tool that is not read-only, or a read-only call that
touches a secret location (:meth:`Tool.approval_reason`)."""

Decision = Literal["once", "always", "deny"]


# --- approval helpers ----------------------------------------------------------------------


async def approve_all(tool: Tool, arguments: dict[str, Any]) -> bool:
    """An `approve` that allows everything (``llmchat ask --yes``)."""
    return True


async def deny_all(tool: Tool, arguments: dict[str, Any]) -> bool:
    """An `approve` that denies every tool that is not read-only."""
    return False


class ConversationApprovals:
    """An `approve` that remembers "always for this conversation" answers.

    Args:
        ask: asks the user (e.g. the TUI's modal) and answers "once", "always" or "deny".
    """

    def __init__(self, ask: Callable[[Tool, dict[str, Any]], Awaitable[Decision]]) -> None:
        self.ask = ask
        self.always: set[str] = set()
        """Names of the tools allowed for the rest of the conversation (for a read-only tool
        asked about a secret location: its name and that call's arguments)."""

    async def __call__(self, tool: Tool, arguments: dict[str, Any]) -> bool:
        # "Always" for a read-only tool asked about a secret location allows that same call
        # again, not every secret that tool could read.
        key = tool.name if not tool.read_only else f"{tool.name} {json.dumps(arguments, sort_keys=True)}"
        if key in self.always:
            return True
        decision = await self.ask(tool, arguments)
        if decision == "always":
            self.always.add(key)
        return decision in ("once", "always")


# --- the loop ------------------------------------------------------------------------------


def wants_tools(message: Message) -> bool:
    """True when a finished reply asks for its tool calls to be run.

    Finish reason "tool_calls", or "stop" with calls (some OpenAI-compatible servers say
    "stop" after tool calls); a reply cut by "length" or an error is not acted on.
    """
    return bool(message.tool_calls) and message.finish_reason in ("tool_calls", "stop")


class ToolLoop:
    """One user turn with tools: replies and tool calls until the model stops.

    Args:
        provider: the provider to stream from.
        conversation: the conversation; the loop appends its messages to it.
        model: the model name.
        registry: the tools offered (an empty registry offers none).
        options: generation options by neutral name.
        approve: asked before a tool that is not read-only runs; False denies the call.
        max_rounds: the most requests sent; a reply that asks for tools in the last round
            gets "not run" results instead and the loop stops (:class:`RoundLimitReached`).
        clock: the monotonic clock of the accumulators.
        limits: how many calls of one reply run, and how much their results may hold.
        text: what each round's accumulator keeps of the text (see
            :data:`~llmchat.chat.accumulator.TextPolicy`; `llmchat ask` to a pipe keeps none).
        fold_text: put each reply's text into its message in the conversation; False leaves
            it out (the caller reads it from :attr:`accumulator`), except for a reply whose
            tool calls continue the turn, which the next request must carry.
    """

    def __init__(
        self,
        provider: Provider,
        conversation: Conversation,
        model: str,
        registry: ToolRegistry,
        *,
        approve: Approve,
        options: Mapping[str, Any] | None = None,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        clock: Callable[[], float] = time.monotonic,
        limits: ToolLimits = ToolLimits(),
        text: TextPolicy = "keep",
        fold_text: bool = True,
    ) -> None:
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.provider = provider
        self.conversation = conversation
        self.model = model
        self.registry = registry
        self.approve = approve
        self.options = dict(options or {})
        self.max_rounds = max_rounds
        self.limits = limits
        self._results_chars = 0
        """Characters of tool results the current reply got back so far."""
        self._clock = clock
        self.text: TextPolicy = text
        self.fold_text = fold_text
        self.round = 0
        """Requests sent so far."""
        self.accumulator: Accumulator | None = None
        """The current (or last) round's reply, for live stats."""
        self.messages: list[Message] = []
        """The messages added to the conversation so far."""
        self.round_limit_reached = False
        self.cancelled = False
        self._unanswered: list[ToolCall] = []
        self._running: ToolCall | None = None
        self._recorded: Accumulator | None = None
        self._started = False

    # -- state ------------------------------------------------------------------------------

    @property
    def usage(self) -> Usage | None:
        """Usage summed over the rounds so far (with the streaming round's, if reported)."""
        usages = [m.usage for m in self.messages if m.role == "assistant" and m.usage]
        current = self.accumulator
        if current is not None and current is not self._recorded and current.usage:
            usages.append(current.usage)
        return sum_usage(usages)

    def outcome(self) -> LoopOutcome:
        """The loop's result so far (complete once the loop ended, however it ended)."""
        replies = [m for m in self.messages if m.role == "assistant"]
        reason = "cancelled" if self.cancelled else replies[-1].finish_reason if replies else None
        return LoopOutcome(
            messages=tuple(self.messages),
            rounds=self.round,
            usage=self.usage,
            finish_reason=reason,
            round_limit_reached=self.round_limit_reached,
        )

    # -- running ----------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[LoopEvent, None]:
        """Run the loop, yielding stream events and loop events (see the module docstring).

        Use it inside ``contextlib.aclosing`` so that a cancellation landing in the
        consumer's own awaits still closes the stream and records the cancellation.

        Raises:
            ProviderError: a request failed (the partial reply is in the conversation).
            asyncio.CancelledError: re-raised after the cancellation was recorded.
            RuntimeError: the loop was already run.
        """
        if self._started:
            raise RuntimeError("a ToolLoop runs once; make a new one for the next turn")
        self._started = True
        try:
            while True:
                request = self.next_request()
                self.round += 1
                accumulator = self.accumulator = Accumulator(self._clock, text=self.text)
                try:
                    yield RoundStarted(self.round, request)
                    reply = stream_reply(self.provider, request, accumulator)
                    async with aclosing(cast(AsyncGenerator[StreamEvent, None], reply)) as stream:
                        async for event in stream:
                            yield event
                except (asyncio.CancelledError, GeneratorExit):
                    accumulator.cancel()  # also when stopped before the request was sent
                    raise
                finally:
                    message = self._record_reply(accumulator)
                yield ReplyFinished(self.round, message)
                if not self.goes_on(message):
                    break
                if self.round >= self.max_rounds:
                    self.round_limit_reached = True
                    for index, call in enumerate(message.tool_calls):
                        yield ToolCallStarted(self.round, index, call, None, None, False)
                        output = error_output(
                            f"not run: the limit of {self.max_rounds} rounds of tool calls was "
                            "reached; answer with what you have, or ask the user to continue",
                            "skipped",
                        )
                        yield self._record_result(index, call, output)
                    yield RoundLimitReached(self.max_rounds)
                    break
                self._results_chars = 0
                calls = message.tool_calls
                for index, call in enumerate(calls):
                    refusal = self.limits.refusal(index, len(calls), self._results_chars)
                    if refusal is not None:
                        yield ToolCallStarted(
                            self.round, index, call, self.registry.get(call.name), None, False, refused=True
                        )
                        yield self._record_result(index, call, error_output(refusal, "skipped"))
                        continue
                    async with aclosing(self._run_call(index, call)) as call_events:
                        async for loop_event in call_events:
                            yield loop_event
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled = True
            self._answer_unanswered()
            raise
        yield LoopFinished(self.outcome())

    def goes_on(self, message: Message) -> bool:
        """True when the turn goes on after this reply: it asks for tools
        (:func:`wants_tools`) and tools were offered (a model that calls tools nobody offered
        ends its turn with the calls, as a reply without tools always did)."""
        return wants_tools(message) and len(self.registry) > 0

    def next_request(self) -> ChatRequest:
        """The request of the next round: the conversation as it stands, with the tools."""
        return self.conversation.request(self.model, tools=self.registry.definitions(), **self.options)

    async def _run_call(self, index: int, call: ToolCall) -> AsyncGenerator[LoopEvent, None]:
        resolved = self.registry.resolve(call.name, call.arguments)
        if isinstance(resolved, ToolOutput):
            tool = self.registry.get(call.name)
            yield ToolCallStarted(self.round, index, call, tool, None, False)
            yield self._record_result(index, call, resolved)
            return
        tool, arguments = resolved
        reason = tool.approval_reason(arguments)
        needs_approval = reason is not None
        yield ToolCallStarted(self.round, index, call, tool, arguments, needs_approval, reason)
        self._running = call  # stays set if cancelled: the result then says "while it ran"
        output: ToolOutput | None = None
        if needs_approval:
            try:
                allowed = await self.approve(tool, arguments)
            except Exception as exc:  # noqa: BLE001 - a broken prompt denies, never ends the turn
                allowed = False
                output = error_output(f"the call could not be approved: {exc}", "denied")
            if not allowed:
                why = f" (it reads {reason})" if tool.read_only else ""
                output = output or error_output(
                    f"the user denied this call{why}; do not try it again unless asked", "denied"
                )
        if output is None:
            output = await self.registry.invoke(tool, arguments)
        self._running = None
        output, self._results_chars = self.limits.fit(output, self._results_chars)
        yield self._record_result(index, call, output)

    # -- recording --------------------------------------------------------------------------

    def _record_reply(self, accumulator: Accumulator) -> Message:
        """Append the round's assistant message (partial or whole) to the conversation."""
        message = accumulator.message(text=self.fold_text)
        if not self.fold_text and self.goes_on(message):  # the next request carries it
            message.content, message.reasoning = accumulator.content, accumulator.reasoning
        message.provider = getattr(self.provider, "name", None)
        message.model = message.model or self.model  # the answering model, when the server named it
        used = {c.id for m in self.conversation.messages for c in m.tool_calls}
        _ensure_call_ids(message.tool_calls, used)
        self._recorded = accumulator
        self._add(message)
        self._unanswered = list(message.tool_calls) if self.goes_on(message) else []
        return message

    def _record_result(self, index: int, call: ToolCall, output: ToolOutput) -> ToolResult:
        message = Message("tool", output.text, tool_call_id=call.id, is_error=output.is_error,
                          images=list(output.images))
        self._add(message)
        self._unanswered = [c for c in self._unanswered if c is not call]
        return ToolResult(self.round, index, call, output, message)

    def _answer_unanswered(self) -> None:
        """Cancelled: answer every call still open, so the conversation stays valid."""
        for call in list(self._unanswered):
            if call is self._running:
                output = error_output("cancelled by the user while it ran", "cancelled")
            else:
                output = error_output("not run: the user cancelled", "skipped")
            self._record_result(self._call_index(call), call, output)

    def _call_index(self, call: ToolCall) -> int:
        replies = [m for m in self.messages if m.role == "assistant"]
        calls = replies[-1].tool_calls if replies else []
        return next((i for i, c in enumerate(calls) if c is call), 0)

    def _add(self, message: Message) -> None:
        self.conversation.messages.append(message)
        self.messages.append(message)


def _ensure_call_ids(calls: list[ToolCall], used: set[str]) -> None:
    """Give every call an id unique in the conversation: some servers send none, Ollama
    numbers each reply's calls from ``call_0``, and Anthropic rejects repeated ids."""
    for call in calls:
        if not call.id or call.id in used:
            call.id = f"call_{uuid.uuid4().hex[:24]}"
        used.add(call.id)


def sum_usage(usages: list[Usage]) -> Usage | None:
    """The sum of several replies' usage; None when there is none (never invented zeros)."""
    if not usages:
        return None
    cached = [u.cached_tokens for u in usages if u.cached_tokens is not None]
    reasoning = [u.reasoning_tokens for u in usages if u.reasoning_tokens is not None]
    written = [u.cache_write_tokens for u in usages if u.cache_write_tokens is not None]
    return Usage(
        input_tokens=sum(u.input_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
        cached_tokens=sum(cached) if cached else None,
        reasoning_tokens=sum(reasoning) if reasoning else None,
        cache_write_tokens=sum(written) if written else None,
    )


async def run_tool_loop(
    provider: Provider,
    conversation: Conversation,
    model: str,
    options: Mapping[str, Any] | None,
    registry: ToolRegistry,
    *,
    approve: Approve,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    on_event: Callable[[LoopEvent], Awaitable[None] | None] | None = None,
) -> LoopOutcome:
    """Run a :class:`ToolLoop` to its end, passing every event to `on_event`.

    Args:
        provider, conversation, model, options, registry, approve, max_rounds: as for
            :class:`ToolLoop`.
        on_event: called with every event (may be async); LoopFinished is the last.

    Returns:
        The outcome: the new messages, rounds, summed usage, finish reason, round limit.

    Raises:
        ProviderError: a request failed (the partial reply is in the conversation).
        asyncio.CancelledError: re-raised after the cancellation was recorded in the
            conversation (use :class:`ToolLoop` directly to read its state afterwards).
    """
    loop = ToolLoop(
        provider, conversation, model, registry,
        approve=approve, options=options, max_rounds=max_rounds,
    )
    async with aclosing(loop.events()) as events:
        async for event in events:
            if on_event is not None:
                result = on_event(event)
                if inspect.isawaitable(result):
                    await result
    return loop.outcome()
