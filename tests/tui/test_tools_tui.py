"""Tools in the session: call blocks with results, the approval modal, Escape."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llmchat.chat.tools import Tool, ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta, Usage
from llmchat.tui.screens.approve import ToolApprovalScreen
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.tool_call_view import ToolCallView
from tests.tui.conftest import OpenChat
from tests.tui.helpers import send, wait_until

ASKS_FOR = [ToolCallDelta(0, "c1", "shout", ""), ToolCallDelta(0, None, None, '{"text": '),
            ToolCallDelta(0, None, None, '"hi"}'), Usage(5, 3, 8), Finish("tool_calls", "tool_calls")]
ANSWER = [ContentDelta("Done: HI"), Usage(9, 2, 11), Finish("stop", "stop")]


def registry(ran: list[dict[str, Any]], *, read_only: bool) -> ToolRegistry:
    async def shout(arguments: dict[str, Any]) -> str:
        ran.append(arguments)
        return str(arguments["text"]).upper()

    return ToolRegistry([Tool("shout", "Upper-case a text", {"type": "object"}, handler=shout, read_only=read_only)])


async def test_read_only_tool_runs_and_shows_its_block(tmp_path: Path, open_chat: OpenChat) -> None:
    ran: list[dict[str, Any]] = []
    async with open_chat(ASKS_FOR, ANSWER, registry=registry(ran, read_only=True), history=tmp_path / "h.db") as chat:
        app, pilot, screen, provider = chat.app, chat.pilot, chat.screen, chat.provider
        await send(pilot, "shout hi")
        await app.workers.wait_for_complete()
        block = screen.query_one(ToolCallView)
        assert "shout" in str(block.title) and "✓" in str(block.title)
        assert ran == [{"text": "hi"}]
        assert [m.role for m in screen.conversation.messages] == ["user", "assistant", "tool", "assistant"]
        assert screen.conversation.messages[-1].content == "Done: HI"
        second = provider.requests[1].messages
        assert second[-1] == {"role": "tool", "tool_call_id": "c1", "content": "HI"}
        assert screen.query_one("#sidebar-rounds").display


async def test_a_tool_that_writes_asks_first(tmp_path: Path, open_chat: OpenChat) -> None:
    ran: list[dict[str, Any]] = []
    for key, expected in (("y", [{"text": "hi"}]), ("n", [])):
        ran.clear()
        tools = registry(ran, read_only=False)
        async with open_chat(ASKS_FOR, ANSWER, registry=tools, history=tmp_path / f"{key}.db") as chat:
            app, pilot, screen = chat.app, chat.pilot, chat.screen
            await send(pilot, "shout hi")
            await wait_until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
            await pilot.press(key)
            await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and not screen.streaming)
            assert ran == expected
            result = screen.conversation.messages[2].content
            assert result == "HI" if key == "y" else "denied" in result


async def test_escape_stops_the_whole_loop_during_a_tool(tmp_path: Path, open_chat: OpenChat) -> None:
    started = asyncio.Event()

    async def slow(arguments: dict[str, Any]) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    tools = ToolRegistry([Tool("shout", "slow", {"type": "object"}, handler=slow, read_only=True)])
    async with open_chat(ASKS_FOR, ANSWER, registry=tools, history=tmp_path / "h.db") as chat:
        pilot, screen, provider = chat.pilot, chat.screen, chat.provider
        await send(pilot, "go")
        await wait_until(pilot, started.is_set)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.streaming)
        assert len(provider.requests) == 1  # the loop did not go on
        assert str(screen.query_one(ToolCallView).title).startswith("■")
        assert [m.role for m in screen.conversation.messages] == ["user", "assistant", "tool"]
        assert "cancelled" in screen.conversation.messages[-1].content
        assert screen.store is not None and screen.recorder.conversation_id is not None
        _, stored = screen.store.load_conversation(screen.recorder.conversation_id)
        assert [(m.role, m.finish_reason) for m in stored.messages] == [
            ("user", None), ("assistant", "tool_calls"), ("tool", None)]  # the cancelled call's result too
        assert "cancelled" in stored.messages[-1].content
