"""Keys that arrive in one burst (fast typing, tmux send-keys, a browser via llmchat serve)
are all in the message that Enter sends."""

from __future__ import annotations

import pytest
from textual import events

from llmchat.tui.widgets.prompt_input import PromptInput
from tests.fakes import FakeProvider
from tests.tui.helpers import make_app, wait_until


@pytest.mark.timeout(180)
async def test_enter_right_after_a_burst_of_keys_sends_every_key() -> None:
    provider = FakeProvider(["ok"])
    app = make_app(provider)
    async with app.run_test() as pilot:
        prompt = app.screen.query_one(PromptInput)
        await wait_until(pilot, lambda: prompt.has_focus)
        text = "the last keys before Enter must not be lost"
        for char in text:  # posted at once, as a terminal's read delivers them
            app.post_message(events.Key(char if char != " " else "space", char))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: provider.requests)
        assert provider.requests[0].messages[-1]["content"] == text
        assert prompt.text == ""
