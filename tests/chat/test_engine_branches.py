"""Branches in the conversation engine (issue 21 part 3), against a real loopback server and a
real history store: regenerate and edit make siblings, switching follows another path, and a
later session (``ask -c``) goes on from the current leaf."""

from __future__ import annotations

import json

import httpx
import pytest

from llmchat.chat.engine import ChatSession
from llmchat.store import Store
from tests.chat.test_engine import client, make_session, run, store, stored  # noqa: F401
from tests.loopback import LoopbackServer, Reply, Request, completion


def echo(server: LoopbackServer) -> None:
    """Answer each request with its last message upper-cased and the request's number."""

    def answer(request: Request) -> Reply:
        return Reply(parts=[completion([f"{request.json()['messages'][-1]['content'].upper()}#{len(server.requests)}"])])

    server.handler = answer


def contents(session: ChatSession) -> list[str]:
    return [m.content for m in session.conversation.messages]


async def test_regenerate_keeps_the_old_answer_as_a_sibling(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    echo(server)
    session = make_session(server, client, store)
    await run(session.send("q"))
    first = session.conversation.messages[-1]
    await run(session.regenerate())
    second = session.conversation.messages[-1]
    assert contents(session) == ["q", "Q#2"]
    assert server.requests[1].json()["messages"] == [{"role": "user", "content": "q"}]
    assert session.branches(second) == (2, 2) and session.branches(first) == (1, 2)
    assert session.branches(session.conversation.messages[0]) == (1, 1)
    assert [c for _, c, _ in stored(store, session)] == ["q", "Q#2"]
    # Switch back to the first answer: the conversation (and the stored path) follow it.
    session.switch_branch(second, 1)
    assert contents(session) == ["q", "Q#1"]
    assert [c for _, c, _ in stored(store, session)] == ["q", "Q#1"]
    # Going on from there continues that branch, and it is what is sent.
    await run(session.send("more"))
    assert server.requests[-1].json()["messages"][1] == {"role": "assistant", "content": "Q#1"}
    assert [c for _, c, _ in stored(store, session)] == ["q", "Q#1", "more", "MORE#3"]
    assert store.siblings(first.id or "") == [first.id, second.id]


async def test_editing_an_earlier_question_makes_a_sibling_branch(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    echo(server)
    session = make_session(server, client, store)
    for text in ("one", "two", "three"):
        await run(session.send(text))
    old_two = session.conversation.messages[2]
    await run(session.edit("deux", index=2))
    assert contents(session) == ["one", "ONE#1", "deux", "DEUX#4"]
    assert [m["content"] for m in server.requests[-1].json()["messages"]] == ["one", "ONE#1", "deux"]
    new_two = session.conversation.messages[2]
    assert session.branches(new_two) == (2, 2)
    # The old branch is whole: switching to it brings back its questions and answers.
    session.switch_branch(new_two, 1)
    assert contents(session) == ["one", "ONE#1", "two", "TWO#2", "three", "THREE#3"]
    assert session.conversation.messages[2].id == old_two.id
    session.switch_branch(session.conversation.messages[2], 2)
    assert contents(session) == ["one", "ONE#1", "deux", "DEUX#4"]
    # Editing the first question makes a new root.
    await run(session.edit("uno", index=0))
    assert contents(session) == ["uno", "UNO#5"]
    assert session.branches(session.conversation.messages[0]) == (2, 2)
    assert len(store.tree_edges(session.recorder.conversation_id or "")) == 10


async def test_edit_and_switch_refuse_what_they_cannot_do(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    echo(server)
    session = make_session(server, client, store)
    await run(session.send("q"))
    with pytest.raises(ValueError, match="not a user message"):
        session.edit("x", index=1)
    with pytest.raises(ValueError, match="no branch 3"):
        session.switch_branch(session.conversation.messages[1], 3)
    assert contents(session) == ["q", "Q#1"] and len(server.requests) == 1
    loose = make_session(server, client)  # history off: one branch, nothing to switch to
    await run(loose.send("q"))
    assert loose.branches(loose.conversation.messages[1]) == (1, 1)
    with pytest.raises(ValueError, match="no branch 2"):
        loose.switch_branch(loose.conversation.messages[1], 2)


async def test_a_later_session_continues_the_current_path(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    echo(server)
    session = make_session(server, client, store)
    await run(session.send("q"))
    await run(session.regenerate())
    session.switch_branch(session.conversation.messages[1], 1)
    cid = session.recorder.conversation_id
    assert cid is not None
    # What `ask -c` does: load the conversation (its current path) and go on with it.
    _, history = store.load_conversation("latest")
    assert [m.content for m in history.messages] == ["q", "Q#1"]
    later = make_session(server, client, store)
    later.resume(history, cid)
    await run(later.send("next"))
    assert [m["content"] for m in server.requests[-1].json()["messages"]] == ["q", "Q#1", "next"]
    assert [c for _, c, _ in stored(store, later)] == ["q", "Q#1", "next", "NEXT#3"]
    assert len(store.siblings(history.messages[1].id or "")) == 2  # the other answer stays


async def test_an_edited_question_keeps_its_attachments(
    server: LoopbackServer, client: httpx.AsyncClient, store: Store
) -> None:
    from llmchat.chat.models import Attachment

    echo(server)
    session = make_session(server, client, store)
    await run(session.send("q"))
    note = Attachment("note.txt", "text/plain", b"hello\n", "hello\n")
    await run(session.edit("q with a note", index=0, attachments=[note]))
    edited = session.conversation.messages[0]
    assert [a.name for a in edited.attachments] == ["note.txt"]
    _, loaded = store.load_conversation(session.recorder.conversation_id or "")
    assert [a.name for a in loaded.messages[0].attachments] == ["note.txt"]
    assert "note.txt" in json.dumps(server.requests[-1].json()["messages"][0])
