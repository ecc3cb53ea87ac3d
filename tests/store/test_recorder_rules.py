"""The Recorder's rules at their edges: a save exactly one SAVE_EVERY after the last (not
before), continuing a conversation that exists, calls out of order (a finish without a begun
reply, a second finish) that must store and report nothing, a lone surrogate in a message, and
the reasoning of a reply finished from a message."""

from __future__ import annotations

import pytest

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.providers.events import ContentDelta, ReasoningDelta
from llmchat.store import Store
from llmchat.store.recorder import SAVE_EVERY, Recorder


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_save_every_is_one_second() -> None:
    assert SAVE_EVERY == 1.0


def test_a_heartbeat_saves_at_exactly_one_interval_not_before(store: Store) -> None:
    clock = Clock(100.0)
    recorder = Recorder(store, pytest.fail, clock=clock)
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "go"))
    recorder.begin_reply("openai", "m")
    acc = Accumulator(clock)
    acc.add(ContentDelta("early"))
    clock.now = 100.0 + SAVE_EVERY - 0.001
    recorder.heartbeat(acc)
    assert recorder.conversation_id is not None
    assert store.load_conversation(recorder.conversation_id)[1].messages[-1].content == ""
    clock.now = 100.0 + SAVE_EVERY
    recorder.heartbeat(acc)
    assert store.load_conversation(recorder.conversation_id)[1].messages[-1].content == "early"


def test_without_a_store_the_first_heartbeat_after_one_interval_takes_the_text() -> None:
    clock = Clock(SAVE_EVERY)  # one interval after the start of the clock
    recorder = Recorder(None, pytest.fail, clock=clock)
    acc = Accumulator(clock, text="until_taken")
    acc.add(ContentDelta("x" * 100))
    recorder.heartbeat(acc)
    assert acc.content == "" and acc.content_length == 100


def test_open_continues_an_existing_conversation(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    store.add_message(cid, Message("user", "first"))
    recorder = Recorder(store, pytest.fail)
    recorder.open(cid, "openai", "m", None)
    message = Message("user", "second")
    recorder.user(message)
    assert recorder.conversation_id == cid and message.id is not None
    assert [m.content for m in store.load_conversation(cid)[1].messages] == ["first", "second"]
    assert len(store.list_conversations()) == 1


def test_a_recorder_never_opened_starts_a_conversation_at_the_first_message(store: Store) -> None:
    recorder = Recorder(store, pytest.fail)
    recorder.user(Message("user", "hello"))
    assert recorder.conversation_id is not None
    assert [m.content for m in store.load_conversation(recorder.conversation_id)[1].messages] == ["hello"]


def test_calls_out_of_order_store_and_report_nothing(store: Store) -> None:
    errors: list[str] = []
    recorder = Recorder(store, errors.append)
    recorder.finish(Message("assistant", "no reply was begun", finish_reason="stop"))
    recorder.begin_reply("openai", "m")  # no conversation yet: nothing to attach a reply to
    recorder.heartbeat(Accumulator())
    recorder.finish(Message("assistant", "still none", finish_reason="stop"))
    assert store.list_conversations() == [] and errors == [] and recorder.recording
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "q"))
    recorder.begin_reply("openai", "m")
    recorder.finish(Message("assistant", "answer", finish_reason="stop"))
    recorder.finish(Message("assistant", "a second finish", finish_reason="stop"))  # ignored
    assert errors == [] and recorder.conversation_id is not None
    messages = store.load_conversation(recorder.conversation_id)[1].messages
    assert [(m.role, m.content) for m in messages] == [("user", "q"), ("assistant", "answer")]


def test_finish_from_a_message_keeps_its_reasoning_and_survives_a_lone_surrogate(store: Store) -> None:
    clock = Clock(0.0)
    recorder = Recorder(store, pytest.fail, clock=clock)
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "q"))
    recorder.begin_reply("openai", "m")
    acc = Accumulator(clock)
    acc.add(ReasoningDelta("think "))
    acc.add(ContentDelta("saved "))
    clock.now = SAVE_EVERY
    recorder.heartbeat(acc)  # "think " and "saved " are stored
    message = Message("assistant", "saved and \ud83d rest", reasoning="think more",
                      finish_reason="stop")
    recorder.finish(message)
    assert recorder.conversation_id is not None
    stored = store.load_conversation(recorder.conversation_id)[1].messages[-1]
    assert stored.content == "saved and ? rest"  # the unsaved rest, its lone surrogate replaced
    assert stored.reasoning == "think more"
    assert stored.id == message.id and stored.finish_reason == "stop"


def test_finish_without_a_heartbeat_stores_all_of_the_message(store: Store) -> None:
    recorder = Recorder(store, pytest.fail, clock=Clock(0.0))
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "q"))
    recorder.begin_reply("openai", "model-x")
    recorder.finish(Message("assistant", "all the text", reasoning="why \ud83d so", finish_reason="stop"))
    assert recorder.conversation_id is not None
    stored = store.load_conversation(recorder.conversation_id)[1].messages[-1]
    assert (stored.content, stored.reasoning) == ("all the text", "why ? so")
    assert (stored.provider, stored.model) == ("openai", "model-x")  # from begin_reply


def test_new_conversation_starts_another_at_the_next_message(store: Store) -> None:
    recorder = Recorder(store, pytest.fail)
    recorder.open(None, "openai", "m", None)
    recorder.user(Message("user", "first"))
    first = recorder.conversation_id
    recorder.new_conversation()
    recorder.user(Message("user", "second"))
    assert recorder.conversation_id not in (None, first)
    assert len(store.list_conversations()) == 2
