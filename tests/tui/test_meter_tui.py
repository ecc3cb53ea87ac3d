"""The session's meter (issue 14): the quiet line under each reply, the conversation's cost
and context bar in the sidebar (counting the message being typed), the warning before a
message that would not fit, and a stored conversation's last figures when it opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmchat.chat.meter import context_bar, conversation_cost, reply_line, stats_of
from llmchat.chat.models import Message
from llmchat.chat.pricing import Cost
from llmchat.config import load_settings
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.store import Store
from llmchat.tui.app import LlmChatApp
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, fake_settings, plain_text, send, sidebar_rows, type_text, wait_until

pytest.importorskip("genai_prices")
pytest.importorskip("tiktoken")

MODEL = "gpt-4o-mini"  # the fake settings' default model: $0.15 in, $0.60 out per million, 128,000 window


def reply(text: str, inp: int, out: int) -> list[object]:
    return [ContentDelta(text), Usage(inp, out, inp + out), Finish("stop", "stop", model=MODEL)]


def figures(view: MessageView) -> str:
    return str(view.figures.content) if view.figures.display else ""


def sidebar_line(pilot: object, widget_id: str) -> str:
    return plain_text(chat_screen(pilot).query_one(widget_id))  # type: ignore[arg-type]


# -- the pure figures ---------------------------------------------------------------------


def test_reply_line_shows_each_known_figure() -> None:
    message = Message("assistant", "x", usage=Usage(1200, 300, 1500), ttft=0.5, duration=3.5, model="gpt-4o")
    assert reply_line(message, Cost(0.01, 0.02)) == "gpt-4o · 1,200 in / 300 out · TTFT 0.50 s · 100 tok/s · 3.50 s · $0.0300"
    assert reply_line(Message("assistant", "x", duration=1.0)) == "1.00 s"  # no usage, no price: left out


def test_conversation_cost_never_counts_an_unknown_price_as_zero() -> None:
    assert conversation_cost([Cost(0.01, 0.02), None]).text() == "$0.0300 + 1 unpriced"
    assert conversation_cost([None]).text() == "unknown"
    assert conversation_cost([Cost(0.5, 0.75)]).text() == "$1.25"


def test_context_bar() -> None:
    assert context_bar(32_000, 128_000, width=8) == "32,000 / 128,000 (25%) ██░░░░░░"
    assert context_bar(140_000, 128_000, width=4, sep="\n") == "140,000 / 128,000 (109%)\n████"
    assert context_bar(12, None) == "12 / ?"


def test_stats_of_a_stored_reply() -> None:
    stats = stats_of(Message("assistant", "x", finish_reason="stop", usage=Usage(10, 20, 30), ttft=0.1, duration=0.6))
    assert (stats.state, stats.usage, stats.ttft, stats.elapsed, stats.tokens_per_second) == (
        "done", Usage(10, 20, 30), 0.1, 0.6, pytest.approx(40.0))


# -- in the session -------------------------------------------------------------------------


async def test_every_reply_gets_a_quiet_line_with_its_figures_and_cost(open_chat: OpenChat) -> None:
    async with open_chat(reply("Hello", 1200, 300), reply("Again", 2000, 100)) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        views = [v for v in chat.screen.query(MessageView) if v.role == "assistant"]
        await wait_until(chat.pilot, lambda: "$" in figures(views[0]))
        line = figures(views[0])
        assert line.startswith(f"{MODEL} · 1,200 in / 300 out · TTFT ")
        assert line.endswith(" · $0.000360")  # 1200 x $0.15/M + 300 x $0.60/M
        assert sidebar_line(chat.pilot, "#sidebar-cost") == "Cost $0.000360"

        await send(chat.pilot, "more")
        await chat.app.workers.wait_for_complete()
        views = [v for v in chat.screen.query(MessageView) if v.role == "assistant"]
        await wait_until(chat.pilot, lambda: "$" in figures(views[1]))
        assert "2,000 in / 100 out" in figures(views[1])
        assert "$0.000360" in figures(views[0])  # the first keeps its own
        # the conversation's total: 0.00036 + 2000 x 0.15/M + 100 x 0.6/M = 0.00072
        await wait_until(chat.pilot, lambda: sidebar_line(chat.pilot, "#sidebar-cost") == "Cost $0.000720")


async def test_a_reply_without_a_known_price_shows_no_cost(open_chat: OpenChat) -> None:
    unknown = [ContentDelta("x"), Usage(10, 5, 15), Finish("stop", "stop", model="private-model-xyz")]
    async with open_chat(unknown, settings=fake_settings(LLMCHAT_MODEL="private-model-xyz")) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        view = [v for v in chat.screen.query(MessageView) if v.role == "assistant"][0]
        await wait_until(chat.pilot, lambda: sidebar_line(chat.pilot, "#sidebar-cost") == "Cost unknown")
        assert "10 in / 5 out" in figures(view) and "$" not in figures(view)


async def test_the_context_bar_counts_the_conversation_and_the_draft(open_chat: OpenChat) -> None:
    async with open_chat(reply("Hello", 100_000, 300)) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        # after the reply: its usage is the truth (100,000 in + 300 out)
        await wait_until(chat.pilot, lambda: "100,300 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))
        await type_text(chat.pilot, "hello world")
        # past half the window the draft is counted exactly: "hello world" is 2 tokens (o200k_base)
        # + 4 for a new user message (the estimate would say 3 + 4), once typing pauses
        await wait_until(chat.pilot, lambda: "100,306 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))
        chat.screen.query_one(PromptInput).clear()
        await wait_until(chat.pilot, lambda: "100,300 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))


async def test_far_from_the_window_the_draft_is_estimated_without_the_tokenizer(open_chat: OpenChat) -> None:
    """The tokenizer costs about 75 MiB once loaded: far from the window (under half of it) an
    estimate cannot change whether a message fits, so it is not loaded."""
    async with open_chat(reply("Hello", 1200, 300)) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        await wait_until(chat.pilot, lambda: "1,500 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))
        await type_text(chat.pilot, "hello world")
        # the estimate: 11 characters, a token per four rounded up (3), + 4 for a new user message
        await wait_until(chat.pilot, lambda: "1,507 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))
        await chat.app.workers.wait_for_complete()
        assert chat.screen._encoding is None


async def test_a_message_that_would_not_fit_is_held_back_with_a_warning_once(open_chat: OpenChat) -> None:
    nearly_full = reply("ok", 127_900, 90)
    async with open_chat(nearly_full, reply("sent", 10, 1)) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        await wait_until(chat.pilot, lambda: "127,990 / 128,000" in sidebar_line(chat.pilot, "#sidebar-context"))
        long_text = "this message is far too long to fit " * 3
        await send(chat.pilot, long_text)
        await wait_until(chat.pilot, lambda: any("would not fit" in str(n.message) for n in chat.app._notifications))
        assert len(chat.provider.requests) == 1  # held back
        assert chat.screen.query_one(PromptInput).text == long_text  # nothing lost
        await wait_until(chat.pilot, lambda: chat.screen.query_one("#sidebar-context").has_class("-over"))
        await chat.pilot.press("enter")  # the user insists: sent
        await chat.app.workers.wait_for_complete()
        assert len(chat.provider.requests) == 2
        assert chat.provider.requests[-1].messages[-1]["content"] == long_text


async def test_opening_a_stored_conversation_shows_its_last_figures(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store(db) as store:
        cid = store.create_conversation("openai", MODEL, None)
        store.add_message(cid, Message("user", "What is 2+2?"))
        reply_id = store.begin_reply(cid, "openai", MODEL)
        store.finish_reply(reply_id, Message("assistant", "4", finish_reason="stop", usage=Usage(1000, 500, 1500),
                                             ttft=0.25, duration=1.25, model=MODEL))
    app = LlmChatApp(fake_settings(), provider=FakeProvider([]), theme_dirs=THEME_DIRS, history=db,
                     conversation="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(chat_screen(pilot).query(MessageView)) == 2)
        rows = sidebar_rows(pilot)
        assert rows["Input"] == "1000" and rows["Output"] == "500" and rows["TTFT"] == "0.25 s"
        assert rows["Speed"] == "500.0 tok/s"
        view = [v for v in chat_screen(pilot).query(MessageView) if v.role == "assistant"][0]
        await wait_until(pilot, lambda: "$" in figures(view))
        assert figures(view) == f"{MODEL} · 1,000 in / 500 out · TTFT 0.25 s · 500 tok/s · 1.25 s · $0.000450"
        await wait_until(pilot, lambda: sidebar_line(pilot, "#sidebar-cost") == "Cost $0.000450")
        await wait_until(pilot, lambda: "1,500 / 128,000" in sidebar_line(pilot, "#sidebar-context"))


def test_which_servers_are_asked_for_the_window() -> None:
    from llmchat.tui.screens.chat_meter import asks_server

    assert asks_server("ollama", "http://127.0.0.1:11434")
    assert asks_server("gemini", "https://generativelanguage.googleapis.com")
    assert asks_server("openai", "https://openrouter.ai/api/v1")
    assert not asks_server("openai", "http://127.0.0.1:8080/v1")  # the price database's window
    assert not asks_server("anthropic", "https://api.anthropic.com")


async def test_the_budget_question_before_a_message_that_would_pass_it(open_chat: OpenChat, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nconversation = 0.001\n", encoding="utf-8")
    settings = load_settings(config, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    # the first reply costs 2,000 x $0.15/M + 1,000 x $0.60/M = $0.0009: under $0.001
    async with open_chat(reply("one", 2000, 1000), reply("two", 10, 1), settings=settings) as chat:
        await send(chat.pilot, "hi")
        await chat.app.workers.wait_for_complete()
        await wait_until(chat.pilot, lambda: sidebar_line(chat.pilot, "#sidebar-cost") == "Cost $0.000900")
        await send(chat.pilot, "x " * 400)  # its input alone passes the rest of the budget
        await wait_until(chat.pilot, lambda: any(n.title == "Budget" for n in chat.app._notifications))
        note = next(n for n in chat.app._notifications if n.title == "Budget")
        assert "$0.000900" in note.message and "$0.001000" in note.message
        assert len(chat.provider.requests) == 1  # asked first: nothing sent
        assert chat.screen.query_one(PromptInput).text == "x " * 400
        await chat.pilot.press("enter")  # yes: send it anyway
        await chat.app.workers.wait_for_complete()
        assert len(chat.provider.requests) == 2


async def test_the_day_budget_counts_every_conversation_of_the_day(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with Store(db) as store:  # another conversation earlier today: 100,000 + 10,000 tokens = $0.021
        cid = store.create_conversation("openai", MODEL, None)
        store.add_message(cid, Message("user", "earlier"))
        rid = store.begin_reply(cid, "openai", MODEL)
        store.finish_reply(rid, Message("assistant", "ok", finish_reason="stop", usage=Usage(100_000, 10_000, 110_000),
                                        model=MODEL))
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nday = 0.02\n", encoding="utf-8")
    settings = load_settings(config, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    provider = FakeProvider(reply("fine", 10, 1))
    app = LlmChatApp(settings, provider=provider, theme_dirs=THEME_DIRS, history=db)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "a new conversation")
        await wait_until(pilot, lambda: any(n.title == "Budget" for n in app._notifications))
        note = next(n for n in app._notifications if n.title == "Budget")
        assert "today: $0.0210 so far" in note.message and "$0.0200" in note.message
        assert provider.requests == []
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert len(provider.requests) == 1
