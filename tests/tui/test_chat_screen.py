"""ChatScreen with a FakeProvider, driven by Pilot: sending, stats, Escape, errors, keys."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest
from textual import events
from textual.widgets import Markdown

from llmchat.providers.errors import AuthenticationError
from llmchat.providers.events import ContentDelta, Finish, Usage
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.fakes import FakeProvider
from tests.tui.conftest import OpenChat
from tests.tui.helpers import (
    fake_settings,
    message_views,
    plain_text,
    send,
    sidebar_rows,
    type_text,
    wait_until,
)


def reply(*texts: str, usage: Usage | None = None) -> list[object]:
    script: list[object] = [ContentDelta(t) for t in texts]
    if usage is not None:
        script.append(usage)
    script.append(Finish("stop", "stop"))
    return script


async def test_message_and_streamed_reply_are_shown(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("Hello", ", ", "**world**", usage=Usage(11, 3, 14)))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        assert isinstance(app.screen.focused, PromptInput)
        await send(pilot, "hi there", typed=True)
        await app.workers.wait_for_complete()
        await pilot.pause()

        views = message_views(pilot)
        assert [v.role for v in views] == ["user", "assistant"]
        assert plain_text(views[0].body) == "hi there"
        assert isinstance(views[1].body, StreamingMarkdown)
        assert views[1].body.source == "Hello, **world**"
        assert not views[1].status.display  # a normal stop shows no note
        assert screen.query_one(PromptInput).text == ""
        assert screen.streaming is False

        assert [m.role for m in screen.conversation.messages] == ["user", "assistant"]
        assert screen.conversation.messages[0].content == "hi there"
        answer = screen.conversation.messages[1]
        assert answer.content == "Hello, **world**"
        assert answer.finish_reason == "stop"
        assert answer.usage == Usage(11, 3, 14)

        assert len(provider.requests) == 1
        assert list(provider.requests[0].messages) == [{"role": "user", "content": "hi there"}]
        assert provider.requests[0].model == app.settings.provider.model
        assert provider.closed == 0


async def test_sidebar_shows_the_finished_reply_with_usage(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("a", "b", "c", usage=Usage(input_tokens=11, output_tokens=3, total_tokens=14)))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        sidebar = screen.query_one(Sidebar)
        assert sidebar.stats is None
        assert sidebar_rows(pilot)["State"] == "idle"

        await send(pilot, "count")
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert screen.accumulator is not None
        stats = screen.accumulator.stats()
        assert stats.state == "done"
        assert stats.finish_reason == "stop"
        assert stats.usage == Usage(11, 3, 14)
        assert stats.output_tokens == 3
        assert stats.estimated is False
        assert sidebar.stats == stats

        rows = sidebar_rows(pilot)
        assert rows["State"] == "done"
        assert rows["Finish"] == "stop"
        assert rows["Input"] == "11"
        assert rows["Output"] == "3"
        assert rows["Total"] == "14"
        assert rows["TTFT"].endswith(" s")
        assert rows["Elapsed"].endswith(" s")
        assert not sidebar.has_class("-streaming")
        model_text = plain_text(screen.query_one("#sidebar-model"))
        assert "fake" in model_text
        assert app.settings.provider.model in model_text


async def test_sidebar_estimates_output_without_usage(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("one", " two", " three"))
    async with open_chat(provider) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "go")
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = sidebar_rows(pilot)
        assert rows["State"] == "done"
        assert rows["Output"] == "3 (est.)"
        assert rows["Input"] == "–"
        assert rows["Total"] == "–"


async def test_escape_mid_stream_cancels_and_keeps_the_partial_reply(open_chat: OpenChat) -> None:
    never = asyncio.Event()
    provider = FakeProvider(
        [ContentDelta("Partial "), ContentDelta("answer"), never, ContentDelta(" never shown"), Finish("stop")],
        reply("Second ", "reply", usage=Usage(20, 2, 22)),
    )
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.content == "Partial answer")
        assert screen.streaming is True
        # The sidebar's figures refresh at 4 Hz, so it may still say "idle" for a moment.
        await wait_until(pilot, lambda: sidebar_rows(pilot)["State"] == "streaming")
        await wait_until(pilot, lambda: sidebar_rows(pilot)["State"] == "streaming")
        assert screen.query_one(Sidebar).has_class("-streaming")

        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert screen.streaming is False
        assert provider.closed == 1
        rows = sidebar_rows(pilot)
        assert rows["State"] == "cancelled"
        assert rows["Finish"] == "cancelled"
        assert screen.accumulator is not None and screen.accumulator.state == "cancelled"

        views = message_views(pilot)
        assistant = views[-1]
        assert isinstance(assistant.body, StreamingMarkdown)
        assert assistant.body.source == "Partial answer"
        assert assistant.has_class("-cancelled")
        assert assistant.status.display
        assert "cancelled" in plain_text(assistant.status)

        stored = screen.conversation.messages[-1]
        assert stored.role == "assistant"
        assert stored.finish_reason == "cancelled"
        assert stored.content == "Partial answer"

        # The conversation goes on, with the partial reply in the history.
        await send(pilot, "again")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(provider.requests) == 2
        assert list(provider.requests[1].messages) == [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "Partial answer"},
            {"role": "user", "content": "again"},
        ]
        views = message_views(pilot)
        assert [v.role for v in views] == ["user", "assistant", "user", "assistant"]
        assert views[-1].body.source == "Second reply"  # type: ignore[union-attr]
        rows = sidebar_rows(pilot)
        assert rows["State"] == "done"
        assert rows["Total"] == "22"
        assert provider.closed == 1


async def test_escape_while_waiting_for_the_first_token(open_chat: OpenChat) -> None:
    never = asyncio.Event()
    provider = FakeProvider([never, ContentDelta("never"), Finish("stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.streaming)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert provider.closed == 1
        assert sidebar_rows(pilot)["State"] == "cancelled"
        stored = screen.conversation.messages[-1]
        assert stored.finish_reason == "cancelled"
        assert stored.content == ""
        # An empty cancelled reply is not sent back to the model.
        assert screen.conversation.wire_messages() == [{"role": "user", "content": "first"}]


async def test_escape_when_idle_does_nothing(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("ok"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
        assert app.screen is screen
        assert provider.requests == []


async def test_escape_while_the_worker_is_busy_in_its_own_awaits(open_chat: OpenChat) -> None:
    """Regression: a cancellation landing outside the provider must still close the stream.

    The worker no longer waits for the screen per token, so it reads a flood fast: the script is
    long (and lazy) so that Escape lands before its end.
    """
    flood = itertools.chain(itertools.repeat(ContentDelta("x"), 1_000_000), [Finish("stop")])
    provider = FakeProvider(flood)  # type: ignore[arg-type]
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "flood")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.deltas > 0)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()

        stored = screen.conversation.messages[-1]
        assert stored.role == "assistant"
        assert stored.finish_reason == "cancelled", "the script finished before Escape: make it longer"
        assert provider.closed == 1
        assert 0 < len(stored.content) < 1_000_000
        assert set(stored.content) == {"x"}
        assert sidebar_rows(pilot)["State"] == "cancelled"


async def test_escape_while_the_final_render_is_pending_keeps_the_reply(open_chat: OpenChat, 
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's only await of its own is `finish()` in `finally`: a cancel there loses nothing.

    The body's final render is held back until after Escape, so the worker is cancelled while it
    waits for it. The reply is already stored, the view is finished, and the render still
    completes in the widget's own message loop. (While the widget's loop is held, Pilot would wait
    for it, so this part polls with asyncio.sleep and posts the key to the app itself.)
    """
    original = StreamingMarkdown._render_pass
    release = asyncio.Event()

    async def held_render(self: StreamingMarkdown, *, final: bool) -> None:
        if final:
            await release.wait()
        await original(self, final=final)

    async def until(condition: Callable[[], object]) -> None:
        for _ in range(1500):  # a deadline only a hang reaches (30 s, more on a loaded machine)
            if condition():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("condition not reached in time")

    monkeypatch.setattr(StreamingMarkdown, "_render_pass", held_render)
    gate = asyncio.Event()
    provider = FakeProvider([ContentDelta("only this"), ContentDelta(" and this"), gate, Finish("stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "hello")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.deltas == 2)
        gate.set()
        await until(lambda: screen.conversation.messages[-1].role == "assistant")
        assert screen.streaming is True  # stored, now waiting in finish()
        app.post_message(events.Key("escape", None))
        await until(lambda: screen.streaming is False)

        stored = screen.conversation.messages[-1]
        assert stored.finish_reason == "stop"  # the reply had ended; only the render was pending
        assert stored.content == "only this and this"
        assert provider.closed == 0

        release.set()
        # The worker was cancelled: wait_for_complete() raises WorkerCancelled for it while the
        # manager still lists it (how long it does depends on the machine's load).
        await until(lambda: all(worker.is_finished for worker in app.workers))
        await pilot.pause()
        body = message_views(pilot)[-1].body
        assert isinstance(body, StreamingMarkdown)
        assert body.finished
        assert body.source == "only this and this"
        assert "".join(m.source for m in body.query(Markdown)) == "only this and this"
        assert sidebar_rows(pilot)["State"] == "done"


async def test_provider_error_is_shown_once_and_keeps_the_app_running(open_chat: OpenChat) -> None:
    provider = FakeProvider(
        [AuthenticationError("bad key", status=401, provider="fake")],
        reply("fine now"),
    )
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "hello")
        await app.workers.wait_for_complete()
        await pilot.pause()

        # Shown once, where the reply is (issue 17): no toast, no copy in the sidebar.
        assert [n for n in app._notifications if n.severity == "error"] == []

        rows = sidebar_rows(pilot)
        assert rows["State"] == "error"
        assert rows["Finish"] == "error"
        assert not screen.query_one("#sidebar-error").display

        stored = screen.conversation.messages[-1]
        assert stored.finish_reason == "error"
        assert stored.error is not None and "bad key" in stored.error
        assistant = message_views(pilot)[-1]
        assert assistant.has_class("-error")
        assert "bad key" in plain_text(assistant.status) and "HTTP 401" in plain_text(assistant.status)
        assert "/retry" not in plain_text(assistant.status)  # no text arrived: nothing to go on from

        assert app.is_running
        assert app.screen is screen
        # The app is still usable after the error.
        await send(pilot, "retry")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.conversation.messages[-1].content == "fine now"
        assert sidebar_rows(pilot)["State"] == "done"
        assert not screen.query_one("#sidebar-error").display


async def test_blank_input_is_ignored(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("never"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await pilot.press("enter")
        await type_text(pilot, "   ")
        await pilot.press("ctrl+j", "enter")
        await pilot.pause()  # the keys are handled (a send would have started its worker) ...
        await app.workers.wait_for_complete()  # ... and a started reply has ended
        assert provider.requests == []
        assert message_views(pilot) == []
        assert screen.conversation.messages == []
        assert screen.accumulator is None


async def test_ctrl_j_inserts_a_newline_instead_of_sending(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("ok"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        prompt = screen.query_one(PromptInput)
        await type_text(pilot, "line one")
        await pilot.press("ctrl+j")
        await type_text(pilot, "line two")
        await pilot.pause()
        assert prompt.text == "line one\nline two"
        assert provider.requests == []
        assert message_views(pilot) == []

        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert list(provider.requests[0].messages) == [{"role": "user", "content": "line one\nline two"}]
        assert plain_text(message_views(pilot)[0].body) == "line one\nline two"
        assert prompt.text == ""


async def test_ctrl_n_starts_a_new_conversation(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("first answer", usage=Usage(5, 2, 7)), reply("fresh answer"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "first")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(message_views(pilot)) == 2
        old_conversation = screen.conversation

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert message_views(pilot) == []
        assert screen.conversation is not old_conversation
        assert screen.conversation.messages == []
        assert screen.accumulator is None
        assert screen.query_one(Sidebar).stats is None
        rows = sidebar_rows(pilot)
        assert rows["State"] == "idle"
        assert rows["Total"] == "–"
        assert isinstance(app.screen.focused, PromptInput)

        await send(pilot, "second")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert list(provider.requests[1].messages) == [{"role": "user", "content": "second"}]
        assert [v.role for v in message_views(pilot)] == ["user", "assistant"]
        assert message_views(pilot)[1].body.source == "fresh answer"  # type: ignore[union-attr]


async def test_ctrl_n_mid_stream_stops_the_reply(open_chat: OpenChat) -> None:
    never = asyncio.Event()
    provider = FakeProvider([ContentDelta("part"), never, Finish("stop")], reply("new one"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.content == "part")
        old_conversation = screen.conversation

        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert provider.closed == 1
        assert screen.streaming is False
        assert message_views(pilot) == []
        assert screen.conversation.messages == []
        assert sidebar_rows(pilot)["State"] == "idle"
        # The stopped reply went to the old conversation, not the new one.
        assert old_conversation.messages[-1].finish_reason == "cancelled"

        await send(pilot, "second")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert list(provider.requests[1].messages) == [{"role": "user", "content": "second"}]
        assert screen.conversation.messages[-1].content == "new one"


async def test_follow_up_messages_send_the_whole_conversation(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("Paris"), reply("About two million"))
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "capital of France")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await send(pilot, "population")
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert len(provider.requests) == 2
        assert list(provider.requests[0].messages) == [{"role": "user", "content": "capital of France"}]
        assert list(provider.requests[1].messages) == [
            {"role": "user", "content": "capital of France"},
            {"role": "assistant", "content": "Paris"},
            {"role": "user", "content": "population"},
        ]
        assert [m.content for m in screen.conversation.messages] == [
            "capital of France", "Paris", "population", "About two million",
        ]


async def test_system_prompt_is_sent_with_every_request(open_chat: OpenChat) -> None:
    provider = FakeProvider(reply("ok"))
    async with open_chat(provider, settings=fake_settings(LLMCHAT_SYSTEM="be terse")) as chat:
        app, pilot = chat.app, chat.pilot
        await send(pilot, "hi")
        await app.workers.wait_for_complete()
        await send(pilot, "again")
        await app.workers.wait_for_complete()
        assert [r.system for r in provider.requests] == ["be terse", "be terse"]


async def test_enter_while_streaming_queues_instead_of_starting_a_second_reply(open_chat: OpenChat) -> None:
    never = asyncio.Event()
    provider = FakeProvider([ContentDelta("busy"), never, Finish("stop")])
    async with open_chat(provider) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        await send(pilot, "first")
        await wait_until(pilot, lambda: screen.accumulator is not None and screen.accumulator.content == "busy")
        await send(pilot, "second")
        await pilot.pause()
        assert len(provider.requests) == 1
        assert screen.query_one(PromptInput).text == ""
        assert [v.queued for v in message_views(pilot)] == [False, False, True]
        assert screen.streaming is True
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await wait_until(pilot, lambda: screen.query_one(PromptInput).text == "second")  # back, not lost
        assert provider.closed == 1
        assert len(provider.requests) == 1
        assert [v.role for v in message_views(pilot)] == ["user", "assistant"]


async def test_ctrl_b_toggles_the_sidebar(open_chat: OpenChat) -> None:
    async with open_chat(FakeProvider(reply("ok"))) as chat:
        app, pilot, screen = chat.app, chat.pilot, chat.screen
        sidebar = screen.query_one(Sidebar)
        assert sidebar.display
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display
        assert isinstance(screen, ChatScreen)
