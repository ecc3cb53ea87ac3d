"""The session (TUI) with the Responses and Gemini providers over the loopback server: the
reply, its reasoning, finish reason and usage reach the screen and the conversation."""

from __future__ import annotations

import pytest

from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp
from tests.loopback import LoopbackServer, Reply
from tests.streams import gemini_stream, gemini_usage, responses_stream, responses_usage
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, message_views, send, sidebar_rows, wait_until


@pytest.mark.parametrize("provider", ["openai-responses", "gemini"])
async def test_a_reply_streams_into_the_session(server: LoopbackServer, provider: str) -> None:
    if provider == "gemini":
        body = gemini_stream(["Hel", "lo ", "there"], thoughts=["pondering"], usage=gemini_usage(5, 3))
    else:
        body = responses_stream(["Hel", "lo ", "there"], reasoning=["pondering"], usage=responses_usage(5, 3))
    server.handler = lambda _r: Reply(parts=[body])
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test",
           "GEMINI_BASE_URL": f"http://127.0.0.1:{server.port}", "GEMINI_API_KEY": "g-test"}
    app = LlmChatApp(load_settings(None, env, provider=provider), theme_dirs=THEME_DIRS)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: screen.conversation.messages[-1].finish_reason == "stop")
        await app.workers.wait_for_complete()
        await pilot.pause()
        reply = screen.conversation.messages[-1]
        assert (reply.content, reply.reasoning) == ("Hello there", "pondering")
        assert reply.usage is not None and reply.usage.total_tokens == 8
        assert sidebar_rows(pilot)["Finish"] == "stop"
        assert message_views(pilot)[-1].role == "assistant"
    path = [r for r in server.requests if r.method == "POST"][0].path  # (GETs: the context window)
    assert path.endswith("/responses") if provider == "openai-responses" else ":streamGenerateContent" in path
