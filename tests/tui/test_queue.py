"""Messages sent while a reply streams are queued, shown marked, and sent in order after it;
after Escape or an error they go back to the prompt instead."""

from __future__ import annotations

import asyncio
from typing import Any

from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.errors import AuthenticationError
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.tool_call_view import ToolCallView
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    chat_screen,
    message_views,
    plain_text,
    send,
    wait_until,
)


def notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def user_texts(request: Any) -> list[str]:
    return [m["content"] for m in request.messages if m["role"] == "user"]


async def streaming_with_gate(pilot, gate: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    """Send "first" and wait until its reply is streaming (held open by `gate`)."""
    screen = chat_screen(pilot)
    await send(pilot, "first")
    await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.content == "a1 ")


async def test_two_messages_typed_while_streaming_are_sent_in_order_after_the_reply(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("a1 "), gate, ContentDelta("done"), Finish("stop", "stop")],
                            [ContentDelta("a2"), Finish("stop", "stop")],
                            [ContentDelta("a3"), Finish("stop", "stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await streaming_with_gate(pilot, gate)
        await send(pilot, "second")
        await send(pilot, "third")
        await pilot.pause()
        assert len(provider.requests) == 1
        assert screen.query_one(PromptInput).text == ""
        views = message_views(pilot)
        assert [(v.role, v.queued) for v in views] == [
            ("user", False), ("assistant", False), ("user", True), ("user", True)]
        assert "queued" in plain_text(views[2].header)
        assert [m.content for m in screen.conversation.messages] == ["first"]  # not sent yet

        gate.set()
        await wait_until(pilot, lambda: len(provider.requests) == 3 and not screen.streaming and not screen.queue)
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert user_texts(provider.requests[1]) == ["first", "second"]
        assert user_texts(provider.requests[2]) == ["first", "second", "third"]
        assert [m.content for m in screen.conversation.messages] == ["first", "a1 done", "second", "a2", "third", "a3"]
        views = message_views(pilot)
        assert [v.role for v in views] == ["user", "assistant"] * 3  # each answer under its question
        assert not any(v.queued for v in views)
        assert "queued" not in plain_text(views[2].header)


async def test_escape_puts_the_queued_messages_back_in_the_prompt_before_the_draft(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("a1 "), gate, Finish("stop", "stop")], [ContentDelta("a2"), Finish("stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await streaming_with_gate(pilot, gate)
        await send(pilot, "second")
        await send(pilot, "third")
        prompt = screen.query_one(PromptInput)
        prompt.insert("a draft")
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: prompt.text == "second\n\nthird\n\na draft")
        assert not screen.queue
        assert len(provider.requests) == 1  # nothing more was sent
        assert [v.role for v in message_views(pilot)] == ["user", "assistant"]
        assert message_views(pilot)[1].has_class("-cancelled")
        assert any("2 queued messages are back in the prompt" in n for n in notes(app))
        await pilot.press("enter")  # sends them now, as one message
        await wait_until(pilot, lambda: len(provider.requests) == 2)
        assert user_texts(provider.requests[1])[-1] == "second\n\nthird\n\na draft"
        await app.workers.wait_for_complete()


async def test_a_provider_error_puts_the_queue_back_instead_of_sending_it(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("a1 "), gate, AuthenticationError("bad key", status=401)])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await streaming_with_gate(pilot, gate)
        await send(pilot, "second")
        gate.set()
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: screen.query_one(PromptInput).text == "second")
        assert len(provider.requests) == 1
        assert not screen.queue and len(message_views(pilot)) == 2


async def test_ctrl_n_puts_the_queue_back_too(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    async with open_chat(FakeProvider([ContentDelta("a1 "), gate, Finish("stop", "stop")])) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await streaming_with_gate(pilot, gate)
        await send(pilot, "second")
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: screen.query_one(PromptInput).text == "second")
        assert not screen.queue and not message_views(pilot)
        assert screen.conversation.messages == []


async def test_slash_commands_run_at_once_while_a_reply_streams(open_chat: OpenChat) -> None:
    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("a1 "), gate, Finish("stop", "stop")],
                            [ContentDelta("a2"), Finish("stop", "stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await streaming_with_gate(pilot, gate)
        await send(pilot, "/model other-model")
        await send(pilot, "second")
        await send(pilot, "/retry")  # would drop the reply that streams: refused
        await pilot.pause()
        assert screen.model == "other-model" and screen.streaming
        assert len(screen.queue) == 1
        assert any("still streaming" in n for n in notes(app))
        gate.set()
        await wait_until(pilot, lambda: len(provider.requests) == 2 and not screen.streaming and not screen.queue)
        assert provider.requests[0].model != "other-model"
        assert provider.requests[1].model == "other-model"  # the queued message uses the new model
        await app.workers.wait_for_complete()


async def test_a_queued_message_waits_for_the_whole_tool_loop(open_chat: OpenChat) -> None:
    async def shout(arguments: dict[str, Any]) -> str:
        return str(arguments["text"]).upper()

    gate = asyncio.Event()
    provider = FakeProvider(
        [ToolCallDelta(0, "c1", "shout", '{"text": "hi"}'), gate, Finish("tool_calls", "tool_calls")],
        [ContentDelta("Done: HI"), Finish("stop", "stop")],
        [ContentDelta("a2"), Finish("stop", "stop")],
    )
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        screen.registry = ToolRegistry([Tool("shout", "Upper-case", {"type": "object"}, handler=shout,
                                             read_only=True)])
        await send(pilot, "shout hi")
        await wait_until(pilot, lambda: screen.streaming and len(provider.requests) == 1)
        await send(pilot, "second")
        gate.set()
        await wait_until(pilot, lambda: len(provider.requests) == 3 and not screen.streaming and not screen.queue)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert provider.requests[1].messages[-1]["role"] == "tool"  # the loop went on first
        assert user_texts(provider.requests[2])[-1] == "second"
        children = [c for c in screen.query_one("#transcript").children if isinstance(c, MessageView | ToolCallView)]
        kinds = [c.role if isinstance(c, MessageView) else "call" for c in children]
        # the tool round's widgets stay above the queued message
        assert kinds == ["user", "assistant", "call", "assistant", "user", "assistant"]
