"""The chat screen meter's limits (llmchat.tui.screens.chat_meter) on both sides, as a small
unit: the mixin on a stand-in with the screen's few methods it calls (a recorded notify, a
sidebar that keeps what it is shown). Exact counting from half the context window
(EXACT_FROM), the longest draft tokenized while typing (EXACT_DRAFT_CHARS), the draft's
overhead, the warning before a message that would not fit, and the budget warnings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from llmchat.chat.models import Conversation, Message
from llmchat.chat.pricing import ModelPrice
from llmchat.providers.events import Usage
from llmchat.tui.screens.chat_meter import EXACT_DRAFT_CHARS, EXACT_FROM, ChatMeter


class Halves:
    """A tokenizer stand-in: a token per two characters (the estimate is one per four)."""

    name = "halves"

    def encode_ordinary(self, text: str) -> list[int]:
        return [0] * (len(text) // 2)


class Meter(ChatMeter):
    """ChatMeter on a stand-in screen."""

    def __init__(self, window: int | None = 1000, model: str = "m", settings: Any = None, store: Any = None) -> None:
        self.session = SimpleNamespace(model=model, conversation=Conversation())
        self._window = (model, window)
        self.app = SimpleNamespace(settings=settings)
        self.notes: list[str] = []
        self.shown: list[dict[str, Any]] = []
        self.workers: list[str] = []
        self.draft = ""
        if store is not None:
            self.store = store

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notes.append(message)

    def query_one(self, what: Any) -> Any:
        return SimpleNamespace(show_meter=lambda **kw: self.shown.append(kw), text=self.draft)

    def run_worker(self, work: Any, **kwargs: Any) -> None:
        self.workers.append(work.__qualname__)
        work.close()


def test_the_thresholds() -> None:
    assert EXACT_FROM == 0.5 and EXACT_DRAFT_CHARS == 20_000


@pytest.mark.parametrize(("tokens", "near"), [(0, False), (499, False), (500, True), (501, True), (5000, True)])
def test_counted_exactly_from_half_the_window(tokens: int, near: bool) -> None:
    assert Meter(window=1000)._near_window(tokens) is near
    assert Meter(window=None)._near_window(tokens) is False  # no window: never near it


def test_a_window_looked_up_for_another_model_is_not_used() -> None:
    meter = Meter(window=1000)
    meter.session.model = "other"
    assert meter._context_window() is None and meter._near_window(10_000) is False
    assert meter.meter_fits("x" * 100_000)


@pytest.mark.parametrize(("text", "tokens"), [
    ("", 0), ("  \n\t", 0), ("abcd", 1 + 4), ("abcde", 2 + 4), ("x" * 400, 100 + 4),
])
def test_the_draft_is_estimated_with_its_overhead(text: str, tokens: int) -> None:
    assert Meter().draft_tokens(text) == tokens


def test_the_draft_is_tokenized_once_the_tokenizer_is_loaded_up_to_the_longest_draft() -> None:
    meter = Meter()
    meter._encoding = ("m", Halves())
    assert meter.draft_tokens("abcd") == 2 + 4
    assert meter.draft_tokens("x" * EXACT_DRAFT_CHARS) == EXACT_DRAFT_CHARS // 2 + 4
    assert meter.draft_tokens("x" * (EXACT_DRAFT_CHARS + 1)) == (EXACT_DRAFT_CHARS + 1 + 3) // 4 + 4  # estimated
    assert meter.draft_tokens(" ") == 0
    meter._encoding = ("another-model", Halves())
    assert meter.draft_tokens("abcd") == 1 + 4


@pytest.mark.parametrize(("base", "fits"), [(995, True), (996, False)])  # "abcd": 5 tokens with its overhead
def test_a_message_that_would_not_fit_is_warned_about_once(base: int, fits: bool) -> None:
    meter = Meter(window=1000)
    meter._base_tokens = base
    assert meter.meter_fits("abcd") is fits
    if fits:
        assert meter.notes == []
        return
    assert len(meter.notes) == 1 and "(1,001 of 1,000 tokens)" in meter.notes[0]
    assert meter.meter_fits("abcd") is True  # Enter again sends it
    assert meter.meter_fits("abcd") is False  # and the next time warns again
    assert meter.meter_fits("abcde") is False and len(meter.notes) == 3


def test_the_context_bar_is_marked_over_only_past_the_window() -> None:
    meter = Meter(window=1000)
    meter._base_tokens, meter._draft_tokens = 1000, 0
    meter._show_context()
    meter._draft_tokens = 1
    meter._show_context()
    meter._window = ("m", None)
    meter._show_context()
    assert [shown["over"] for shown in meter.shown] == [False, True, False]
    assert meter.shown[1]["context"].startswith("1,001 / 1,000 (100%)\n")


@pytest.mark.parametrize(("base", "draft", "exact"), [(0, "", False), (494, "abcd", False), (495, "abcd", True)])
def test_the_draft_is_counted_exactly_from_half_the_window(base: int, draft: str, exact: bool) -> None:
    meter = Meter(window=1000)
    meter._base_tokens, meter.draft = base, draft
    meter._count_draft()
    assert meter._draft_tokens == (5 if draft else 0)
    assert meter.workers == (["ChatMeter._count_draft_exactly"] if exact else [])
    meter.workers.clear()
    meter._encoding = ("m", Halves())  # loaded already: counted exactly at once, no worker
    meter._count_draft()
    assert meter.workers == [] and meter._draft_tokens == (2 + 4 if draft else 0)


def settings(**budget: float) -> Any:
    return SimpleNamespace(provider=SimpleNamespace(kind="ollama", base_url="http://127.0.0.1:9"),
                           prices={"m": ModelPrice(input=1_000_000.0, output=0.0)},  # a dollar a token
                           budget_conversation=budget.get("conversation"), budget_day=budget.get("day"))


@pytest.mark.parametrize(("spent", "sent"), [(5, True), (6, False)])
def test_the_conversation_budget_on_both_sides(spent: int, sent: bool) -> None:
    # 5 dollars spent (or 6) and "abcd" (5 tokens: 5 dollars) against a 10-dollar budget
    meter = Meter(window=None, settings=settings(conversation=10.0))
    meter.session.conversation.messages = [Message("user", "q"),
                                          Message("assistant", "a", usage=Usage(spent, 0, spent), model="m")]
    meter._base_tokens = 0
    assert meter.meter_may_send("abcd") is sent
    if not sent:
        assert len(meter.notes) == 1 and meter.notes[0].startswith("Budget: this conversation: $6.00 so far")
        assert meter.meter_may_send("abcd") is True  # Enter again sends it
        assert meter._budget_warned is None


def test_the_days_budget_counts_the_stores_replies_of_today() -> None:
    asked: list[float] = []

    def replies_since(moment: float) -> list[Message]:
        asked.append(moment)
        return [Message("assistant", "a", usage=Usage(8, 0, 8), model="m")]

    store = SimpleNamespace(replies_since=replies_since)
    meter = Meter(window=None, settings=settings(day=13.0), store=store)
    meter._base_tokens = 0
    assert meter.meter_may_send("abc") is True  # 8 + 5: exactly the budget
    assert meter.meter_may_send("abcde") is False  # 8 + 6
    assert "today: $8.00 so far" in meter.notes[0] and len(asked) == 2
    without_store = Meter(window=None, settings=settings(day=1.0))
    assert without_store.meter_may_send("abcde") is True  # no history: nothing to count
    no_budget = Meter(window=None, settings=settings())
    assert no_budget.meter_may_send("x" * 10_000) is True and no_budget.notes == []
