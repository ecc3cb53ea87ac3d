"""What a finished tool loop produced (llmchat.chat.loop_events.LoopOutcome): the replies among
its messages and the text, reasoning, refusals, calls and error read from them."""

from __future__ import annotations

from llmchat.chat.loop_events import LoopOutcome
from llmchat.chat.models import Message, ToolCall
from llmchat.providers.events import Usage


def outcome(*messages: Message) -> LoopOutcome:
    return LoopOutcome(tuple(messages), rounds=len(messages), usage=Usage(1, 2, 3), finish_reason="stop",
                       round_limit_reached=False)


CALL_A, CALL_B, CALL_C = ToolCall("a", "read", "{}"), ToolCall("b", "list", "{}"), ToolCall("c", "run", "{}")


def test_the_replies_are_the_assistant_messages_in_order() -> None:
    first = Message("assistant", "one", tool_calls=[CALL_A, CALL_B])
    result = Message("tool", "r", tool_call_id="a")
    second = Message("assistant", "two", tool_calls=[CALL_C])
    third = Message("assistant", "three")
    done = outcome(Message("user", "q"), first, result, second, third)
    assert done.replies == [first, second, third]
    assert done.tool_calls == [CALL_A, CALL_B, CALL_C]
    assert done.content == "one\n\ntwo\n\nthree"


def test_text_of_the_rounds_is_joined_leaving_out_blank_rounds() -> None:
    done = outcome(
        Message("assistant", "first", reasoning="think 1"),
        Message("tool", "tool text is not the reply", tool_call_id="a"),
        Message("assistant", "  \n", reasoning=" \t"),
        Message("assistant", "", reasoning="think 3", refusal=""),
        Message("assistant", " last ", reasoning="", refusal="no"),
        Message("user", "user text is not the reply", reasoning="nor this", refusal="nor this"),
    )
    assert done.content == "first\n\n last "
    assert done.reasoning == "think 1\n\nthink 3"
    assert done.refusal == "no"
    assert outcome(Message("assistant", refusal="a"), Message("assistant", refusal="b")).refusal == "a\n\nb"


def test_the_error_is_the_last_replys() -> None:
    assert outcome().error is None
    assert outcome(Message("user", "q")).error is None
    assert outcome(Message("assistant", "x", error="early")).error == "early"
    assert outcome(Message("assistant", "x", error="early"), Message("assistant", "y")).error is None
    assert outcome(Message("assistant", "x"), Message("assistant", "y", error="late"),
                   Message("tool", "t", tool_call_id="a")).error == "late"


def test_an_empty_outcome_has_nothing() -> None:
    done = outcome()
    assert (done.replies, done.content, done.reasoning, done.refusal, done.tool_calls) == ([], "", "", "", [])
