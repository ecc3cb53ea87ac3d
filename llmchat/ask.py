"""`llmchat ask`: one reply, streamed to stdout (shared/DESIGN.md, "Command-line contract").

Three outputs, chosen once:
- stdout is not a terminal: exactly the model's content, UTF-8, flushed as it arrives (each
  delta is out before llmchat waits for the network again);
- stdout is a terminal: the answer rendered as Markdown while it streams, made safe;
- ``--json``: one JSON object when the stream ends (also after an error or Ctrl-C).

Memory stays bounded by what must be kept: to a pipe or terminal nothing of the reply's text
is kept (the history, when on, receives it about once a second and folds it into the final row
itself); ``--json`` keeps the text once, compactly, and writes it out in pieces.

Exit status: 0 normal end (any finish reason but "error"; also a closed stdout pipe),
1 provider or network error, 2 bad usage, 130 Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from llmchat.ask_output import (
    NullSink,
    PipeSink,
    ReasoningTee,
    Sink,
    TextAsBytes,
    silence_stdout,
    status_line,
    write_json,
)
from llmchat.chat.accumulator import Accumulator, TextPolicy
from llmchat.chat.engine import (
    ChatSession,
    ContentDelta,
    Failed,
    ReplyFinished,
    Retrying,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolResult,
    TurnFinished,
)
from llmchat.chat.models import Conversation, Message
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.toolloop import LoopOutcome, approve_all, deny_all
from llmchat.config import Settings
from llmchat.hangup import detach, terminal_fds
from llmchat.providers import make_client
from llmchat.safety import note, one_line
from llmchat.store.recorder import Recorder

if TYPE_CHECKING:
    import httpx

    from llmchat.chat.pricing import Cost
    from llmchat.chat.tools import ToolRegistry
    from llmchat.mcp.config import ServerConfig

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_HANGUP = 129
"""SIGHUP (the terminal was closed): 128 + 1, as a shell reports a process it killed."""

_FINISH_WARNINGS = {
    "length": "the reply was cut off at the token limit (finish reason: length)",
    "content_filter": "the provider's content filter stopped the reply (finish reason: content_filter)",
}


def join_prompt(prompt: str | None, stdin_text: str | None) -> str:
    """PROMPT, a blank line, then piped stdin (either may be missing)."""
    parts = [p for p in (prompt, stdin_text) if p]
    return "\n\n".join(parts)


def run_ask(
    settings: Settings,
    conversation: Conversation,
    *,
    complete: bool = False,
    json_output: bool = False,
    show_reasoning: bool = False,
    recorder: Recorder | None = None,
    tools: ToolChoice | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Stream the reply to `conversation` (its last message is the question) and return the
    exit status (see the module docstring). The turn is one :class:`ChatSession` turn; this
    function only renders its events.

    Args:
        settings: resolved settings (provider, model, options, timeout, tool limits).
        conversation: the conversation, ending with the user's message (already recorded).
        complete: send a raw text completion of the last message (``--complete``).
        json_output: print one JSON object at the end instead of streaming the text.
        show_reasoning: stream reasoning text to stderr (``--reasoning``).
        recorder: writes the reply ahead into the history (None: not recorded).
        tools: offer tools and run the tool loop (see :class:`ToolChoice`); the replies of
            all rounds go to stdout, separated by a blank line; calls are noted on stderr.
        stdout, stderr: text streams (default: the process's).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    sink: Sink
    pipe: PipeSink | None = None
    if json_output:
        sink = NullSink()
    elif stdout.isatty():
        from llmchat.render import TerminalSink

        sink = TerminalSink(stdout)
    else:
        sink = pipe = PipeSink(stdout.buffer if hasattr(stdout, "buffer") else TextAsBytes(stdout))
    if show_reasoning:
        sink = ReasoningTee(sink, stderr)
    logged = recorder is not None and recorder.recording  # --no-log: conversation_id is null
    recorder = recorder or Recorder(None, lambda _: None)
    # The text is kept only where it is needed again: for --json and for the rounds of a tool
    # loop; else the sink showed it and the history (when on) takes it once a second and builds
    # the final row from what it saved.
    text: TextPolicy = "keep" if json_output or tools is not None else (
        "until_taken" if recorder.recording else "drop")
    sessions: list[ChatSession] = []  # the session, once made
    span: list[float] = []  # seconds the turn took, from the first request to its end
    try:
        code = asyncio.run(_run(settings, conversation, complete, tools, sink, recorder, text, stderr, sessions, span))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except asyncio.CancelledError as exc:  # SIGTERM or SIGHUP (see cancel_on_signals)
        code = EXIT_HANGUP if "SIGHUP" in exc.args else EXIT_TERMINATED
    finally:
        sink.close()
    if pipe is not None and pipe.broken:  # the reader left after the last delta was written
        if code == EXIT_OK:
            code = -1
        else:
            silence_stdout(stdout)
    session = sessions[0] if sessions else None
    accumulator = (session.accumulator if session else None) or Accumulator()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP):
        accumulator.cancel()
    outcome = session.outcome() if session else None
    text_from: Accumulator | None = None  # where --json reads the text (None: the message)
    if outcome is not None and outcome.rounds > 1:
        message = _turn_message(outcome, accumulator.model, span[0] if span else None)
    else:
        message = accumulator.message(text=False)  # the text stays in its pieces
        text_from = accumulator
    message.provider, message.model = settings.provider.name, message.model or settings.provider.model
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP):
        note("cancelled" if code == EXIT_INTERRUPTED else "terminated", file=stderr)
    elif message.error:
        note(f"error: {message.error}", file=stderr)
    if code == -1:  # stdout closed under us: quiet, and keep Python from complaining at exit
        silence_stdout(stdout)
        return EXIT_OK
    status = code == EXIT_OK and stderr.isatty() and not json_output
    cost = _cost(settings, outcome, message) if json_output or status else None
    if json_output:
        try:
            write_json(stdout, settings, message, text_from,
                       conversation_id=recorder.conversation_id if logged else None, cost=cost)
        except BrokenPipeError:  # `llmchat ask --json | head`: as quiet as the plain case
            silence_stdout(stdout)
    if message.refusal and not json_output:
        note(f"the model refused: {message.refusal}", file=stderr, width=4000)
    warning = _FINISH_WARNINGS.get(message.finish_reason or "")
    if warning:
        note(warning, file=stderr)
    if status:
        stderr.write(one_line(status_line(settings, accumulator, cost), 400) + "\n")
    return code


@dataclass(frozen=True)
class ToolChoice:
    """Tools for one `ask`: which, and whether tools that are not read-only may run."""

    names: tuple[str, ...] = ()
    """Offer only these (``-T NAME``); empty: every tool (``--tools``)."""
    yes: bool = False
    """Run tools that are not read-only without asking (``--yes``); else they are denied."""
    config: Mapping[str, Any] | None = None
    """The config file's ``[tools]`` table."""
    builtin: bool = True
    """Offer the built-in, config and plugin tools (False: only MCP tools, ``--mcp`` alone)."""
    mcp: tuple[ServerConfig, ...] = ()
    """MCP servers whose tools are offered too (``--mcp NAME``)."""
    mcp_strict: bool = True
    """A named MCP server that fails to start ends the run (exit 1); False (``--mcp all``):
    it is reported and left out."""


async def _run(
    settings: Settings, conversation: Conversation, complete: bool, choice: ToolChoice | None,
    sink: Sink, recorder: Recorder, text: TextPolicy, err: IO[str], sessions: list[ChatSession],
    span: list[float],
) -> int:
    """One turn of a :class:`ChatSession`, rendered: content to the sink (the rounds' texts
    joined by a blank line), tool calls, retries and problems to `err`."""
    cancel_on_signals()
    async with make_client() as client, AsyncExitStack() as stack:
        registry = None
        if choice is not None:
            registry = tool_registry(settings, choice, client, err)
            if registry is None:
                return EXIT_USAGE
            if choice.mcp or not choice.builtin:
                registry = await _with_mcp_tools(settings, choice, registry, stack, err)
                if registry is None:
                    return EXIT_ERROR
        session = ChatSession(
            settings.provider.create(client, settings.policy), settings.provider.model, conversation,
            options=settings.options, tools=registry, recorder=recorder,
            approve=approve_all if choice is not None and choice.yes else deny_all,
            max_tool_rounds=settings.max_tool_rounds, text=text, fold_text=choice is not None,
            tool_limits=ToolLimits(settings.max_tool_calls, settings.tool_results_chars),
            completion=complete,
        )
        sessions.append(session)
        code = EXIT_OK
        wrote = separate = False  # stdout = the rounds' texts joined by a blank line
        started = time.monotonic()
        try:
            async with aclosing(session.reply()) as events:
                async for event in events:
                    if isinstance(event, ContentDelta):
                        if event.text:
                            if separate:
                                sink.event(ContentDelta("\n\n"))
                            wrote, separate = True, False
                            sink.event(event)
                    elif isinstance(event, RoundStarted):
                        separate = wrote
                    elif isinstance(event, ToolCallStarted):
                        denied = " (needs --yes: denied)" if event.needs_approval and choice and not choice.yes else ""
                        note(f"tool {one_line(event.call.name, 40)}({one_line(event.call.arguments, 80)}){denied}",
                             file=err)
                    elif isinstance(event, ToolResult):
                        note(f"tool {one_line(event.call.name, 40)} -> {event.output.status}, "
                             f"{len(event.output.text)} chars", file=err)
                    elif isinstance(event, Failed):
                        code = EXIT_ERROR
                    elif isinstance(event, (ReplyFinished, RoundLimitReached, TurnFinished)):
                        pass
                    else:
                        if isinstance(event, Retrying):
                            _note_retry(event, err)
                        sink.event(event)
        except BrokenPipeError:
            return -1
        finally:
            span.append(time.monotonic() - started)
    return code


def tool_registry(
    settings: Settings, choice: ToolChoice, client: httpx.AsyncClient, err: IO[str]
) -> ToolRegistry | None:
    """The tools `choice` offers; None (after a message on `err`) when a name is unknown."""
    from llmchat.chat.builtin_tools import default_registry

    registry, problems = default_registry(
        os.getcwd(), client, config=choice.config, max_output_chars=settings.tool_output_chars,
        allow_private_addresses=settings.allow_private_addresses,
    )
    for problem in problems:
        note(f"warning: {problem}", file=err)
    if choice.names:
        try:
            registry = registry.select(choice.names)
        except KeyError as exc:
            note(f"error: {exc.args[0]}", file=err)
            return None
    return registry


async def _with_mcp_tools(
    settings: Settings, choice: ToolChoice, registry: ToolRegistry, stack: AsyncExitStack, err: IO[str]
) -> ToolRegistry | None:
    """`registry` (or nothing, without ``--tools`` / ``-T``) and the tools of ``--mcp``'s
    servers, started now and stopped when `stack` closes; None (after a message on `err`)
    when a named server did not start."""
    from llmchat.chat.tools import ToolRegistry
    from llmchat.mcp.use import ServerFailed, open_tools

    try:
        extra = await open_tools(stack, choice.mcp, strict=choice.mcp_strict,
                                 warn=lambda line: note(f"warning: {line}", file=err))
    except ServerFailed as exc:
        note(f"error: {exc}", file=err)
        return None
    merged, problems = ToolRegistry.merge(
        registry if choice.builtin else (), extra, max_output_chars=settings.tool_output_chars
    )
    for problem in problems:
        note(f"warning: {problem}", file=err)
    return merged


def _note_retry(event: Retrying, err: IO[str]) -> None:
    note(f"retrying in {event.delay:.1f} s after {event.error}", file=err)


def cancel_on_signals() -> None:
    """SIGTERM and SIGHUP cancel the stream like Ctrl-C does: what arrived is kept (stored
    as cancelled) and flushed, the connection is closed, the exit status is 143 (SIGTERM) or
    129 (SIGHUP). SIGHUP means the terminal is gone: the streams that were a terminal are
    pointed at /dev/null first (:mod:`llmchat.hangup`), so writing to them cannot fail
    while the reply is saved."""
    task = asyncio.current_task()
    if task is None:
        return
    terminals = terminal_fds()

    def hangup() -> None:
        detach(terminals)
        task.cancel("SIGHUP")

    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        loop.add_signal_handler(signal.SIGHUP, hangup)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        pass  # not the main thread, or no such signals here


def _turn_message(outcome: LoopOutcome, model: str | None, duration: float | None) -> Message:
    """A turn of several rounds as one message, for --json and the exit status; `model` is
    the model the server named in the last round (None: it named none); TTFT is the first
    round's, `duration` the whole turn's (tools included)."""
    replies = outcome.replies
    return Message(
        "assistant", content=outcome.content, reasoning=outcome.reasoning, refusal=outcome.refusal,
        tool_calls=outcome.tool_calls, finish_reason=outcome.finish_reason, usage=outcome.usage,
        error=outcome.error, model=model, ttft=replies[0].ttft if replies else None, duration=duration,
    )


def _cost(settings: Settings, outcome: LoopOutcome | None, message: Message) -> Cost | None:
    """What the turn cost (each round priced on its own), None when a price or the usage is
    unknown. The price database is imported here, after the stream, never at start-up."""
    from llmchat.chat.pricing import PriceSource

    source = PriceSource(settings.provider.kind, settings.provider.base_url, settings.prices)
    if outcome is not None and outcome.rounds > 1:
        return source.turn_cost([(m.usage, m.model) for m in outcome.replies], settings.provider.model)
    return source.reply_cost(message.usage, message.model, settings.provider.model)

