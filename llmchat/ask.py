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
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import IO, Any, Protocol

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Conversation, Message
from llmchat.chat.reply import stream_reply
from llmchat.config import Settings
from llmchat.providers import make_client
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import ProviderError
from llmchat.providers.events import ContentDelta, ReasoningDelta, Retrying, StreamEvent
from llmchat.safety import one_line, terminal_safe
from llmchat.store.recorder import SAVE_EVERY, Recorder

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

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
        "model": settings.provider.model,
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
    if accumulator is None:
        print(json.dumps(obj, ensure_ascii=False), file=out, flush=True)
        return
    mark = uuid.uuid4().hex  # stands for the text in the serialized object; never in real values
    obj["content"], obj["reasoning"] = f"{mark}-content", f"{mark}-reasoning"
    rest = json.dumps(obj, ensure_ascii=False)
    texts = {f'"{mark}-content"': accumulator.content_chunks, f'"{mark}-reasoning"': accumulator.reasoning_chunks}
    for placeholder in sorted(texts, key=rest.index):
        chunks = texts[placeholder]
        head, rest = rest.split(placeholder, 1)
        out.write(head)
        out.write('"')
        for chunk in chunks():  # escaping is per character, so pieces escape like the whole
            out.write(json.dumps(chunk, ensure_ascii=False)[1:-1])
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


def make_request(
    settings: Settings, conversation: Conversation, *, complete: bool = False
) -> ChatRequest:
    """The request for one `ask`: the conversation's next reply, or with `complete` a raw
    text completion of its last (user) message."""
    model = settings.provider.model
    if complete:
        prompt = conversation.messages[-1].content
        return ChatRequest(model=model, messages=[], prompt=prompt, options=settings.options)
    return conversation.request(model, **settings.options)


def run_ask(
    settings: Settings,
    request: ChatRequest,
    *,
    json_output: bool = False,
    show_reasoning: bool = False,
    recorder: Recorder | None = None,
    tools: ToolChoice | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Stream the reply to `request` and return the exit status (see the module docstring).

    Args:
        settings: resolved settings (provider, timeout).
        request: what to send (see :func:`make_request`).
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
    # The text is kept only where it is needed again: for --json; else the sink showed it and
    # the history (when on) takes it once a second and builds the final row from what it saved.
    accumulator = Accumulator(text="keep" if json_output else "until_taken" if recorder.recording else "drop")
    loops: list[Any] = []  # the ToolLoop, once made
    try:
        if tools is None:
            code = asyncio.run(_stream(settings, request, accumulator, sink, recorder))
        else:
            code = asyncio.run(_stream_tools(settings, tools, loops, sink, recorder, stderr))
    except KeyboardInterrupt:
        accumulator.cancel()
        code = EXIT_INTERRUPTED
    except asyncio.CancelledError:  # SIGTERM (see _cancel_on_sigterm)
        accumulator.cancel()
        code = EXIT_TERMINATED
    finally:
        sink.close()
    if pipe is not None and pipe.broken:  # the reader left after the last delta was written
        if code == EXIT_OK:
            code = -1
        else:
            _silence_stdout(stdout)
    text_from: Accumulator | None = None  # where --json reads the text (None: the message)
    if loops:
        message = _loop_message(loops[0])
        accumulator = loops[0].accumulator or accumulator
    else:
        message = accumulator.message(text=False)  # the text stays in its pieces
        message.provider, message.model = settings.provider.name, settings.provider.model
        recorder.finish(message, accumulator)
        text_from = accumulator
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        print("llmchat: cancelled" if code == EXIT_INTERRUPTED else "llmchat: terminated", file=stderr)
    elif message.error:
        print(f"llmchat: error: {message.error}", file=stderr)
    if code == -1:  # stdout closed under us: quiet, and keep Python from complaining at exit
        _silence_stdout(stdout)
        return EXIT_OK
    if json_output:
        try:
            write_json(stdout, settings, message, text_from)
        except BrokenPipeError:  # `llmchat ask --json | head`: as quiet as the plain case
            _silence_stdout(stdout)
    if message.refusal and not json_output:
        print(f"llmchat: the model refused: {message.refusal}", file=stderr)
    warning = _FINISH_WARNINGS.get(message.finish_reason or "")
    if warning:
        print(f"llmchat: {warning}", file=stderr)
    if code == EXIT_OK and stderr.isatty() and not json_output:
        print(status_line(settings, accumulator), file=stderr)
    return code


async def _stream(
    settings: Settings, request: ChatRequest, accumulator: Accumulator, sink: Sink, recorder: Recorder
) -> int:
    _cancel_on_sigterm()
    async with make_client() as client:
        provider = settings.provider.create(client, settings.policy)
        recorder.begin_reply(settings.provider.name, settings.provider.model)
        beat = asyncio.create_task(_heartbeat(recorder, lambda: accumulator))
        try:
            async with aclosing(stream_reply(provider, request, accumulator)) as events:
                async for event in events:
                    if isinstance(event, Retrying):
                        _note_retry(event, sys.stderr)
                    sink.event(event)
        except ProviderError:
            return EXIT_ERROR
        except BrokenPipeError:
            return -1
        finally:
            beat.cancel()
    return EXIT_OK


def _note_retry(event: Retrying, err: IO[str]) -> None:
    print(f"llmchat: retrying in {event.delay:.1f} s after {event.error}", file=err, flush=True)


def _cancel_on_sigterm() -> None:
    """SIGTERM cancels the stream like Ctrl-C does: what arrived is kept and flushed, the
    connection is closed, the exit status is 143."""
    task = asyncio.current_task()
    if task is not None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here


async def _heartbeat(recorder: Recorder, accumulator: Callable[[], Accumulator | None]) -> None:
    """Save the partial reply about once a second, also while the model is silent."""
    while True:
        await asyncio.sleep(SAVE_EVERY)
        current = accumulator()
        if current is not None:
            recorder.heartbeat(current)


@dataclass(frozen=True)
class ToolChoice:
    """Tools for one `ask`: which, and whether tools that are not read-only may run."""

    conversation: Conversation
    """The conversation the loop continues (it appends its messages)."""
    names: tuple[str, ...] = ()
    """Offer only these (``-T NAME``); empty: every tool (``--tools``)."""
    yes: bool = False
    """Run tools that are not read-only without asking (``--yes``); else they are denied."""
    config: Mapping[str, Any] | None = None
    """The config file's ``[tools]`` table."""


async def _stream_tools(
    settings: Settings, choice: ToolChoice, loops: list[Any], sink: Sink, recorder: Recorder,
    err: IO[str],
) -> int:
    from llmchat.chat.builtin_tools import default_registry
    from llmchat.chat.toolloop import (
        ReplyFinished, RoundStarted, ToolCallStarted, ToolLoop, ToolResult, approve_all, deny_all,
    )

    _cancel_on_sigterm()
    async with make_client() as client:
        registry, problems = default_registry(
            os.getcwd(), client, config=choice.config, max_output_chars=settings.tool_output_chars
        )
        for problem in problems:
            print(f"llmchat: warning: {problem}", file=err)
        if choice.names:
            try:
                registry = registry.select(choice.names)
            except KeyError as exc:
                print(f"llmchat: error: {exc.args[0]}", file=err)
                return EXIT_USAGE
        loop = ToolLoop(
            settings.provider.create(client, settings.policy), choice.conversation,
            settings.provider.model, registry, options=settings.options,
            approve=approve_all if choice.yes else deny_all, max_rounds=settings.max_tool_rounds,
        )
        loops.append(loop)
        beat = asyncio.create_task(_heartbeat(recorder, lambda: loop.accumulator))
        wrote = separate = False  # stdout = the rounds' texts joined by a blank line
        try:
            async with aclosing(loop.events()) as events:
                async for event in events:
                    if isinstance(event, ContentDelta) and event.text:
                        if separate:
                            sink.event(ContentDelta("\n\n"))
                        wrote, separate = True, False
                        sink.event(event)
                    elif isinstance(event, RoundStarted):
                        separate = wrote
                        recorder.begin_reply(settings.provider.name, settings.provider.model)
                    elif isinstance(event, ReplyFinished):
                        recorder.finish(event.message)
                    elif isinstance(event, ToolCallStarted):
                        note = " (needs --yes: denied)" if event.needs_approval and not choice.yes else ""
                        print(f"llmchat: tool {one_line(event.call.name, 40)}({one_line(event.call.arguments, 80)}){note}",
                              file=err, flush=True)
                    elif isinstance(event, ToolResult):
                        recorder.user(event.message)
                        print(f"llmchat: tool {event.call.name} -> {event.output.status}, "
                              f"{len(event.output.text)} chars", file=err, flush=True)
                    elif isinstance(event, Retrying):
                        _note_retry(event, err)
                    else:
                        sink.event(event)  # type: ignore[arg-type]  # sinks skip loop events
        except ProviderError:
            return EXIT_ERROR
        except BrokenPipeError:
            return -1
        finally:
            beat.cancel()
    return EXIT_OK


def _loop_message(loop: Any) -> Message:
    """The tool loop's outcome as one message, for --json and the exit status."""
    outcome = loop.outcome()
    return Message(
        "assistant", content=outcome.content, reasoning=outcome.reasoning, refusal=outcome.refusal,
        tool_calls=outcome.tool_calls, finish_reason=outcome.finish_reason, usage=outcome.usage,
        error=outcome.error,
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

