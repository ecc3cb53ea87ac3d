"""The session's branch operations (llmchat.chat.branching) against a recorder that logs what it
is told: where the next message goes, which sibling a message is, and switching between them.
(tests/chat/test_engine_branches.py runs the same against a real store and loopback server.)"""

from __future__ import annotations

import pytest

from llmchat.chat.engine import ChatSession
from llmchat.chat.models import Conversation, Message
from tests.chat.spy_recorder import SpyRecorder
from tests.fakes import FakeProvider


def session(*messages: Message) -> tuple[ChatSession, SpyRecorder]:
    recorder = SpyRecorder()
    chat = ChatSession(FakeProvider([]), "m", Conversation(messages=list(messages)), recorder=recorder)
    recorder.calls.clear()
    return chat, recorder


def contents(chat: ChatSession) -> list[str]:
    return [m.content for m in chat.conversation.messages]


def test_rewind_takes_out_the_last_user_message_and_what_follows() -> None:
    q1, a1, q2 = Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2")
    a2, tool, a3 = Message("assistant", "a2"), Message("tool", "t", tool_call_id="c"), Message("assistant", "a3")
    chat, recorder = session(q1, a1, q2, a2, tool, a3)
    assert chat.rewind() is q2
    assert contents(chat) == ["q1", "a1"]
    assert recorder.calls == [("branch", a1)]  # the next message is stored after a1: q2's sibling


def test_rewinding_the_first_message_starts_a_new_root() -> None:
    q1 = Message("user", "q1")
    chat, recorder = session(q1, Message("assistant", "a1"))
    assert chat.rewind() is q1
    assert contents(chat) == []
    assert recorder.calls == [("branch", None)]


def test_rewind_when_the_only_user_message_is_last() -> None:
    chat, recorder = session(Message("assistant", "greeting"), Message("user", "q"))
    assert chat.rewind().content == "q"
    assert contents(chat) == ["greeting"]
    assert recorder.calls[0][1].content == "greeting"


@pytest.mark.parametrize("messages", [[], [Message("assistant", "a")], [Message("tool", "t", tool_call_id="c")]])
def test_rewind_without_a_user_message_is_refused(messages: list[Message]) -> None:
    chat, recorder = session(*messages)
    with pytest.raises(ValueError, match="^there is no user message in the conversation$"):
        chat.rewind()
    assert len(chat.conversation.messages) == len(messages) and recorder.calls == []


def test_nothing_moves_while_a_turn_runs() -> None:
    chat, recorder = session(Message("user", "q", id="u1"), Message("assistant", "a", id="a1"))
    recorder.sibling_ids["a1"] = ["a0", "a1"]
    chat.running = True
    with pytest.raises(RuntimeError, match="^a turn is running: cancel it first$"):
        chat.rewind()
    with pytest.raises(RuntimeError, match="^a turn is running: cancel it first$"):
        chat.switch_branch(chat.conversation.messages[1], 1)
    assert contents(chat) == ["q", "a"] and "branch" not in recorder.names() and "switch" not in recorder.names()


def test_a_messages_place_among_its_siblings() -> None:
    chat, recorder = session()
    recorder.sibling_ids = {"b": ["a", "b", "c"], "a": ["a", "b", "c"], "c": ["a", "b", "c"], "x": ["y"]}
    assert chat.branches(Message("assistant", id="a")) == (1, 3)
    assert chat.branches(Message("assistant", id="b")) == (2, 3)
    assert chat.branches(Message("assistant", id="c")) == (3, 3)
    assert chat.branches(Message("assistant", id="lonely")) == (1, 1)  # not stored: no siblings
    assert chat.branches(Message("assistant")) == (1, 1)
    assert chat.branches(Message("assistant", id="x")) == (1, 1)  # a list without it


def test_switching_follows_the_stored_path_through_the_chosen_sibling() -> None:
    q, a2 = Message("user", "q", id="q"), Message("assistant", "second", id="a2")
    chat, recorder = session(q, a2)
    recorder.sibling_ids["a2"] = ["a1", "a2", "a3"]
    first = [Message("user", "q", id="q"), Message("assistant", "first", id="a1"), Message("user", "more", id="u")]
    third = [Message("user", "q", id="q"), Message("assistant", "third", id="a3")]
    recorder.paths = {"a1": first, "a3": third}
    held = chat.conversation.messages
    assert chat.switch_branch(a2, 1) is held  # the same list, changed in place
    assert contents(chat) == ["q", "first", "more"] and recorder.calls[-1] == ("switch", "a1")
    chat.switch_branch(a2, 3)
    assert contents(chat) == ["q", "third"] and recorder.calls[-1] == ("switch", "a3")


@pytest.mark.parametrize(("number", "message"), [
    (0, "there is no branch 0 here (3 in all)"),
    (4, "there is no branch 4 here (3 in all)"),
    (-1, "there is no branch -1 here (3 in all)"),
])
def test_a_sibling_number_out_of_range_is_refused(number: int, message: str) -> None:
    chat, recorder = session(Message("user", "q", id="q"), Message("assistant", "a", id="a2"))
    recorder.sibling_ids["a2"] = ["a1", "a2", "a3"]
    with pytest.raises(ValueError) as caught:
        chat.switch_branch(chat.conversation.messages[1], number)
    assert str(caught.value) == message
    assert contents(chat) == ["q", "a"] and "switch" not in recorder.names()


def test_switching_with_the_history_off_is_refused() -> None:
    chat, recorder = session(Message("user", "q", id="q"), Message("assistant", "a", id="a2"))
    with pytest.raises(ValueError) as caught:  # nothing stored: no sibling at all
        chat.switch_branch(chat.conversation.messages[1], 1)
    assert str(caught.value) == "there is no branch 1 here (1 in all)"
    recorder.sibling_ids["a2"] = ["a2"]  # listed, but the store has no path for it
    with pytest.raises(ValueError, match="^branches are kept in the history, which is off$"):
        chat.switch_branch(chat.conversation.messages[1], 1)
    assert contents(chat) == ["q", "a"]
