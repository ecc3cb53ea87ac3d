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
import json
import os
import signal
import sys
import uuid
from collections.abc import Mapping
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from llmchat.chat.accumulator import Accumulator, TextPolicy
from llmchat.chat.engine import (
    ChatSession,
    ContentDelta,
    Failed,
    ReasoningDelta,
    ReplyFinished,
    Retrying,
    RoundLimitReached,
    RoundStarted,
    ToolCallStarted,
    ToolResult,
    TurnFinished,
)
from llmchat.chat.models import Conversation, Message
from llmchat.chat.toolloop import LoopOutcome, approve_all, deny_all
from llmchat.config import Settings
from llmchat.hangup import detach, terminal_fds
from llmchat.providers import make_client
from llmchat.providers.events import StreamEvent
from llmchat.safety import is_terminal, json_safe, note, one_line, terminal_safe
from llmchat.store.recorder import Recorder

if TYPE_CHECKING:
    import httpx

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


class Sink(Protocol):
    """Where the stream goes while it arrives."""

    def event(self, event: StreamEvent) -> None: ...
    def close(self) -> None: ...


class PipeSink:
    """Writes exactly the content bytes to a binary stream, flushed before llmchat waits for
    the network again.

    The flush is a callback on the event loop, so it runs as soon as the stream has handled
    what one network read brought: every delta is out before the next wait, with one write
    per read instead of one per delta (a fast provider packs dozens of deltas into a read).
    Outside an event loop every delta is flushed at once. A reader that closed the pipe
    shows on the next delta (BrokenPipeError) or as :attr:`broken` after :meth:`close`.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.broken = False
        """The pipe was closed by its reader (a deferred flush failed)."""
        self._error: BrokenPipeError | None = None
        self._pending = False

    def event(self, event: StreamEvent) -> None:
        if self._error is not None:
            raise self._error
        if isinstance(event, ContentDelta):
            self.out.write(event.text.encode("utf-8"))
            if not self._pending:
                try:
                    asyncio.get_running_loop().call_soon(self._flush)
                except RuntimeError:  # no event loop: flush now
                    self.out.flush()
                else:
                    self._pending = True

    def _flush(self) -> None:
        self._pending = False
        try:
            self.out.flush()
        except BrokenPipeError as exc:
            self._error = exc
            self.broken = True
        except ValueError:  # closed under us
            pass

    def close(self) -> None:
        self._pending = False
        try:
            self.out.flush()
        except BrokenPipeError:
            self.broken = True
        except ValueError:
            pass


class NullSink:
    """Shows nothing while streaming (``--json`` prints at the end)."""

    def event(self, event: StreamEvent) -> None:
        pass

    def close(self) -> None:
        pass


def json_result(settings: Settings, message: Message) -> dict[str, Any]:
    """The ``--json`` object of shared/DESIGN.md for a (maybe partial) reply."""
    usage = message.usage
    return {
        "provider": settings.provider.name,
        "model": message.model or settings.provider.model,  # the answering model, as the SDKs
        "content": message.content,
        "reasoning": message.reasoning,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ],
        "finish_reason": message.finish_reason,
        "usage": None
        if usage is None
        else {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
        "refusal": message.refusal or None,
    }


def write_json(out: IO[str], settings: Settings, message: Message, accumulator: Accumulator | None = None) -> None:
    """Print the ``--json`` object (see :func:`json_result`) and a newline, then flush.

    With `accumulator`, the content and reasoning are written from its pieces
    (:meth:`Accumulator.content_chunks`), so a long reply is never joined into one string or
    serialized whole; `message`'s own content and reasoning are not read. The bytes are the
    same as ``json.dumps(json_result(...), ensure_ascii=False)``.

    Raises:
        BrokenPipeError: the reader closed stdout.
    """
    obj = json_result(settings, message)
    safe = is_terminal(out)  # escape what a terminal would obey (the value stays the same)
    if accumulator is None:
        text = json.dumps(obj, ensure_ascii=False)
        print(json_safe(text) if safe else text, file=out, flush=True)
        return
    mark = uuid.uuid4().hex  # stands for the text in the serialized object; never in real values
    obj["content"], obj["reasoning"] = f"{mark}-content", f"{mark}-reasoning"
    rest = json.dumps(obj, ensure_ascii=False)
    if safe:
        rest = json_safe(rest)
    texts = {f'"{mark}-content"': accumulator.content_chunks, f'"{mark}-reasoning"': accumulator.reasoning_chunks}
    for placeholder in sorted(texts, key=rest.index):
        chunks = texts[placeholder]
        head, rest = rest.split(placeholder, 1)
        out.write(head)
        out.write('"')
        for chunk in chunks():  # escaping is per character, so pieces escape like the whole
            piece = json.dumps(chunk, ensure_ascii=False)[1:-1]
            out.write(json_safe(piece) if safe else piece)
        out.write('"')
    out.write(rest)
    out.write("\n")
    out.flush()


class ReasoningTee:
    """Sends reasoning deltas to stderr (``--reasoning``), everything to the wrapped sink.

    Reasoning never reaches stdout; on a terminal it is made safe like the answer.
    """

    def __init__(self, inner: Sink, err: IO[str]) -> None:
        self.inner = inner
        self.err = err
        self._safe = err.isatty()
        self._open = False  # reasoning was written and not yet ended with a newline

    def event(self, event: StreamEvent) -> None:
        if isinstance(event, ReasoningDelta):
            self.err.write(terminal_safe(event.text) if self._safe else event.text)
            self.err.flush()
            self._open = not event.text.endswith("\n")
        elif isinstance(event, ContentDelta) and self._open:
            self._end()
        self.inner.event(event)

    def close(self) -> None:
        if self._open:
            self._end()
        self.inner.close()

    def _end(self) -> None:
        self.err.write("\n")
        self.err.flush()
        self._open = False


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
        sink = pipe = PipeSink(stdout.buffer if hasattr(stdout, "buffer") else _TextAsBytes(stdout))
    if show_reasoning:
        sink = ReasoningTee(sink, stderr)
    recorder = recorder or Recorder(None, lambda _: None)
    # The text is kept only where it is needed again: for --json and for the rounds of a tool
    # loop; else the sink showed it and the history (when on) takes it once a second and builds
    # the final row from what it saved.
    text: TextPolicy = "keep" if json_output or tools is not None else (
        "until_taken" if recorder.recording else "drop")
    sessions: list[ChatSession] = []  # the session, once made
    try:
        code = asyncio.run(_run(settings, conversation, complete, tools, sink, recorder, text, stderr, sessions))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except asyncio.CancelledError as exc:  # SIGTERM or SIGHUP (see _cancel_on_sigterm)
        code = EXIT_HANGUP if "SIGHUP" in exc.args else EXIT_TERMINATED
    finally:
        sink.close()
    if pipe is not None and pipe.broken:  # the reader left after the last delta was written
        if code == EXIT_OK:
            code = -1
        else:
            _silence_stdout(stdout)
    session = sessions[0] if sessions else None
    accumulator = (session.accumulator if session else None) or Accumulator()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP):
        accumulator.cancel()
    outcome = session.outcome() if session else None
    text_from: Accumulator | None = None  # where --json reads the text (None: the message)
    if outcome is not None and outcome.rounds > 1:
        message = _turn_message(outcome, accumulator.model)
    else:
        message = accumulator.message(text=False)  # the text stays in its pieces
        text_from = accumulator
    message.provider, message.model = settings.provider.name, message.model or settings.provider.model
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP):
        note("cancelled" if code == EXIT_INTERRUPTED else "terminated", file=stderr)
    elif message.error:
        note(f"error: {message.error}", file=stderr)
    if code == -1:  # stdout closed under us: quiet, and keep Python from complaining at exit
        _silence_stdout(stdout)
        return EXIT_OK
    if json_output:
        try:
            write_json(stdout, settings, message, text_from)
        except BrokenPipeError:  # `llmchat ask --json | head`: as quiet as the plain case
            _silence_stdout(stdout)
    if message.refusal and not json_output:
        note(f"the model refused: {message.refusal}", file=stderr, width=4000)
    warning = _FINISH_WARNINGS.get(message.finish_reason or "")
    if warning:
        note(warning, file=stderr)
    if code == EXIT_OK and stderr.isatty() and not json_output:
        stderr.write(one_line(status_line(settings, accumulator), 400) + "\n")
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
) -> int:
    """One turn of a :class:`ChatSession`, rendered: content to the sink (the rounds' texts
    joined by a blank line), tool calls, retries and problems to `err`."""
    _cancel_on_sigterm()
    async with make_client() as client, AsyncExitStack() as stack:
        registry = None
        if choice is not None:
            registry = _tool_registry(settings, choice, client, err)
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
            completion=complete,
        )
        sessions.append(session)
        code = EXIT_OK
        wrote = separate = False  # stdout = the rounds' texts joined by a blank line
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
    return code


def _tool_registry(
    settings: Settings, choice: ToolChoice, client: httpx.AsyncClient, err: IO[str]
) -> ToolRegistry | None:
    """The tools `choice` offers; None (after a message on `err`) when a name is unknown."""
    from llmchat.chat.builtin_tools import default_registry

    registry, problems = default_registry(
        os.getcwd(), client, config=choice.config, max_output_chars=settings.tool_output_chars
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


def _cancel_on_sigterm() -> None:
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


def _turn_message(outcome: LoopOutcome, model: str | None) -> Message:
    """A turn of several rounds as one message, for --json and the exit status; `model` is
    the model the server named in the last round (None: it named none)."""
    return Message(
        "assistant", content=outcome.content, reasoning=outcome.reasoning, refusal=outcome.refusal,
        tool_calls=outcome.tool_calls, finish_reason=outcome.finish_reason, usage=outcome.usage,
        error=outcome.error, model=model,
    )


def status_line(settings: Settings, accumulator: Accumulator) -> str:
    """A one-line summary for stderr: model, finish reason, usage, TTFT, tokens/s."""
    stats = accumulator.stats()
    parts = [f"{settings.provider.name}/{settings.provider.model}", stats.finish_reason or "-"]
    if stats.usage:
        parts.append(f"{stats.usage.input_tokens} in / {stats.usage.output_tokens} out tokens")
    if stats.ttft is not None:
        parts.append(f"TTFT {stats.ttft:.2f} s")
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    return " · ".join(parts)


class _TextAsBytes:
    """Adapts a text stream without a `.buffer` (e.g. in tests) to the bytes interface."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        return self.out.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.out.flush()


def _silence_stdout(stdout: IO[str]) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass

