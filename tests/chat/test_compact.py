"""Compacting a conversation (llmchat.chat.compact): where the kept messages start, the summary
request and its text, and the fork that carries the summary in its system prompt."""

from __future__ import annotations

import pytest

from llmchat.chat.compact import COMPACT_PROMPT, SUMMARY_HEADING, compacted, split_point, summarise
from llmchat.chat.engine import ChatSession
from llmchat.chat.models import Conversation, Message, ToolCall
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.chat.spy_recorder import SpyRecorder
from tests.fakes import FakeProvider


def roles(spec: str) -> list[Message]:
    """Messages by role letter: u(ser), a(ssistant), t(ool); contents are their positions."""
    names = {"u": "user", "a": "assistant", "t": "tool"}
    return [Message(names[r], str(i)) for i, r in enumerate(spec)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "keep", "cut"), [
    ("uaua", 2, 2),
    ("uaua", 1, 2),  # would start at an assistant message: back to its question
    ("uaua", 3, 0),  # back to the first question: nothing older to summarise
    ("uaua", 4, 0),
    ("uaua", 9, 0),  # more kept than there are
    ("ua", 2, 0),
    ("", 2, 0),
    ("uauaua", 2, 4),
    ("uauaua", 3, 2),
    ("uatatua", 2, 5),
    ("uatatua", 3, 0),  # a call and its results are never split from their question
    ("uatauua", 2, 5),  # two questions in a row: either may start the kept ones
    ("uatauua", 3, 4),
    ("uatauua", 4, 0),
    ("auaua", 4, 1),
    ("auaua", 5, 0),
])
def test_the_kept_messages_start_at_a_user_message(spec: str, keep: int, cut: int) -> None:
    messages = roles(spec)
    assert split_point(messages, keep) == cut
    assert cut == 0 or messages[cut].role == "user"


def history() -> list[Message]:
    return [
        Message("user", "q1", id="m1"), Message("assistant", "a1", id="m2"),
        Message("user", "q2", id="m3"),
        Message("assistant", "", id="m4", tool_calls=[ToolCall("c1", "read", "{}")]),
        Message("tool", "r", id="m5", tool_call_id="c1"), Message("assistant", "a2", id="m6"),
        Message("user", "q3", id="m7"), Message("assistant", "a3", id="m8"),
    ]


def make(system: str | None = "Be brief.", provider: FakeProvider | None = None) -> ChatSession:
    return ChatSession(provider or FakeProvider([]), "model-x", Conversation(system=system, messages=history()),
                       options={"temperature": 0.25}, max_tool_rounds=3, save_every=7.0)


async def test_the_summary_request_holds_the_older_messages_and_the_instruction() -> None:
    provider = FakeProvider([ReasoningDelta("hmm"), ContentDelta("  The user "), ContentDelta("asked."),
                             ContentDelta("\n"), Usage(10, 2, 12), Finish("stop", "stop")])
    session = make(provider=provider)
    recorder = SpyRecorder()
    session.recorder = recorder
    assert await summarise(session) == "The user asked."
    [request] = provider.requests
    assert request.model == "model-x" and request.system == "Be brief." and request.options == {"temperature": 0.25}
    sent = [(m["role"], m.get("content")) for m in request.messages]
    assert sent == [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", None), ("tool", "r"),
                    ("assistant", "a2"), ("user", COMPACT_PROMPT)]
    assert len(session.conversation.messages) == 8 and recorder.calls == []  # nothing added, nothing stored


async def test_the_summary_of_fewer_older_messages_with_more_kept() -> None:
    provider = FakeProvider([ContentDelta("s")])
    session = make(provider=provider)
    assert await summarise(session, keep=4) == "s"
    assert [m.get("content") for m in provider.requests[0].messages] == ["q1", "a1", COMPACT_PROMPT]


async def test_nothing_to_summarise_is_refused_without_a_request() -> None:
    provider = FakeProvider([ContentDelta("s")])
    session = ChatSession(provider, "m", Conversation(messages=[Message("user", "q"), Message("assistant", "a")]))
    with pytest.raises(ValueError, match="^there is nothing older than the last exchange to summarise$"):
        await summarise(session)
    session = make(provider=provider)
    with pytest.raises(ValueError, match="^there is nothing older than the last exchange to summarise$"):
        await summarise(session, keep=7)
    assert provider.requests == []


def test_the_compacted_session_carries_the_summary_and_the_kept_messages() -> None:
    session = make()
    recorder = SpyRecorder()
    fork = compacted(session, "they talked", recorder)
    assert fork.conversation.system == f"Be brief.\n\n{SUMMARY_HEADING}\nthey talked"
    assert [m.content for m in fork.conversation.messages] == ["q3", "a3"]
    # copies, stored as a new conversation; the original keeps every message
    assert all(m.id is None for m in fork.conversation.messages)
    assert [m.id for m in session.conversation.messages] == [f"m{i}" for i in range(1, 9)]
    assert not any(a is b for a in fork.conversation.messages for b in session.conversation.messages)
    assert [c[1].content for c in recorder.calls if c[0] == "user"] == ["q3", "a3"]
    assert fork.recorder is recorder
    assert (fork.model, fork.provider, fork.options, fork.max_tool_rounds, fork.save_every) == (
        "model-x", session.provider, {"temperature": 0.25}, 3, 7.0)


def test_compacting_without_a_system_prompt_or_with_more_kept() -> None:
    fork = compacted(make(system=None), "S", keep=5)
    assert fork.conversation.system == f"{SUMMARY_HEADING}\nS"
    assert [m.content for m in fork.conversation.messages] == ["q2", "", "r", "a2", "q3", "a3"]
    assert fork.recorder.conversation_id is None  # no recorder given: nothing stored
    assert compacted(make(system=""), "S").conversation.system == f"{SUMMARY_HEADING}\nS"


async def approve_all(tool: object, arguments: object) -> bool:
    return True


def test_the_compacted_session_keeps_every_setting_of_the_session() -> None:
    tools = ToolRegistry([Tool("t", "A tool.", handler=lambda _a: "x")])
    limits = ToolLimits(max_calls=3, max_results_chars=50)

    def clock() -> float:
        return 0.0

    session = ChatSession(FakeProvider([]), "model-x", Conversation(messages=history()), tools=tools,
                          approve=approve_all, tool_limits=limits, text="until_taken", fold_text=False, clock=clock,
                          max_tool_rounds=4, save_every=3.0)
    fork = compacted(session, "S")
    assert (fork.tools, fork.approve, fork.tool_limits, fork.text, fork.fold_text, fork.clock) == (
        tools, approve_all, limits, "until_taken", False, clock)
    assert (fork.max_tool_rounds, fork.save_every) == (4, 3.0)
