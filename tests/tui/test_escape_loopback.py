"""End to end: the real OpenAIProvider over the loopback server, driven through the TUI.

Escape in the middle of a stalled stream must drop the HTTP connection (the server sees the
client leave), keep the partial text and mark the reply cancelled.
"""

from __future__ import annotations

import asyncio

from llmchat.config import load_settings
from llmchat.providers.openai import OpenAIProvider
from llmchat.tui.app import LlmChatApp
from tests.loopback import LoopbackServer, Reply, Request, chunk, sse
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, message_views, send, sidebar_rows, wait_until


def make_app(server: LoopbackServer) -> LlmChatApp:
    settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test"})
    return LlmChatApp(settings, theme_dirs=THEME_DIRS)


async def test_escape_drops_the_connection_and_keeps_the_partial_reply(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        return Reply(parts=[
            sse(chunk("", role=True), done=False),
            sse(chunk("Hello"), done=False),
            sse(chunk(" from the"), done=False),
            sse(chunk(" loopback"), done=False),
            30.0,  # stall: only Escape ends this test in time
            sse(chunk(" and more"), chunk(finish="stop"), chunk(empty_choices=True, usage={
                "prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})),
        ])

    server.handler = handler
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        assert isinstance(screen.provider, OpenAIProvider)
        await send(pilot, "stream please")
        await wait_until(
            pilot, lambda: screen.accumulator is not None
            and screen.accumulator.content == "Hello from the loopback",
        )
        assert screen.streaming is True
        assert not server.disconnected.is_set()

        await pilot.press("escape")
        # Wait in a thread: the app's event loop must keep running to close the stream. Set
        # only if the client left before the reply's end (after a 30 s stall).
        left = await asyncio.to_thread(server.disconnected.wait, 20)
        assert left, "the server did not see the client leave"
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert screen.streaming is False
        rows = sidebar_rows(pilot)
        assert rows["State"] == "cancelled"
        assert rows["Finish"] == "cancelled"
        assistant = message_views(pilot)[-1]
        assert assistant.role == "assistant"
        assert assistant.body.source == "Hello from the loopback"  # type: ignore[union-attr]
        assert assistant.has_class("-cancelled")
        stored = screen.conversation.messages[-1]
        assert stored.finish_reason == "cancelled"
        assert stored.content == "Hello from the loopback"
        assert stored.usage is None

        sent = [r for r in server.requests if r.method == "POST"]  # (GETs: the model's context window)
        assert len(sent) == 1
        body = sent[0].json()
        assert body["stream"] is True
        assert body["messages"] == [{"role": "user", "content": "stream please"}]
        assert sent[0].headers["authorization"] == "Bearer sk-test"


async def test_full_stream_shows_finish_and_usage(server: LoopbackServer) -> None:
    # The default handler streams "Hello, world!" in four tokens with usage 7 + 4 = 11.
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat_screen(pilot)
        await send(pilot, "hi")
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert screen.accumulator is not None
        stats = screen.accumulator.stats()
        assert stats.state == "done"
        assert stats.finish_reason == "stop"
        assert stats.usage is not None
        assert (stats.usage.input_tokens, stats.usage.output_tokens, stats.usage.total_tokens) == (7, 4, 11)

        rows = sidebar_rows(pilot)
        assert rows["State"] == "done"
        assert rows["Finish"] == "stop"
        assert rows["Input"] == "7"
        assert rows["Output"] == "4"
        assert rows["Total"] == "11"
        assert message_views(pilot)[-1].body.source == "Hello, world!"  # type: ignore[union-attr]
        assert not server.disconnected.is_set()

        # A follow-up carries the whole conversation over the wire.
        await send(pilot, "again")
        await app.workers.wait_for_complete()
        assert [r for r in server.requests if r.method == "POST"][1].json()["messages"] == [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello, world!"},
            {"role": "user", "content": "again"},
        ]
