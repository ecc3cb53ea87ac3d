"""The recordings a session writes its history with (llmchat.chat.recording): NoRecording, for
history off, and LaneRecording, whose every message goes after its own lane's last one."""

from __future__ import annotations

from llmchat.chat.accumulator import Accumulator
from llmchat.chat.models import Message
from llmchat.chat.recording import LaneRecording, NoRecording
from llmchat.providers.events import ContentDelta
from tests.chat.spy_recorder import SpyRecorder


def test_no_recording_stores_nothing_but_follows_the_conversation_id() -> None:
    recording = NoRecording()
    assert recording.conversation_id is None
    recording.open("c1", "openai", "m", "sys")
    assert recording.conversation_id == "c1"
    recording.open(None, "openai", "m", None)
    assert recording.conversation_id is None
    recording.open("c2", "openai", "m", None)
    recording.new_conversation()
    assert recording.conversation_id is None
    message = Message("user", "q")
    recording.user(message)
    recording.begin_reply("openai", "m")
    recording.finish(message)
    recording.forget([message])
    recording.branch(message)
    assert message.id is None
    assert recording.siblings(message) == []
    assert recording.switch("anything") is None


def test_no_recording_takes_the_streamed_text_so_the_accumulator_does_not_grow() -> None:
    accumulator = Accumulator(text="until_taken")
    accumulator.start()
    accumulator.add(ContentDelta("hello " * 2000))
    NoRecording().heartbeat(accumulator)
    # what was taken is not handed out again
    assert accumulator.take_utf8() == ([], [])
    accumulator.add(ContentDelta("more"))
    NoRecording().heartbeat(accumulator)
    assert accumulator.take_utf8() == ([], [])


def test_a_lane_stores_each_message_after_its_own_last_one() -> None:
    inner = SpyRecorder()
    question = Message("user", "q")
    lane = LaneRecording(inner, question)
    reply = Message("assistant", "a")
    lane.begin_reply("openai", "m")
    assert inner.calls == [("branch", question), ("begin_reply", "openai", "m")]
    lane.finish(reply)
    tool = Message("tool", "result", tool_call_id="c1")
    lane.user(tool)
    assert inner.calls[2:] == [("finish", reply, None), ("branch", reply), ("user", tool)]
    # a second round goes after the tool result, a further user message after that round's reply
    lane.begin_reply("openai", "m")
    assert inner.calls[-2:] == [("branch", tool), ("begin_reply", "openai", "m")]
    second = Message("assistant", "b")
    accumulator = Accumulator()
    lane.finish(second, accumulator)
    assert inner.calls[-1] == ("finish", second, accumulator)
    follow = Message("user", "next")
    lane.user(follow)
    assert inner.calls[-2:] == [("branch", second), ("user", follow)]


def test_two_lanes_sharing_a_recorder_keep_to_their_own_branch() -> None:
    inner = SpyRecorder()
    question = Message("user", "q")
    left, right = LaneRecording(inner, question), LaneRecording(inner, question)
    left.begin_reply("a", "m1")
    right.begin_reply("b", "m2")
    left_reply, right_reply = Message("assistant", "l"), Message("assistant", "r")
    right.finish(right_reply)
    left.begin_reply("a", "m1")  # left's last message is still the question
    assert inner.calls[-2] == ("branch", question)
    left.finish(left_reply)
    right.user(Message("tool", "t"))
    assert inner.calls[-2] == ("branch", right_reply)


def test_a_lane_hands_everything_else_to_its_inner_recorder() -> None:
    inner = SpyRecorder()
    lane = LaneRecording(inner, Message("user", "q"))
    assert lane.conversation_id is None
    inner.conversation_id = "c1"
    assert lane.conversation_id == "c1"
    lane.conversation_id = "c2"
    assert inner.conversation_id == "c2"
    lane.open("c3", "openai", "m", "sys")
    assert inner.calls[-1] == ("open", "c3", "openai", "m", "sys") and lane.conversation_id == "c3"
    lane.new_conversation()
    assert inner.calls[-1] == ("new_conversation",)
    accumulator = Accumulator()
    lane.heartbeat(accumulator)
    assert inner.calls[-1] == ("heartbeat", accumulator)
    gone = Message("assistant", "x")
    lane.forget([gone])
    assert inner.calls[-1] == ("forget", [gone])
    lane.branch(gone)
    assert inner.calls[-1] == ("branch", gone)
    lane.branch(None)
    assert inner.calls[-1] == ("branch", None)
    stored = Message("assistant", "s", id="m1")
    inner.sibling_ids["m1"] = ["m0", "m1"]
    assert lane.siblings(stored) == ["m0", "m1"]
    inner.paths["m0"] = [Message("user", "q", id="u"), Message("assistant", "old", id="m0")]
    assert [m.content for m in lane.switch("m0") or []] == ["q", "old"]
    assert lane.switch("nothing") is None
    # none of these moved the lane: its next message still goes after the question
    lane.user(Message("user", "more"))
    assert inner.calls[-2][0] == "branch" and inner.calls[-2][1].content == "q"
