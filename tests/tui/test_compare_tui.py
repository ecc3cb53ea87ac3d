"""/compare in the session (issue 16): one message to several models, the replies side by side.

The three-provider tests run the real OpenAI, Anthropic and Ollama providers against three
loopback servers (tests/loopback.py) and the app's real history store; the others use the
FakeProvider. Every wait is on a condition (tests/tui/helpers.py ``wait_until``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmchat.config import load_settings
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.screens.chat_compare import PENDING_ID
from llmchat.tui.screens.compare_picker import CompareModelsScreen
from llmchat.tui.widgets.compare_view import CompareView
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.compare_support import (
    NDJSON,
    anthropic_events,
    anthropic_reply,
    ollama_dropped,
    ollama_lines,
    openai_reply,
)
from tests.fakes import FakeProvider
from tests.loopback import LoopbackServer, Reply, Request, chunk, json_reply, sse
from tests.tui.conftest import OpenChat
from tests.tui.helpers import THEME_DIRS, chat_screen, plain_text, send, wait_until

SIZE = (160, 48)
Handler = Callable[[Request], Reply]


class Servers:
    """One loopback server per provider; each answers its chat requests with `replies` in
    order (the last one repeats) and anything else with a 404."""

    def __init__(self) -> None:
        self.openai = LoopbackServer().start()
        self.anthropic = LoopbackServer().start()
        self.ollama = LoopbackServer().start()

    def script(self, server: LoopbackServer, *replies: Reply) -> None:
        chats: list[Request] = []

        def handler(request: Request) -> Reply:
            if request.method != "POST" or not request.path.endswith(("/chat/completions", "/v1/messages",
                                                                       "/api/chat")):
                return json_reply(404, {"error": "not here"})
            chats.append(request)
            return replies[min(len(chats), len(replies)) - 1]

        server.handler = handler

    def chats(self, server: LoopbackServer) -> list[Request]:
        return [r for r in server.requests if r.method == "POST" and "/api/show" not in r.path]

    def stop(self) -> None:
        for server in (self.openai, self.anthropic, self.ollama):
            server.stop()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    """Three providers on three loopback servers, their keys and URLs in the environment (the
    session makes a compared provider from its name, as ``/provider`` does)."""
    found = Servers()
    monkeypatch.setenv("OPENAI_BASE_URL", found.openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{found.anthropic.port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{found.ollama.port}")
    yield found
    found.stop()


def real_app() -> LlmChatApp:
    import os

    return LlmChatApp(load_settings(None, dict(os.environ)), theme_dirs=THEME_DIRS)


def compare_view(screen: ChatScreen) -> CompareView:
    return screen.query_one(CompareView)


async def compare_three(pilot: Any, question: str) -> tuple[ChatScreen, CompareView]:
    """``/compare`` the session's model, claude-x and llama3:8b, then send `question`."""
    screen = chat_screen(pilot)
    await send(pilot, "/compare gpt-4o-mini anthropic:claude-x ollama:llama3:8b")
    await wait_until(pilot, lambda: screen.compare_pending is not None)
    await send(pilot, question)
    await wait_until(pilot, lambda: bool(screen.query(CompareView)))
    return screen, compare_view(screen)


def gate(event: threading.Event) -> Callable[[], int]:
    """A reply part that holds the stream until `event` is set (30 s at most), in the server's thread."""
    return lambda: (event.wait(30), 0)[1]


async def test_three_providers_one_fails_mid_stream_then_a_pick_goes_on_from_it(servers: Servers) -> None:
    servers.script(servers.openai, openai_reply("Alpha", " says", " hi."))
    servers.script(servers.anthropic, anthropic_reply("Bravo", " says", " hello."), anthropic_reply("Again", "."))
    servers.script(servers.ollama, ollama_dropped("Charlie", " was"))
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, view = await compare_three(pilot, "Which one?")
        await wait_until(pilot, lambda: view.ended and not screen.streaming)
        alpha, bravo, charlie = view.columns
        assert [c.label for c in view.columns] == ["openai/gpt-4o-mini", "anthropic/claude-x", "ollama/llama3:8b"]
        assert alpha.body.source == "Alpha says hi." and alpha.message is not None
        assert alpha.message.finish_reason == "stop"
        assert bravo.body.source == "Bravo says hello." and bravo.message is not None
        assert bravo.message.finish_reason == "stop"
        # the failure stays in its column: its partial text, marked, and what failed
        assert charlie.body.source == "Charlie was"
        assert charlie.message is not None and charlie.message.finish_reason == "error"
        assert charlie.has_class("-error") and not alpha.has_class("-error")
        assert plain_text(charlie.status).startswith("✖ ") and len(plain_text(charlie.status)) > 4
        assert plain_text(charlie.figures).startswith("✖ error")
        assert plain_text(alpha.figures).startswith("✓ stop")
        assert view.has_class("-ended")
        labels = ("openai/gpt-4o-mini", "anthropic/claude-x", "ollama/llama3:8b")
        # (the summary is drawn at its width once laid out)
        await wait_until(pilot, lambda: all(label in plain_text(view.summary) for label in labels))
        # one question, three stored answers to it: siblings
        store = app.store
        assert store is not None
        question = screen.conversation.messages[-1]
        assert question.role == "user" and question.content == "Which one?" and question.id
        answers = store.children(question.id)
        assert len(answers) == 3
        assert {store.path_to(a)[-1].content for a in answers} == {"Alpha says hi.", "Bravo says hello.",
                                                                   "Charlie was"}

        # nothing goes out before a reply is picked; the text stays in the prompt
        await send(pilot, "too early")
        prompt = screen.query_one(PromptInput)
        assert prompt.text == "too early"
        prompt.clear()

        bravo.scroll.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.compare_view is None and not screen.query(CompareView)
                         and len(screen.query(MessageView)) == 2)
        assert screen.provider.name == "anthropic" and screen.model == "claude-x"
        assert [(m.role, m.content) for m in screen.conversation.messages] == [
            ("user", "Which one?"), ("assistant", "Bravo says hello.")]
        reply_view = screen.query(MessageView).last()
        assert reply_view.body.source == "Bravo says hello."  # type: ignore[union-attr]
        picked = screen.conversation.messages[-1]
        assert picked.id is not None and store.siblings(picked.id) == answers
        assert store.current_leaf(screen.recorder.conversation_id or "") == picked.id

        # the conversation goes on with the picked reply's model, history included
        await send(pilot, "And then?")
        await wait_until(pilot, lambda: len(servers.chats(servers.anthropic)) == 2 and not screen.streaming)
        await app.workers.wait_for_complete()
        sent = servers.chats(servers.anthropic)[1].json()["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert "Bravo says hello." in str(sent[1]["content"])
        assert len(servers.chats(servers.openai)) == 1 and len(servers.chats(servers.ollama)) == 1
        assert store.path_to(screen.conversation.messages[-1].id or "")[1].id == picked.id


async def test_escape_stops_every_model_and_keeps_their_partial_replies(servers: Servers) -> None:
    servers.script(servers.openai, Reply(parts=[sse(chunk("", role=True), chunk("Alpha part"), done=False), 30.0]))
    servers.script(servers.anthropic, Reply(parts=[anthropic_events(["Bravo part"], end=False), 30.0]))
    servers.script(servers.ollama, Reply(parts=[ollama_lines(["Charlie part"], end=False), 30.0], headers=NDJSON))
    app = real_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, view = await compare_three(pilot, "Go")
        await wait_until(pilot, lambda: [c.body.source for c in view.columns] == [
            "Alpha part", "Bravo part", "Charlie part"])
        assert screen.streaming and not view.ended

        await pilot.press("escape")
        for server in (servers.openai, servers.anthropic, servers.ollama):
            assert await asyncio.to_thread(server.disconnected.wait, 20), "a stream stayed open"
        await wait_until(pilot, lambda: view.ended and not screen.streaming)
        for column in view.columns:
            assert column.message is not None and column.message.finish_reason == "cancelled"
            assert column.has_class("-cancelled")
            assert plain_text(column.status) == "■ stopped"
        store = app.store
        assert store is not None
        question = screen.conversation.messages[-1]
        stored = [store.path_to(a)[-1] for a in store.children(question.id or "")]
        assert sorted((m.content, m.finish_reason) for m in stored) == [
            ("Alpha part", "cancelled"), ("Bravo part", "cancelled"), ("Charlie part", "cancelled")]


async def test_x_stops_the_focused_model_only(servers: Servers) -> None:
    release = threading.Event()
    servers.script(servers.openai, Reply(parts=[sse(chunk("", role=True), chunk("Alpha part"), done=False), 30.0]))
    servers.script(servers.anthropic, Reply(parts=[anthropic_events(["Bravo"], end=False), gate(release),
                                                   _anthropic_end(" done.")]))
    servers.script(servers.ollama, Reply(parts=[ollama_lines(["Charlie"], end=False), gate(release),
                                                ollama_lines([" done."])], headers=NDJSON))
    app = real_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen, view = await compare_three(pilot, "Go")
            alpha, bravo, charlie = view.columns
            await wait_until(pilot, lambda: alpha.body.source == "Alpha part" and bravo.body.source == "Bravo"
                             and charlie.body.source == "Charlie")
            alpha.scroll.focus()
            await pilot.press("x")
            assert await asyncio.to_thread(servers.openai.disconnected.wait, 20)
            await wait_until(pilot, lambda: alpha.ended)
            assert alpha.message is not None and alpha.message.finish_reason == "cancelled"
            assert not bravo.ended and not charlie.ended and screen.streaming
            release.set()
            await wait_until(pilot, lambda: view.ended and not screen.streaming)
            assert bravo.message is not None and bravo.message.finish_reason == "stop"
            assert bravo.body.source == "Bravo done."
            assert charlie.message is not None and charlie.message.finish_reason == "stop"
            assert not servers.anthropic.disconnected.is_set() and not servers.ollama.disconnected.is_set()
    finally:
        release.set()


def _anthropic_end(text: str) -> bytes:
    """The rest of an Anthropic stream begun by ``anthropic_events([...], end=False)``: one more
    text delta, then its end."""
    import json

    events = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


# -- /compare's arguments, the pending line, the picker (FakeProvider) ----------------------


def reply(text: str) -> list[object]:
    return [ContentDelta(text), Usage(3, 2, 5), Finish("stop")]


async def test_compare_arguments_pending_line_and_off(open_chat: OpenChat) -> None:
    async with open_chat(reply("single")) as chat:
        screen, pilot = chat.screen, chat.pilot
        notes: list[str] = []
        screen.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await send(pilot, "/compare")
        assert screen.compare_pending is None and "Usage: /compare" in notes[-1]
        await send(pilot, "/compare antropic:claude")
        assert screen.compare_pending is None and "did you mean 'anthropic'" in notes[-1]
        await send(pilot, "/compare other-model")  # one name: compared with the conversation's model
        assert screen.compare_pending is not None
        assert [p.label for p in screen.compare_pending] == [f"fake/{screen.model}", "fake/other-model"]
        await wait_until(pilot, lambda: bool(screen.query(f"#{PENDING_ID}")))
        assert "fake/other-model" in plain_text(screen.query_one(f"#{PENDING_ID}"))
        await send(pilot, f"/compare {screen.model}")
        assert "at least one other model" in notes[-1]
        assert screen.compare_pending is not None  # the earlier choice stays
        await send(pilot, "/compare off")
        assert screen.compare_pending is None and "Compare is off" in notes[-1]
        await wait_until(pilot, lambda: not screen.query(f"#{PENDING_ID}"))
        await send(pilot, "hello")  # one reply, as before
        await chat.app.workers.wait_for_complete()
        assert not screen.query(CompareView)
        assert [(m.role, m.content) for m in screen.conversation.messages] == [("user", "hello"),
                                                                               ("assistant", "single")]


async def test_narrow_terminal_shows_one_reply_at_a_time(open_chat: OpenChat) -> None:
    """One reply at a time; the replies behind it wait to render until they are shown."""
    gate = asyncio.Event()
    async with open_chat([gate, *reply("one")], [gate, *reply("two")], [gate, *reply("three")],
                         size=(60, 20)) as chat:
        screen, pilot = chat.screen, chat.pilot
        await send(pilot, "/compare m1 m2 m3")
        await send(pilot, "Go")
        await wait_until(pilot, lambda: bool(screen.query(CompareView)) and compare_view(screen).narrow)
        view = compare_view(screen)
        await wait_until(pilot, lambda: view.columns[0].region.width > 0 and view.columns[1].region.width == 0)
        gate.set()
        await wait_until(pilot, lambda: view.ended and not screen.streaming)
        assert view.narrow and view.tabs.display
        assert [c.display and c.region.width > 0 for c in view.columns] == [True, False, False]
        await wait_until(pilot, lambda: view.columns[0].body.rendered_length == 3)
        assert [(c.body.held, c.body.rendered_length) for c in view.columns[1:]] == [(True, 0), (True, 0)]
        view.columns[0].scroll.focus()
        await pilot.press("right")
        await wait_until(pilot, lambda: view.columns[1].region.width > 0)
        await wait_until(pilot, lambda: view.columns[1].body.rendered_length == 3 and not view.columns[1].body.held)
        assert view.shown == 1 and view.tabs.active == "compare-tab-1"
        assert view.columns[0].region.width == 0 and view.columns[1].scroll.has_focus
        await pilot.press("left", "left")  # wraps around
        await wait_until(pilot, lambda: view.shown == 2)
        await pilot.resize_terminal(160, 40)
        await wait_until(pilot, lambda: not view.narrow and all(c.region.width >= 40 for c in view.columns))
        await wait_until(pilot, lambda: [c.body.rendered_length for c in view.columns] == [3, 3, 5])


async def test_the_palette_picker_sets_the_models(open_chat: OpenChat) -> None:
    async with open_chat(reply("x")) as chat:
        screen, pilot = chat.screen, chat.pilot
        screen.choose_compare_models()
        await wait_until(pilot, lambda: isinstance(chat.app.screen, CompareModelsScreen))
        picker = chat.app.screen
        await pilot.press("space")  # ticks the first: the conversation's model
        picker.query_one("#compare-models-more").value = "second-model"  # type: ignore[attr-defined]
        await pilot.click("#compare-models-ok")
        await wait_until(pilot, lambda: screen.compare_pending is not None)
        assert [p.label for p in screen.compare_pending or []] == [f"fake/{screen.model}", "fake/second-model"]


# -- the figures (pure functions of a finished reply) ---------------------------------------


def finished(reason: str, ttft: float | None, duration: float | None, out: int | None) -> Any:
    from llmchat.chat.models import Message
    from llmchat.providers.events import Usage as U

    message = Message("assistant", "text", finish_reason=reason)  # type: ignore[arg-type]
    message.ttft, message.duration = ttft, duration
    message.usage = U(10, out, 10 + out) if out is not None else None
    return message


def test_figures_lines_and_summary() -> None:
    from llmchat.chat.accumulator import ReplyStats
    from llmchat.tui.widgets.compare_column import SummaryRow, best_line, final_line, live_line, summary_table

    # 312 tokens between the first token (0.42 s) and the end (3.10 s): 312 / 2.68 = 116 tok/s
    assert final_line(finished("stop", 0.42, 3.10, 312), 0.0012) == \
        "✓ stop · TTFT 0.42 s · 312 tok · 116 tok/s · 3.10 s · $0.001200"
    assert final_line(finished("error", None, 0.4, None)) == "✖ error · 0.40 s"
    assert final_line(finished("cancelled", 0.5, 1.0, None)) == "■ cancelled · TTFT 0.50 s · 1.00 s"
    waiting = ReplyStats("waiting", None, None, None, 1.25, 0, True, None, None)
    assert live_line(waiting)[1:] == " waiting for the first token… 1.2 s"
    streaming = ReplyStats("streaming", None, None, 0.31, 2.0, 1200, True, 950.4, None)
    assert live_line(streaming)[1:] == " TTFT 0.31 s · ~1,200 tok · 950 tok/s"

    rows = [SummaryRow("openai/a", finished("stop", 0.30, 2.30, 200), 0.002),  # 100 tok/s
            SummaryRow("anthropic/b", finished("length", 0.10, 1.10, 50), 0.001),  # 50 tok/s
            SummaryRow("ollama/c", finished("error", None, 0.5, None), None)]
    assert best_line(rows) == ("first token: b 0.10 s · fastest: a 100 tok/s · cheapest: b $0.001000 · "
                               "1 length · 1 error")
    assert best_line(rows[2:]) == "1 error"
    table = summary_table(rows)
    cells = {column.header: [str(c) for c in column.cells] for column in table.columns}
    assert cells["model"] == ["openai/a", "anthropic/b", "ollama/c"]
    assert cells["finish"] == ["✓ stop", "… length", "✖ error"]
    assert cells["tok/s"] == ["100", "50", "–"] and cells["in / out"] == ["10 / 200", "10 / 50", "–"]
    bold = {column.header: [getattr(c, "style", "") == "bold" for c in column.cells] for column in table.columns}
    assert bold["TTFT"] == [False, True, False] and bold["tok/s"] == [True, False, False]
    assert bold["cost"] == [False, True, False]


async def test_a_model_name_is_shown_as_text_not_markup(open_chat: OpenChat) -> None:
    async with open_chat(reply("a"), reply("b")) as chat:
        screen, pilot = chat.screen, chat.pilot
        await send(pilot, "/compare [bold]x[/bold] m2")
        await send(pilot, "Go")
        await wait_until(pilot, lambda: bool(screen.query(CompareView)) and compare_view(screen).ended
                         and not screen.streaming)
        column = compare_view(screen).columns[0]
        assert column.label == "fake/[bold]x[/bold]"
        assert plain_text(column.title).strip() == "fake/[bold]x[/bold]"
        await wait_until(pilot, lambda: "fake/[bold]x[/bold]" in plain_text(compare_view(screen).summary))


async def test_a_compare_in_a_hidden_tab_ends_quietly_and_renders_when_shown(open_chat: OpenChat) -> None:
    from tests.tui.test_tabs import bar_text, new_tab, notes

    gate = asyncio.Event()
    async with open_chat([gate, *reply("one")], [gate, *reply("two")]) as chat:
        pilot, first = chat.pilot, chat.screen
        await send(pilot, "/compare m1 m2")
        await send(pilot, "Go")
        await wait_until(pilot, lambda: first.streaming and bool(first.query(CompareView)))
        view = compare_view(first)
        await new_tab(pilot)
        gate.set()
        await wait_until(pilot, lambda: view.ended and not first.streaming)
        assert [c.body.source for c in view.columns] == ["one", "two"]
        assert all(c.body.held and c.body.rendered_length == 0 for c in view.columns)  # nobody looks
        await wait_until(pilot, lambda: "●" in bar_text(pilot))  # the tab is marked, and says nothing
        assert "Pick the reply" not in notes(chat.app)
        await pilot.press("ctrl+pageup")
        await wait_until(pilot, lambda: chat.app.screen is first)
        await wait_until(pilot, lambda: all(not c.body.held and c.body.rendered_length == 3 for c in view.columns))
        view.columns[1].scroll.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: [m.content for m in first.conversation.messages] == ["Go", "two"])
