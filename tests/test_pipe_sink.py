"""PipeSink (piped `llmchat ask`): exact bytes, flushed before the next network wait, one
flush per batch of deltas, and a closed pipe noticed."""

from __future__ import annotations

import asyncio
import io

import pytest

from llmchat.ask_output import PipeSink
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta


class Recording(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[bytes] = []  # what was visible at each flush

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


class BrokenAfter(Recording):
    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_without_an_event_loop_every_delta_is_flushed() -> None:
    out = Recording()
    sink = PipeSink(out)
    sink.event(ContentDelta("héllo "))
    sink.event(ReasoningDelta("not shown"))
    sink.event(ContentDelta("🎉"))
    assert out.flushed == ["héllo ".encode(), "héllo 🎉".encode()]


async def test_deltas_of_one_read_are_flushed_once_before_the_next_wait() -> None:
    out = Recording()
    sink = PipeSink(out)
    for text in ("a", "b", "c"):  # one network read's worth, handled without awaiting
        sink.event(ContentDelta(text))
    assert out.flushed == []
    await asyncio.sleep(0)  # the stream waits for the network: the deltas go out first
    assert out.flushed == [b"abc"]
    sink.event(ContentDelta("d"))
    sink.event(Finish("stop", "stop"))
    await asyncio.sleep(0)
    assert out.flushed == [b"abc", b"abcd"]
    sink.close()
    assert out.getvalue() == b"abcd" and not sink.broken


async def test_a_closed_pipe_stops_the_next_delta() -> None:
    sink = PipeSink(BrokenAfter())
    sink.event(ContentDelta("x"))
    await asyncio.sleep(0)  # the deferred flush meets the closed pipe
    assert sink.broken
    with pytest.raises(BrokenPipeError):
        sink.event(ContentDelta("y"))
    sink.close()  # quiet


def test_a_pipe_closed_before_the_last_flush_is_reported_by_close() -> None:
    sink = PipeSink(BrokenAfter())
    sink._pending = True  # as if a flush were scheduled
    sink.close()
    assert sink.broken
