"""stream_reply with the FakeProvider: folding, cancellation, early close, errors; Conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing

import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Conversation, Message
from llmchat.chat.reply import stream_reply
from llmchat.providers.errors import AuthenticationError, StreamInterrupted
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, StreamEvent, Usage
from tests.fakes import FakeProvider


async def until(condition: Callable[[], object]) -> None:
    """Poll `condition` until it holds (a hang fails at the test's timeout)."""
    while not condition():
        await asyncio.sleep(0.01)


def _request(text: str = "hi"):
    conversation = Conversation(messages=[Message("user", text)])
    return conversation.request("fake-model")


async def test_events_are_reyielded_in_order_and_folded() -> None:
    script = [
        ReasoningDelta("hmm"),
        ContentDelta("Hello"),
        ContentDelta(", world"),
        Usage(input_tokens=3, output_tokens=2, total_tokens=5),
        Finish("stop", "stop"),
    ]
    provider = FakeProvider(script)
    acc = Accumulator()
    request = _request()

    seen: list[StreamEvent] = []
    async for event in stream_reply(provider, request, acc):
        seen.append(event)
        # folded before it is yielded
        if isinstance(event, ContentDelta):
            assert acc.content.endswith(event.text)

    assert seen == script
    assert provider.requests == [request]
    assert provider.closed == 0
    message = acc.message()
    assert message.content == "Hello, world"
    assert message.reasoning == "hmm"
    assert message.finish_reason == "stop"
    assert message.usage == Usage(3, 2, 5)
    assert acc.state == "done"
    assert acc.started_at is not None


async def test_cancelling_the_consumer_marks_cancelled_and_closes_the_stream() -> None:
    never = asyncio.Event()
    provider = FakeProvider([ContentDelta("partial "), ContentDelta("answer"), never, ContentDelta("late")])
    acc = Accumulator()
    got_two = asyncio.Event()
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in stream_reply(provider, _request(), acc):
            seen.append(event)
            if len(seen) == 2:
                got_two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_two.wait(), 5)
    await until(lambda: provider.waiting)  # the fake blocks on the event
    assert acc.state == "streaming"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert task.cancelled()
    assert acc.finish_reason == "cancelled"
    assert acc.state == "cancelled"
    assert acc.content == "partial answer"
    assert acc.message().content == "partial answer"
    assert provider.closed == 1


async def test_cancelling_while_waiting_for_the_first_event() -> None:
    never = asyncio.Event()
    provider = FakeProvider([never])
    acc = Accumulator()

    async def consume() -> None:
        async for _ in stream_reply(provider, _request(), acc):
            pass

    task = asyncio.create_task(consume())
    await until(lambda: provider.waiting)
    assert acc.state == "waiting"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert acc.state == "cancelled"
    assert acc.content == ""
    assert provider.closed == 1


async def test_closing_the_generator_early_marks_cancelled() -> None:
    provider = FakeProvider([ContentDelta("one"), ContentDelta("two"), ContentDelta("three"), Finish("stop")])
    acc = Accumulator()

    seen: list[StreamEvent] = []
    async with aclosing(stream_reply(provider, _request(), acc)) as events:
        async for event in events:
            seen.append(event)
            if len(seen) == 2:
                break
        # the stream is closed when the `async with` ends, not before
        assert acc.finish_reason is None

    assert seen == [ContentDelta("one"), ContentDelta("two")]
    assert acc.finish_reason == "cancelled"
    assert acc.content == "onetwo"
    assert provider.closed == 1


async def test_provider_error_marks_error_and_is_reraised() -> None:
    error = AuthenticationError("bad key", status=401, provider="fake")
    provider = FakeProvider([ContentDelta("so far"), error])
    acc = Accumulator()

    seen: list[StreamEvent] = []
    with pytest.raises(AuthenticationError) as info:
        async for event in stream_reply(provider, _request(), acc):
            seen.append(event)

    assert info.value is error
    assert seen == [ContentDelta("so far")]
    assert acc.finish_reason == "error"
    assert acc.state == "error"
    assert acc.error is not None and "bad key" in acc.error
    assert acc.message().content == "so far"
    assert provider.closed == 0  # the provider failed by itself; it was not closed early


async def test_stream_interrupted_is_recorded_as_interrupted() -> None:
    provider = FakeProvider([ContentDelta("half"), StreamInterrupted("connection lost", provider="fake")])
    acc = Accumulator()
    with pytest.raises(StreamInterrupted):
        async for _ in stream_reply(provider, _request(), acc):
            pass
    assert acc.finish_reason == "error"
    assert acc.error is not None and "interrupted" in acc.error
    assert acc.content == "half"


async def test_each_call_takes_the_next_script() -> None:
    provider = FakeProvider([ContentDelta("first"), Finish("stop")], [ContentDelta("second"), Finish("stop")])
    first, second = Accumulator(), Accumulator()
    async for _ in stream_reply(provider, _request("a"), first):
        pass
    async for _ in stream_reply(provider, _request("b"), second):
        pass
    assert first.content == "first"
    assert second.content == "second"
    assert [r.messages[-1]["content"] for r in provider.requests] == ["a", "b"]


# -- Conversation ------------------------------------------------------------------------


def test_wire_messages_skip_empty_assistant_replies_and_keep_partial_ones() -> None:
    conversation = Conversation(
        system="be brief",
        messages=[
            Message("user", "first question"),
            Message("assistant", "", finish_reason="cancelled"),
            Message("user", "second question"),
            Message("assistant", "   \n", finish_reason="error", error="boom"),
            Message("user", "third question"),
            Message("assistant", "a partial ans", finish_reason="cancelled"),
            Message("user", "go on"),
        ],
    )
    assert conversation.wire_messages() == [
        {"role": "user", "content": "first question"},
        {"role": "user", "content": "second question"},
        {"role": "user", "content": "third question"},
        {"role": "assistant", "content": "a partial ans"},
        {"role": "user", "content": "go on"},
    ]


def test_request_carries_model_system_and_options() -> None:
    conversation = Conversation(system="be brief", messages=[Message("user", "hi")])
    request = conversation.request("m1", temperature=0.2)
    assert request.model == "m1"
    assert request.system == "be brief"
    assert list(request.messages) == [{"role": "user", "content": "hi"}]
    assert dict(request.options) == {"temperature": 0.2}


async def test_complete_reply_returns_the_folded_message() -> None:
    from llmchat.chat.reply import complete_reply

    provider = FakeProvider([ReasoningDelta("think"), ContentDelta("Hel"), ContentDelta("lo"),
                             Usage(4, 2, 6), Finish("length", "max_tokens")])
    request = _request()
    message = await complete_reply(provider, request)
    assert provider.requests == [request] and provider.closed == 0
    assert (message.role, message.content, message.reasoning) == ("assistant", "Hello", "think")
    assert (message.finish_reason, message.raw_finish_reason, message.usage) == ("length", "max_tokens", Usage(4, 2, 6))
    assert message.ttft is not None and message.duration is not None and message.duration >= message.ttft


async def test_complete_reply_raises_the_providers_error() -> None:
    from llmchat.chat.reply import complete_reply

    provider = FakeProvider([ContentDelta("part"), StreamInterrupted("dropped", provider="fake")])
    with pytest.raises(StreamInterrupted):
        await complete_reply(provider, _request())
