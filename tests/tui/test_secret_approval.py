"""In the session, a read-only tool call of a secret location asks first and says why (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from llmchat.chat.builtin_tools import read_file_tool
from llmchat.chat.tools import ToolRegistry
from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta
from llmchat.tui.screens.approve import ToolApprovalScreen
from llmchat.tui.screens.chat import ChatScreen
from tests.tui.conftest import OpenChat
from tests.tui.helpers import send, wait_until

READS_KEY = [ToolCallDelta(0, "c1", "read_file", '{"path": ".ssh/id_rsa"}'), Finish("tool_calls", "tool_calls")]
ANSWER = [ContentDelta("ok"), Finish("stop", "stop")]


@pytest.mark.parametrize("key", ["n", "y"])
async def test_a_secret_read_shows_the_modal_with_the_reason(tmp_path: Path, open_chat: OpenChat, key: str) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    tools = ToolRegistry([read_file_tool(tmp_path)])
    async with open_chat(READS_KEY, ANSWER, registry=tools, history=tmp_path / "h.db") as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "read my key")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        description = app.screen.query_one("#approve-description", Static)
        assert "SSH keys (.ssh)" in str(description.render())
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and not screen.streaming)
        result = screen.conversation.messages[2].content
        if key == "n":
            assert "denied" in result and "PRIVATE KEY" not in result
        else:
            assert "PRIVATE KEY" in result
