"""ChatMeter: the figures of the chat screen: a quiet line under every reply, the
conversation's cost and its context bar in the sidebar, and a warning before a message that
would not fit.

A mixin: ChatScreen (:mod:`llmchat.tui.screens.chat`) calls :meth:`meter_replies` when replies
end or stored ones are shown, :meth:`meter_fits` before it sends, and the prompt's changes
reach :meth:`meter_draft_changed`.

Nothing here may slow typing or streaming: prices and whole-conversation counts are computed in
a thread (the price database and the tokenizer load there, once), and the draft is counted
:data:`DRAFT_DELAY` seconds after the last key, on its own (the rest of the conversation was
counted once, after the last reply).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.timer import Timer

from llmchat.chat.counting import count_request, encoding_for, estimate_tokens, load_encoding
from llmchat.chat.meter import DRAFT_OVERHEAD, context_bar, conversation_cost, reply_line
from llmchat.chat.models import Message
from llmchat.chat.pricing import Cost, PriceSource, budget_check
from llmchat.providers.windows import server_context_window
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.chat.engine import ChatSession

    _Base = Screen[None]
else:
    _Base = object

DRAFT_DELAY = 0.25
"""Seconds after the last key before the draft is counted (typing never waits for a count)."""
EXACT_DRAFT_CHARS = 20_000
"""A longer draft is estimated rather than tokenized while typing (a paste of megabytes)."""
METER_GROUP = "meter"
EXACT_FROM = 0.5
"""The conversation and the draft are counted exactly (the model's tokenizer loaded: about 75 MiB
for o200k_base) only once their estimate reaches this share of the context window; further from
it an estimate cannot change whether a message fits, and the memory is not spent."""


class ChatMeter(_Base):
    """Cost, context and per-reply figures, mixed into ChatScreen."""

    if TYPE_CHECKING:  # ChatScreen's state these methods use
        session: ChatSession

    _costs: dict[int, Cost | None] | None = None
    """Each reply's cost by ``id(message)`` (None: no price), once priced."""
    _base_tokens: int | None = None
    """Tokens of the next request without the draft (the last reply's usage, else counted)."""
    _draft_tokens = 0
    _window: tuple[str, int | None] | None = None
    """(model, context window) once looked up."""
    _encoding: tuple[str, Any] | None = None
    """(model, tiktoken encoding) once loaded in a thread: the draft is then counted exactly."""
    _draft_timer: Timer | None = None
    _fit_warned: str | None = None
    """The draft the not-fitting warning was shown for (Enter again sends it)."""
    _budget_warned: str | None = None
    """The draft the budget warning was shown for (Enter again sends it)."""

    def _price_source(self) -> PriceSource:
        """Prices for the app's provider (its wire format and base URL pick the price list)."""
        settings = getattr(self.app, "settings", None)
        if settings is None:
            return PriceSource("openai", "", {})
        return PriceSource(settings.provider.kind, settings.provider.base_url, settings.prices)

    def _kind(self) -> str:
        settings = getattr(self.app, "settings", None)
        return settings.provider.kind if settings is not None else "openai"

    # -- replies ------------------------------------------------------------------------------

    def meter_replies(self, pairs: list[tuple[MessageView, Message]]) -> None:
        """Show the figures under each finished reply of `pairs` now, and their cost once
        priced (in a thread); then the conversation's cost and context in the sidebar."""
        costs = self._costs if self._costs is not None else {}
        for view, message in pairs:
            view.show_figures(reply_line(message, costs.get(id(message))))
        self.run_worker(self._price(pairs), group=METER_GROUP, exit_on_error=False)

    async def _price(self, pairs: list[tuple[MessageView, Message]]) -> None:
        if self._costs is None:
            self._costs = {}
        costs = self._costs
        source, model, kind = self._price_source(), self.session.model, self._kind()
        replies = [m for m in self.session.conversation.messages if m.role == "assistant"]
        todo = [m for m in replies if id(m) not in costs]

        def work() -> tuple[list[Cost | None], int | None]:
            priced = [source.reply_cost(m.usage, m.model, model) for m in todo]
            return priced, source.context_window(model)

        server_window = await self._server_window(model)
        priced, window = await asyncio.to_thread(work)
        window = server_window or window
        for message, cost in zip(todo, priced):
            costs[id(message)] = cost
        self._window = (model, window)
        for view, message in pairs:
            if view.is_attached:
                view.show_figures(reply_line(message, costs.get(id(message))))
        total = conversation_cost(costs.get(id(m)) for m in replies)
        self.query_one(Sidebar).show_meter(cost=total.text() if replies else "–")
        await self._count_base()

    async def _server_window(self, model: str) -> int | None:
        """The context window the provider's server gives for `model` (asked once per model;
        None when it says nothing: the price database's is used)."""
        if self._window is not None and self._window[0] == model:
            return self._window[1]
        settings = getattr(self.app, "settings", None)
        client = getattr(self.session.provider, "client", None)
        if settings is None or client is None or settings.provider.name != self.session.provider.name:
            return None
        provider = settings.provider
        asked = self.__dict__.setdefault("_windows_asked", set())
        if not asks_server(provider.kind, provider.base_url) or model in asked:
            return None
        asked.add(model)  # once per model, also while the first lookup is under way
        headers = dict(provider.headers)
        if provider.api_key and provider.kind in ("openai", "openai-responses"):
            headers["Authorization"] = f"Bearer {provider.api_key}"
        elif provider.api_key and provider.kind == "gemini":
            headers["x-goog-api-key"] = provider.api_key
        return await server_context_window(client, provider.kind, provider.base_url, model, headers)


    async def _count_base(self) -> None:
        """The conversation's tokens for the next request: the last reply's usage when the
        conversation ends with it (the provider's count is the truth), else counted."""
        messages = self.session.conversation.messages
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant" and last.usage is not None:
            self._base_tokens = last.usage.input_tokens + last.usage.output_tokens
        else:
            request = self.session.next_request()
            count = await asyncio.to_thread(count_request, request, self._kind(), exact=False)
            if self._near_window(count.tokens):
                count = await asyncio.to_thread(count_request, request, self._kind())
            self._base_tokens = count.tokens
        if self._near_window(self._base_tokens):
            await self._load_encoding()
        self._show_context()

    def _near_window(self, tokens: int) -> bool:
        """Whether `tokens` reach :data:`EXACT_FROM` of the known context window."""
        window = self._context_window()
        return window is not None and tokens >= window * EXACT_FROM

    async def _load_encoding(self) -> None:
        """Load the model's tokenizer (in a thread, once per model), so the draft is counted
        exactly from then on; nothing when the model has none that llmchat knows."""
        model = self.session.model
        if self._encoding is not None and self._encoding[0] == model:
            return
        name = encoding_for(self._kind(), model)
        encoding = await asyncio.to_thread(load_encoding, name) if name else None
        self._encoding = (model, encoding) if encoding is not None else None

    async def _count_draft_exactly(self) -> None:
        await self._load_encoding()
        self._draft_tokens = self.draft_tokens(self.query_one(PromptInput).text)
        self._show_context()

    def meter_reset(self) -> None:
        """A new or another conversation: forget the figures of the last one and count the
        empty one (its system prompt)."""
        self._costs = {}
        self._base_tokens = None
        self.query_one(Sidebar).show_meter(cost="–", context="–")
        self.run_worker(self._price([]), group=METER_GROUP, exit_on_error=False)

    # -- the draft ------------------------------------------------------------------------------

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        """The prompt changed: count the draft once typing pauses. (A handler named by
        convention: ``@on`` only registers in classes Textual builds, not in this mixin.)"""
        if event.text_area.id == "prompt":
            self.meter_draft_changed()

    def meter_draft_changed(self) -> None:
        """The prompt changed: count it once typing pauses (:data:`DRAFT_DELAY`)."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY, self._count_draft)

    def _count_draft(self) -> None:
        self._draft_timer = None
        self._draft_tokens = self.draft_tokens(self.query_one(PromptInput).text)
        self._show_context()
        loaded = self._encoding is not None and self._encoding[0] == self.session.model
        if not loaded and self._near_window((self._base_tokens or 0) + self._draft_tokens):
            self.run_worker(self._count_draft_exactly(), group=METER_GROUP, exit_on_error=False)

    def draft_tokens(self, text: str) -> int:
        """Tokens `text` adds as the next user message: exact when the model's tokenizer was
        loaded (in a thread, once the count neared the window: :data:`EXACT_FROM`) and the text
        is not huge, else the estimate; 0 for an empty prompt."""
        if not text.strip():
            return 0
        if self._encoding is not None and self._encoding[0] == self.session.model and len(text) <= EXACT_DRAFT_CHARS:
            return len(self._encoding[1].encode_ordinary(text)) + DRAFT_OVERHEAD
        return estimate_tokens(text) + DRAFT_OVERHEAD

    def _context_window(self) -> int | None:
        return self._window[1] if self._window and self._window[0] == self.session.model else None

    def _show_context(self) -> None:
        window = self._context_window()
        used = (self._base_tokens or 0) + self._draft_tokens
        self.query_one(Sidebar).show_meter(context=context_bar(used, window, width=26, sep="\n"),
                                           over=bool(window and used > window))

    def meter_fits(self, text: str) -> bool:
        """Whether `text` may be sent: True when it fits the context window (or the window is
        unknown); else a warning, once for this text: Enter again sends it anyway."""
        window = self._context_window()
        if not window:
            return True
        used = (self._base_tokens or 0) + self.draft_tokens(text)
        if used <= window or self._fit_warned == text:
            self._fit_warned = None
            return True
        self._fit_warned = text
        self.notify(f"This message would not fit the context window ({used:,} of {window:,} tokens): "
                    "the provider would likely refuse it. Press Enter again to send it anyway.",
                    title="Context", severity="warning", timeout=10, markup=False)
        return False

    def meter_may_send(self, text: str) -> bool:
        """:meth:`meter_fits`, then the budgets (``[budget] conversation`` and ``day``): over
        one, a warning that asks first; Enter again sends anyway."""
        if not self.meter_fits(text):
            return False
        settings = getattr(self.app, "settings", None)
        caps = [(getattr(settings, "budget_conversation", None), "this conversation"),
                (getattr(settings, "budget_day", None), "today")]
        if all(cap is None for cap, _ in caps):
            return True
        tokens = (self._base_tokens or 0) + self.draft_tokens(text)
        for cap, what in caps:
            if cap is None:
                continue
            if what == "today":
                store = getattr(self, "store", None)
                if store is None:
                    continue
                midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
                replies = [(m.usage, m.model) for m in store.replies_since(midnight.timestamp())]
            else:
                replies = [(m.usage, m.model) for m in self.session.conversation.messages if m.role == "assistant"]
            check = budget_check(self._price_source(), replies, self.session.model, tokens)
            if check.over(cap) and self._budget_warned != text:
                self._budget_warned = text
                self.notify(f"Budget: {check.describe(cap, what)}. Press Enter again to send it anyway, or "
                            "start a new conversation (Ctrl+N).", title="Budget", severity="warning", timeout=12,
                            markup=False)
                return False
        self._budget_warned = None
        return True

    async def compact_conversation(self) -> None:
        """``/compact``: the model summarises the messages before the last exchange, the user
        corrects the summary in an editor, and the conversation goes on (as a new one in the
        history, the original kept) from the summary and the last exchange; tokens before and
        after are reported."""
        from llmchat.chat.compact import compacted, summarise
        from llmchat.providers.errors import ProviderError
        from llmchat.store.recorder import Recorder
        from llmchat.tui.screens.summary_editor import SummaryEditorScreen

        if getattr(self, "streaming", False) or getattr(self, "queue", None):
            self.notify("A reply is still streaming: press Escape to stop it first.", timeout=3)
            return
        before = await asyncio.to_thread(count_request, self.session.next_request(), self._kind())
        self.notify("Asking the model for a summary…", title="Compact", timeout=4, markup=False)
        try:
            summary = await summarise(self.session)
        except ValueError as exc:
            self.notify(f"Nothing to compact: {exc}.", title="Compact", markup=False)
            return
        except ProviderError as exc:
            self.notify(f"The summary failed: {exc.describe()}", title="Compact", severity="error", markup=False)
            return
        edited = await self.app.push_screen_wait(SummaryEditorScreen(summary))
        if edited is None:
            self.notify("Compact cancelled: nothing changed.", title="Compact", timeout=4, markup=False)
            return
        store = getattr(self, "store", None)
        self.recorder = Recorder(store, self._history_failed)  # type: ignore[attr-defined]
        self.session = compacted(self.session, edited, self.recorder)
        await self.show_compacted()  # type: ignore[attr-defined]
        after = await asyncio.to_thread(count_request, self.session.next_request(), self._kind())
        self.meter_reset()
        self.notify(f"Compacted: {before.tokens:,} → {after.tokens:,} tokens ({after.kind}). The original "
                    "conversation stays in the history.", title="Compact", timeout=8, markup=False)


def asks_server(kind: str, base_url: str) -> bool:
    """Whether the session asks the server for a model's window: Ollama (``/api/show``),
    Gemini (the model's entry) and OpenRouter (its model list), whose answers are the
    model's own; other OpenAI-compatible servers (llama.cpp's ``/props`` included) are not
    asked at start, their window is the price database's."""
    from urllib.parse import urlsplit

    if kind in ("ollama", "gemini"):
        return True
    return kind in ("openai", "openai-responses") and (urlsplit(base_url).hostname or "").endswith("openrouter.ai")
