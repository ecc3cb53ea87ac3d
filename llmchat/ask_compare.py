"""``llmchat ask --compare``: one question to several models at once, the replies one after
the other (issue 16). The turn is one :class:`~llmchat.chat.compare.Comparison` (a
ChatSession per target, all streaming concurrently); this module only renders its events.

Three outputs, chosen once:
- stdout is a terminal: each reply under a header naming provider/model, in the order given;
  the first streams live, the others are kept and shown as soon as their turn comes (live
  from there if still streaming); each is followed by a figures line (TTFT, tokens/s,
  tokens, cost when known, finish reason), and a summary line ends the output;
- stdout is not a terminal: stdout gets exactly the replies' contents, in order, separated by
  a blank line; the headers, figures and summary go to stderr (``llmchat: [1/3] ...``);
- ``--json``: one ``ask --json`` object per target, one per line (JSON Lines), in order,
  each printed as soon as it and those before it have ended.

Exit status: 0 when every target ended normally, 1 when one failed (the others are still
shown; one ``llmchat: error: provider/model: ...`` line each), 130 on Ctrl-C (143 SIGTERM,
129 SIGHUP) after the partial replies were shown. The question's replies are stored as
siblings; the first target's reply (the first that made one) is the conversation's current
branch, so ``llmchat ask -c`` goes on from it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import IO

from llmchat.ask import EXIT_ERROR, EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, cancel_on_signals
from llmchat.ask_output import PipeSink, Sink, TextAsBytes, silence_stdout, write_json
from llmchat.chat.accumulator import Accumulator
from llmchat.chat.compare import CompareEvent, Comparison, Contender, LaneEnded, LaneEvent, LaneResult
from llmchat.chat.engine import ChatSession, ContentDelta
from llmchat.chat.models import Conversation, Message
from llmchat.chat.pricing import Cost, PriceSource, format_usd
from llmchat.config import Settings
from llmchat.providers import make_client
from llmchat.safety import note, one_line, terminal_safe
from llmchat.store.recorder import Recorder

__all__ = ["CompareView", "compare_dry_run", "run_compare"]


def run_compare(
    targets: Sequence[Settings],
    conversation: Conversation,
    *,
    recorder: Recorder,
    json_output: bool = False,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Answer `conversation` (its last message is the question, already recorded by
    `recorder`) with every target at once and render the replies; return the exit status
    (see the module docstring).

    Args:
        targets: the resolved settings of each target, in display order (at least one).
        conversation: the conversation, ending with the user's message.
        recorder: the conversation's recorder (history off: one without a store); each
            target's replies are recorded by a recorder of its own on the same store.
        json_output: JSON Lines, one ``ask --json`` object per target.
        stdout, stderr: text streams (default: the process's).
    """
    out, err = stdout or sys.stdout, stderr or sys.stderr
    logged = recorder.recording
    view = CompareView(targets, out, err, json_output, lambda: recorder.conversation_id if logged else None)
    held: list[Comparison] = []
    try:
        code = asyncio.run(_run(targets, conversation, recorder, view, held))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except asyncio.CancelledError as exc:  # SIGTERM or SIGHUP (see llmchat.ask.cancel_on_signals)
        code = EXIT_HANGUP if "SIGHUP" in exc.args else EXIT_TERMINATED
    if code == -1:  # the reader of stdout left: quiet, like a plain ask
        silence_stdout(out)
        return EXIT_OK
    comparison = held[0] if held else None
    try:
        view.finish(comparison)
    except BrokenPipeError:
        silence_stdout(out)
        return EXIT_OK
    if comparison is not None:
        _keep_first(comparison)
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP):
        note("cancelled" if code == EXIT_INTERRUPTED else "terminated", file=err)
        return code
    return EXIT_ERROR if any(r is not None and r.status == "failed" for r in view.results) else code


async def _run(
    targets: Sequence[Settings], conversation: Conversation, recorder: Recorder, view: CompareView,
    held: list[Comparison],
) -> int:
    cancel_on_signals()
    first = targets[0]
    async with make_client() as client:
        session = ChatSession(first.provider.create(client, first.policy), first.provider.model, conversation,
                              options=first.options, recorder=recorder, max_tool_rounds=first.max_tool_rounds)
        contenders = [Contender(t.provider.create(client, t.policy), t.provider.model, options=t.options)
                      for t in targets]
        comparison = Comparison(session, contenders, recorders=lambda: Recorder(recorder.store, recorder.on_error))
        held.append(comparison)
        try:
            async with aclosing(comparison.reply()) as events:
                async for event in events:
                    view.event(event, comparison)
        except BrokenPipeError:
            return -1
    return EXIT_OK


def _keep_first(comparison: Comparison) -> None:
    """Make the first reply (in the order given) the stored conversation's current branch."""
    for lane in comparison.lanes:
        if lane.result is not None and lane.result.outcome is not None and lane.result.outcome.messages:
            comparison.pick(lane.index, use_model=False)
            return


class CompareView:
    """Shows a comparison's replies in the order given (see the module docstring).

    The reply being shown streams live; the others wait in their lane's accumulator (which
    keeps their text) until their turn. `fed` counts the characters of each reply already
    written, so a reply taken up mid-stream is never written twice.
    """

    def __init__(
        self, targets: Sequence[Settings], out: IO[str], err: IO[str], json_output: bool,
        conversation_id: Callable[[], str | None],
    ) -> None:
        self.targets = targets
        self.out, self.err = out, err
        self.json_output = json_output
        self.terminal = not json_output and out.isatty()
        self.conversation_id = conversation_id
        self.results: list[LaneResult | None] = [None] * len(targets)
        self.shown = 0
        """The reply being shown (all before it are done)."""
        self.opened = False
        self.fed = [0] * len(targets)
        self.seen = [0] * len(targets)  # characters of each lane's deltas received so far
        self.sink: Sink | None = None
        self.pipe = None if json_output or self.terminal else PipeSink(
            out.buffer if hasattr(out, "buffer") else TextAsBytes(out))

    def label(self, index: int) -> str:
        provider = self.targets[index].provider
        return one_line(f"{provider.name}/{provider.model}", 120)

    def event(self, event: CompareEvent, comparison: Comparison) -> None:
        """Take one event of the comparison."""
        if isinstance(event, LaneEvent) and isinstance(event.event, ContentDelta):
            index, text = event.index, event.event.text
            self.seen[index] += len(text)
            if index == self.shown and self.opened and self.seen[index] > self.fed[index]:
                self._feed(text[len(text) - (self.seen[index] - self.fed[index]):], index)
        elif isinstance(event, LaneEnded):
            self.results[event.index] = event.result
            self._advance(comparison)
        if self.shown < len(self.targets) and not self.opened:
            self._open(comparison)

    def finish(self, comparison: Comparison | None) -> None:
        """Show whatever is left (after Ctrl-C: the partial replies), then the summary."""
        if comparison is not None:
            for lane in comparison.lanes:
                if self.results[lane.index] is None:
                    self.results[lane.index] = lane.result
        while self.shown < len(self.targets):
            if not self.opened:
                self._open(comparison)
            self._close(self.shown, comparison)
        if self.pipe is not None:
            self.pipe.close()
        self._summary()

    # -- one reply at a time ----------------------------------------------------------------

    def _advance(self, comparison: Comparison) -> None:
        while self.shown < len(self.targets) and self.results[self.shown] is not None:
            if not self.opened:
                self._open(comparison)
            self._close(self.shown, comparison)

    def _open(self, comparison: Comparison | None) -> None:
        index = self.shown
        self.opened = True
        if self.json_output:
            return
        header = f"[{index + 1}/{len(self.targets)}] {self.label(index)}"
        if self.terminal:
            from llmchat.render import TerminalSink

            self.out.write(("\n" if index else "") + f"━━ {header} ━━\n")
            self.out.flush()
            self.sink = TerminalSink(self.out)
        else:
            note(header, file=self.err)
            if index:
                self._feed("\n\n", index, count=False)
        lane = comparison.lanes[index] if comparison is not None else None
        accumulator = lane.accumulator if lane is not None else None
        if accumulator is not None:  # what arrived before its turn
            self._feed(accumulator.content[self.fed[index]:], index)

    def _close(self, index: int, comparison: Comparison | None) -> None:
        result = self.results[index]
        message = result.message if result is not None else None
        if message is not None:
            self._feed(message.content[self.fed[index]:], index)  # the rest (after Ctrl-C)
        if message is None:
            accumulator = Accumulator()
            accumulator.cancel()
            message = accumulator.message()
        settings = self.targets[index]
        cost = _cost(settings, message)
        if self.json_output:
            write_json(self.out, settings, message, conversation_id=self.conversation_id(), cost=cost)
        else:
            if self.sink is not None:
                self.sink.close()
                self.sink = None
            line = "   " + _figures(result, message, cost)
            if self.terminal:
                self.out.write(terminal_safe(line) + "\n")
                self.out.flush()
            else:
                note(f"{self.label(index)}: {line.strip()}", file=self.err)
            if message.refusal:
                note(f"{self.label(index)}: the model refused: {message.refusal}", file=self.err)
        if result is not None and result.status == "failed":
            note(f"error: {self.label(index)}: {result.error}", file=self.err)
        self.shown += 1
        self.opened = False

    def _feed(self, text: str, index: int, *, count: bool = True) -> None:
        if not text:
            return
        if count:
            self.fed[index] += len(text)
        target = self.sink if self.terminal else self.pipe
        if target is not None:
            target.event(ContentDelta(text))

    def _summary(self) -> None:
        if self.json_output:
            return
        results = [r for r in self.results if r is not None]
        counts = {status: sum(r.status == status for r in results) for status in ("done", "failed", "cancelled")}
        parts = [f"{len(self.targets)} models: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
        timed = [(r.stats.ttft, r.index) for r in results if r.stats is not None and r.stats.ttft is not None]
        if timed:
            ttft, index = min(timed)
            parts.append(f"first token: {self.label(index)} ({ttft:.2f} s)")
        speeds = [(r.stats.tokens_per_second, r.index) for r in results
                  if r.stats is not None and r.stats.tokens_per_second]
        if speeds:
            speed, index = max(speeds)
            parts.append(f"fastest: {self.label(index)} ({speed:.0f} tok/s)")
        costs = [c for r in results if r.message is not None and (c := _cost(self.targets[r.index], r.message))]
        if costs:
            parts.append(f"cost {format_usd(sum(c.total for c in costs))}")
        line = " · ".join(parts)
        if self.terminal:
            self.out.write("\n" + terminal_safe(line) + "\n")
            self.out.flush()
        else:
            note(line, file=self.err)


def _figures(result: LaneResult | None, message: Message, cost: Cost | None) -> str:
    """TTFT, tokens/s, tokens, cost (when known) and the finish reason of one reply."""
    stats = result.stats if result is not None else None
    parts: list[str] = []
    if stats is not None and stats.ttft is not None:
        parts.append(f"TTFT {stats.ttft:.2f} s")
    if stats is not None and stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    usage = message.usage
    if usage is not None:
        parts.append(f"{usage.input_tokens} in / {usage.output_tokens} out tokens")
    if cost is not None:
        parts.append(format_usd(cost.total))
    reason = result.finish_reason if result is not None else message.finish_reason
    parts.append(reason or "-")
    return " · ".join(parts)


def _cost(settings: Settings, message: Message) -> Cost | None:
    source = PriceSource(settings.provider.kind, settings.provider.base_url, settings.prices)
    return source.reply_cost(message.usage, message.model, settings.provider.model)


def compare_dry_run(targets: Sequence[Settings], run: Callable[[Settings], int], *, json_output: bool,
                    out: IO[str] | None = None) -> int:
    """``ask --dry-run --compare``: `run` (one ``ask --dry-run``) for each target in turn; the
    plain outputs separated by a blank line, ``--json`` one object a line. The worst status."""
    stream = out or sys.stdout
    codes: list[int] = []
    for number, settings in enumerate(targets):
        if number and not json_output:
            stream.write("\n")
            stream.flush()
        codes.append(run(settings))
    return max(codes)

