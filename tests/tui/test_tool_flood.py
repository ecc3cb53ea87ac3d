"""A reply with a flood of tool calls: 32 run and show blocks, the rest are one notification."""

from __future__ import annotations

from pathlib import Path

from llmchat.chat.builtin_tools import read_file_tool
from llmchat.chat.toollimits import ToolLimits
from llmchat.chat.tools import ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from llmchat.tui.widgets.tool_call_view import ToolCallView
from tests.tui.conftest import OpenChat
from tests.tui.helpers import send


async def test_calls_past_the_cap_are_one_notification_not_a_block_each(tmp_path: Path, open_chat: OpenChat) -> None:
    (tmp_path / "a.txt").write_text("a")
    flood = [ToolCallDelta(i, f"c{i}", "read_file", '{"path": "a.txt"}') for i in range(200)]
    async with open_chat(flood + [Finish("tool_calls", "tool_calls")], [ContentDelta("ok"), Finish("stop", "stop")],
                         registry=ToolRegistry([read_file_tool(tmp_path)]), history=tmp_path / "h.db") as chat:
        chat.screen.session.tool_limits = ToolLimits(max_calls=3)
        await send(chat.pilot, "go")
        await chat.app.workers.wait_for_complete()
        assert len(chat.screen.query(ToolCallView)) == 3
        tool_messages = [m for m in chat.screen.conversation.messages if m.role == "tool"]
        assert len(tool_messages) == 200 and "at most 3 tool calls" in tool_messages[-1].content
        notes = [n.message for n in chat.app._notifications]
        assert sum("Some tool calls were not run: at most 3 tool calls" in n for n in notes) == 1
