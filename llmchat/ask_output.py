"""Where `llmchat ask` writes a reply: the sinks (a pipe, a terminal through
:mod:`llmchat.render`, nothing for ``--json``), the reasoning tee, the ``--json`` object and the
status line (shared/DESIGN.md, "Command-line contract")."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import IO, Any, Protocol

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.chat.pricing import Cost, format_usd
from llmchat.config import Settings
from llmchat.providers.events import ContentDelta, ReasoningDelta, StreamEvent
from llmchat.safety import is_terminal, json_safe, terminal_safe


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


def json_result(
    settings: Settings, message: Message, *, conversation_id: str | None = None, cost: Cost | None = None
) -> dict[str, Any]:
    """The ``--json`` object of shared/DESIGN.md for a (maybe partial) reply ("Command-line
    contract" and "`ask --json`, more keys").

    Args:
        settings: the provider and model asked for.
        message: the reply (its text may be left empty, see :func:`write_json`); its
            :attr:`~Message.ttft` and :attr:`~Message.duration` give ``timings`` (seconds).
        conversation_id: the stored conversation, None when the reply was not recorded.
        cost: what the reply cost, None when a price (or the usage) is unknown.
    """
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
        "conversation_id": conversation_id,
        "timings": {"ttft_s": message.ttft, "duration_s": message.duration or 0.0},
        "cost": None if cost is None else cost.as_json(),
    }


def write_json(
    out: IO[str], settings: Settings, message: Message, accumulator: Accumulator | None = None,
    *, conversation_id: str | None = None, cost: Cost | None = None,
) -> None:
    """Print the ``--json`` object (see :func:`json_result`, which takes `conversation_id`
    and `cost`) and a newline, then flush.

    With `accumulator`, the content and reasoning are written from its pieces
    (:meth:`Accumulator.content_chunks`), so a long reply is never joined into one string or
    serialized whole; `message`'s own content and reasoning are not read. The bytes are the
    same as ``json.dumps(json_result(...), ensure_ascii=False)``.

    Raises:
        BrokenPipeError: the reader closed stdout.
    """
    obj = json_result(settings, message, conversation_id=conversation_id, cost=cost)
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


def status_line(settings: Settings, accumulator: Accumulator, cost: Cost | None = None) -> str:
    """A one-line summary for stderr: model, finish reason, usage, TTFT, tokens/s, and the
    cost when it is known."""
    stats = accumulator.stats()
    model = accumulator.model or settings.provider.model  # the model that answered, when named
    parts = [f"{settings.provider.name}/{model}", stats.finish_reason or "-"]
    if stats.usage:
        parts.append(f"{stats.usage.input_tokens} in / {stats.usage.output_tokens} out tokens")
    if stats.ttft is not None:
        parts.append(f"TTFT {stats.ttft:.2f} s")
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    if cost is not None:
        parts.append(format_usd(cost.total))
    return " · ".join(parts)


class TextAsBytes:
    """Adapts a text stream without a `.buffer` (e.g. in tests) to the bytes interface."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        return self.out.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.out.flush()


def silence_stdout(stdout: IO[str]) -> None:
    """Point `stdout`'s file descriptor at /dev/null (the reader left), so that Python's
    flush at exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
