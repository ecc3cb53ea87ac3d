"""MCP in the session, with the test MCP server over stdio (a real subprocess): approval, the
result block, Escape cancelling a running call on the server, the /mcp screen, and no server
left running after the app ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log, SelectionList

from llmchat.providers.events import ContentDelta, Finish, ToolCallDelta, Usage
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.approve import ToolApprovalScreen
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.mcp import McpScreen
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.tool_call_view import ToolCallView
from tests.fakes import FakeProvider
from tests.mcp.conftest import pid_alive, stdio_entry, wait_for, write_mcp_json
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, send, wait_until

@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The test server's directory (its pid, notes and cancellation marks)."""
    path = tmp_path / "mcp-work"
    path.mkdir()
    return path


START = 45.0  # seconds the server may take to start on a loaded machine (a bound, not a goal)


def calls(name: str, arguments: str) -> list[object]:
    return [ToolCallDelta(0, "c1", name, ""), ToolCallDelta(0, None, None, arguments),
            Usage(5, 3, 8), Finish("tool_calls", "tool_calls")]


ANSWER = [ContentDelta("Done."), Usage(9, 2, 11), Finish("stop", "stop")]


def app_for(tmp_path: Path, work: Path, provider: FakeProvider, *, on: tuple[str, ...] = ("test",)) -> LlmChatApp:
    config = write_mcp_json(tmp_path / "mcp.json", {"test": stdio_entry(work)})
    return LlmChatApp(fake_settings(), provider=provider, theme_dirs=THEME_DIRS, history=tmp_path / "h.db",
                      mcp=on, mcp_config=str(config))


async def test_an_mcp_tool_asks_approval_and_shows_its_result(tmp_path: Path, work: Path) -> None:
    provider = FakeProvider(calls("test__write_note", '{"text": "from the session"}'), ANSWER)
    app = app_for(tmp_path, work, provider)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "write it")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen), timeout=START)
        assert "test__write_note" in str(app.screen.tool_name)
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen) and not screen.streaming, timeout=START)
        assert (work / "note.txt").read_text() == "from the session"
        block = screen.query_one(ToolCallView)
        assert "test__write_note" in str(block.title) and "✓" in str(block.title)
        first, second = provider.requests
        assert "test__echo" in {t["function"]["name"] for t in first.tools}
        assert second.messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "written"}
        assert screen.conversation.messages[-1].content == "Done."
        pid = int((work / "pid").read_text())
    wait_for(lambda: not pid_alive(pid), what="the server to stop with the app")


async def test_escape_cancels_a_running_mcp_call(tmp_path: Path, work: Path) -> None:
    provider = FakeProvider(calls("test__slow", '{"seconds": 60}'), ANSWER)
    app = app_for(tmp_path, work, provider)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "go slow")
        await wait_until(pilot, (work / "slow-started").exists, timeout=START)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.streaming, timeout=START)
        assert str(screen.query_one(ToolCallView).title).startswith("■")
        assert len(provider.requests) == 1
        assert "cancelled" in screen.conversation.messages[-1].content
        await wait_until(pilot, (work / "slow-cancelled").exists, timeout=START)  # notifications/cancelled


async def test_the_mcp_screen_switches_tools_and_shows_the_log(tmp_path: Path, work: Path) -> None:
    provider = FakeProvider(ANSWER)
    app = app_for(tmp_path, work, provider, on=())  # nothing on at start: /mcp switches it on
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "/mcp")
        await wait_until(pilot, lambda: isinstance(app.screen, McpScreen))
        mcp_screen = app.screen
        box = mcp_screen.query_one(SelectionList)
        assert box.selected == []
        box.highlighted = 0
        await pilot.press("space")  # the server on: it starts now
        await wait_until(pilot, lambda: "running, 6 tools" in str(box.get_option_at_index(0).prompt), timeout=START)
        values = [box.get_option_at_index(i).value for i in range(box.option_count)]
        box.highlighted = values.index("tool:test__slow")
        await pilot.press("space")  # one tool off
        assert "test server starting" in "\n".join(mcp_screen.query_one(Log).lines)
        await pilot.press("escape")
        await send(pilot, "hi")
        await wait_until(pilot, lambda: not screen.streaming and provider.requests)
        offered = {t["function"]["name"] for t in provider.requests[0].tools}
        assert "test__echo" in offered and "test__slow" not in offered


async def test_an_mcp_prompt_is_a_slash_command(tmp_path: Path, work: Path) -> None:
    provider = FakeProvider(ANSWER)
    app = app_for(tmp_path, work, provider)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await wait_until(pilot, lambda: screen.mcp is not None and screen.mcp.prompt_commands(), timeout=START)
        prompt = screen.query_one(PromptInput)
        await wait_until(pilot, lambda: "/test.greet" in prompt.completions)
        await send(pilot, "/test.greet Ada Lovelace")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming, timeout=START)
        assert provider.requests[0].messages[-1] == {"role": "user", "content": "Say hello to Ada Lovelace."}
        await send(pilot, "/test.greet")  # a required argument is missing: said, nothing is sent
        await wait_until(pilot, lambda: any("missing name: use /test.greet NAME" in n.message
                                            for n in app._notifications))
        assert len(provider.requests) == 1 and not screen.streaming


async def test_an_mcp_resource_is_attached_with_an_at_mention(tmp_path: Path, work: Path) -> None:
    provider = FakeProvider(ANSWER)
    app = app_for(tmp_path, work, provider)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        prompt = screen.query_one(PromptInput)
        await wait_until(pilot, lambda: "@test:note://readme" in prompt.mentions, timeout=START)
        prompt.insert("What does @test:no")
        await wait_until(pilot, lambda: prompt.suggestion == "te://readme")
        await pilot.press("right")
        assert prompt.text == "What does @test:note://readme"
        prompt.insert(" say?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: provider.requests and not screen.streaming, timeout=START)
        sent = provider.requests[0].messages[-1]["content"]
        assert sent.startswith("What does @test:note://readme say?")
        assert "note://readme:\n```\nThe secret word is heron.\n```" in sent
