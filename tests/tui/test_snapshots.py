"""Snapshot tests: the chat screen in each state of a reply, and in every shipped theme.

Each test drives the app with Pilot (through pytest-textual-snapshot's ``snap_compare``) and
compares an SVG screenshot with the file of the same name in ``__snapshots__/test_snapshots/``.
The README shows some of these files as its screenshots, so they cannot drift from the app.

After an intended change to the UI, regenerate them and look at the result:

    python -m pytest tests/tui/test_snapshots.py --snapshot-update

A failed comparison writes ``snapshot_report.html`` (old and new side by side) to the
current directory.

Everything that could differ between two runs is fixed here: the terminal size, the reply's
timings (a fake clock that only the scripted provider moves, so TTFT, tokens/s and elapsed
time are always the same), the arrival of the text (a run of deltas reaches the screen in one
render pass), the prompt's cursor blink, and the environment switches that Textual reads
(``NO_COLOR``, ``TEXTUAL_FILTERS``; a set ``TEXTUAL_DIM_FACTOR`` stops the tests). The user's config, history and theme choice are kept out
by the ``isolated_env`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import textual.constants
from textual.pilot import Pilot

from llmchat import paths
from llmchat.chat.accumulator import Accumulator
from llmchat.chat.toolloop import ToolLoop
from llmchat.config import Settings
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import AuthenticationError, ServerError
from llmchat.providers.events import ContentDelta, Finish, StreamEvent, Usage
from llmchat.tui.app import LlmChatApp
from llmchat.tui.screens.chat import ChatScreen
from llmchat.tui.themes import load_theme
from llmchat.tui.widgets.message_view import MessageView
from llmchat.tui.widgets.prompt_input import PromptInput
from llmchat.tui.widgets.sidebar import Sidebar
from llmchat.tui.widgets.stream_markdown import StreamingMarkdown
from tests.tui.helpers import THEME_DIRS, fake_settings, plain_text, send, sidebar_rows, wait_until

SIZE = (120, 36)
"""Terminal size of every snapshot (columns, rows)."""

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
THEME_FILES = sorted(paths.builtin_themes_dir().glob("*.toml"))

PROMPT = "Show me what streaming Markdown looks like"
REPLY = """\
# Streaming Markdown

Every token renders **as it arrives**: headings, lists, `inline code`, tables and code.

1. Finished blocks are rendered once and frozen
2. Only the open block is updated, at most 30 times a second

| Figure  | Meaning                        |
|---------|--------------------------------|
| TTFT    | time to the first token        |
| Speed   | output tokens per second       |

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```
"""
TOKENS = re.findall(r"\s*\S+|\s+", REPLY)
"""REPLY cut into word-sized deltas, as a provider streams it."""
MID = TOKENS.index(" open") + 1
"""How many deltas have arrived in the mid-stream snapshots (the list's second item is half done)."""
USAGE = Usage(input_tokens=23, output_tokens=len(TOKENS), total_tokens=23 + len(TOKENS))


# -- a clock and a provider that make the timings fixed ------------------------------------


class FakeClock:
    """A monotonic clock (seconds) that stands still until :class:`ScriptedProvider` moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class At:
    """Script item: the fake clock reads `seconds` from now on (the request is sent at 0)."""

    seconds: float


class ScriptedProvider:
    """A Provider with one scripted reply that also moves the fake clock.

    Script items: a StreamEvent is yielded; :class:`At` sets the clock; an asyncio.Event is
    waited for (never set: the stream stays open, e.g. until Escape); an exception is raised.
    Nothing is awaited between two events, so a run of deltas reaches the screen in one
    render pass and the mid-stream screen does not depend on the machine's speed.
    """

    name = "openai"
    """The provider the test settings name (an OpenAI-compatible base URL); this one stands in."""

    def __init__(self, clock: FakeClock, script: Sequence[object]) -> None:
        self.clock = clock
        self.script = list(script)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for item in self.script:
            if isinstance(item, At):
                self.clock.now = item.seconds
            elif isinstance(item, asyncio.Event):
                await item.wait()
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]


def deltas(tokens: Sequence[str]) -> list[object]:
    return [ContentDelta(t) for t in tokens]


FINISHED = [At(0.42), *deltas(TOKENS), USAGE, At(1.62), Finish("stop", "stop")]
"""A whole reply: first token after 0.42 s, the end after 1.62 s, with usage."""


def mid_stream(*after: object) -> list[object]:
    """The reply's first MID deltas (at 0.42 s), then the clock at 0.97 s, then `after`."""
    return [At(0.42), *deltas(TOKENS[:MID]), At(0.97), *after]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of every reply's accumulator (TTFT, tokens/s, elapsed), standing at 0.

    Accumulator and ToolLoop take ``time.monotonic`` as their default clock when their module
    is imported and the chat screen passes none: swapping those defaults is the one place where
    time enters the screen's figures. (``time.monotonic`` itself also runs the event loop.)
    """
    fake = FakeClock()
    assert Accumulator.__init__.__defaults__ is not None and len(Accumulator.__init__.__defaults__) == 1
    monkeypatch.setattr(Accumulator.__init__, "__defaults__", (fake,))
    kwdefaults = ToolLoop.__init__.__kwdefaults__
    assert kwdefaults is not None and "clock" in kwdefaults
    monkeypatch.setattr(ToolLoop.__init__, "__kwdefaults__", {**kwdefaults, "clock": fake})
    return fake


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment switches Textual reads that change colours: as on a plain terminal.

    ``TEXTUAL_DIM_FACTOR`` is bound into Textual's colour functions when Textual is imported
    (before any fixture runs), so it cannot be undone here: the tests stop with a clear message.
    """
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(textual.constants, "FILTERS", "")
    if textual.constants.DIM_FACTOR != 0.66:
        pytest.fail("TEXTUAL_DIM_FACTOR is set: it changes the colour of dim text in every "
                    "snapshot; unset it to run the snapshot tests", pytrace=False)


# -- driving the app -------------------------------------------------------------------------

Snap = Callable[..., bool]
RunBefore = Callable[[Pilot[None]], Awaitable[None]]


def make_app(clock: FakeClock, script: Sequence[object], settings: Settings | None = None) -> LlmChatApp:
    return LlmChatApp(
        settings or fake_settings(LLMCHAT_MODEL="gpt-4o-mini"),
        provider=ScriptedProvider(clock, script),
        theme_dirs=THEME_DIRS,
    )


async def chat_ready(pilot: Pilot[None]) -> ChatScreen:
    """The chat screen, once shown, with the prompt's cursor steady (no blink phase)."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    screen.query_one(PromptInput).cursor_blink = False
    # the conversation's context is counted in a thread at start: wait for its figure
    await wait_until(pilot, lambda: plain_text(screen.query_one("#sidebar-context")).strip() != "Context –")
    return screen


def reply_body(screen: ChatScreen) -> StreamingMarkdown | None:
    """The text of the last assistant reply on screen (None before there is one)."""
    views = [v for v in screen.query(MessageView) if v.role == "assistant"]
    body = views[-1].body if views else None
    return body if isinstance(body, StreamingMarkdown) else None


def reply_state(screen: ChatScreen) -> str | None:
    """The state the sidebar shows for the last reply (None before the first)."""
    stats = screen.query_one(Sidebar).stats
    return None if stats is None else stats.state


async def wait_for_end(pilot: Pilot[None], screen: ChatScreen, state: str) -> None:
    """Wait until the reply ended in `state`, its text is fully rendered and its worker is done."""

    def ended() -> bool:
        body = reply_body(screen)
        return body is not None and body.finished and not screen.streaming and reply_state(screen) == state

    await wait_until(pilot, ended)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def idle(pilot: Pilot[None]) -> None:
    await chat_ready(pilot)


async def finished_reply(pilot: Pilot[None]) -> None:
    """Send PROMPT and wait until the whole reply and its figures are on screen."""
    screen = await chat_ready(pilot)
    await send(pilot, PROMPT)
    await wait_for_end(pilot, screen, "done")


async def reply_mid_stream(pilot: Pilot[None]) -> None:
    """Send PROMPT and wait until the first MID deltas are rendered (the stream stays open)."""
    screen = await chat_ready(pilot)
    await send(pilot, PROMPT)
    partial = "".join(TOKENS[:MID])

    def arrived() -> bool:
        body = reply_body(screen)
        return body is not None and body.source == partial and reply_state(screen) == "streaming"

    await wait_until(pilot, arrived)
    body = reply_body(screen)
    assert body is not None
    await body.flush()
    # The live figures refresh ten times a second; with the clock standing still, wait until
    # each tick-driven widget shows the figures of this moment.
    view = screen.query(MessageView).last()
    await wait_until(pilot, lambda: sidebar_rows(pilot).get("Elapsed") == "0.97 s"
                     and plain_text(view.progress).strip() == "~28 tokens · 51 tok/s")


async def cancelled_reply(pilot: Pilot[None]) -> None:
    """Mid-stream, then Escape: the partial reply stays, marked cancelled."""
    await reply_mid_stream(pilot)
    await pilot.press("escape")
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    await wait_for_end(pilot, screen, "cancelled")


def failed_reply(*said: str) -> RunBefore:
    """Send PROMPT; the provider fails; wait for the error under the reply and check that the
    ✖ line says each of `said`: the error is shown once, there (no toast, issue 17)."""

    async def run_before(pilot: Pilot[None]) -> None:
        screen = await chat_ready(pilot)
        await send(pilot, PROMPT)
        await wait_for_end(pilot, screen, "error")
        await pilot.pause()
        status = " ".join(plain_text(v.status) for v in screen.query(MessageView))
        assert all(part in status for part in said), status
        assert not pilot.app.screen.query("Toast")

    return run_before


def snapshot(snap_compare: Snap, app: LlmChatApp, run_before: RunBefore) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# -- the snapshots ---------------------------------------------------------------------------


def test_idle_screen(snap_compare: Snap, clock: FakeClock) -> None:
    """Start-up: empty transcript, focused prompt, the sidebar's figures as dashes."""
    snapshot(snap_compare, make_app(clock, FINISHED), idle)


def test_reply_mid_stream(snap_compare: Snap, clock: FakeClock) -> None:
    """Half a reply rendered; state streaming, TTFT 0.42 s, elapsed 0.97 s, estimated output."""
    snapshot(snap_compare, make_app(clock, mid_stream(asyncio.Event())), reply_mid_stream)


def test_finished_reply_with_usage(snap_compare: Snap, clock: FakeClock) -> None:
    """The whole reply; state done, finish stop, usage 23 in, TTFT 0.42 s, elapsed 1.62 s."""
    snapshot(snap_compare, make_app(clock, FINISHED), finished_reply)


def test_cancelled_reply(snap_compare: Snap, clock: FakeClock) -> None:
    """Escape mid-stream: the partial reply marked cancelled, state cancelled."""
    snapshot(snap_compare, make_app(clock, mid_stream(asyncio.Event())), cancelled_reply)


def test_error_before_any_text(snap_compare: Snap, clock: FakeClock) -> None:
    """A 401 before the first token: the ✖ message under the reply, state error in the sidebar,
    and no toast (failed_reply checks there is none, so nothing covers the line under test)."""
    error = AuthenticationError("Incorrect API key provided.", status=401, provider="openai")
    snapshot(snap_compare, make_app(clock, [At(0.31), error]), failed_reply("HTTP 401: Incorrect API key provided."))


def test_error_mid_reply(snap_compare: Snap, clock: FakeClock) -> None:
    """A 500 after part of the reply: the text stays, the ✖ line under it says how to go on
    (/retry, /continue); no toast covers it."""
    error = ServerError("The server had an error while processing your request.", status=500,
                        provider="openai")
    snapshot(snap_compare, make_app(clock, mid_stream(error)), failed_reply("HTTP 500", "/retry", "/continue"))


@pytest.mark.parametrize("theme_file", THEME_FILES, ids=[p.stem for p in THEME_FILES])
def test_theme(snap_compare: Snap, clock: FakeClock, theme_file: Path) -> None:
    """A finished reply in each shipped theme."""
    theme = load_theme(theme_file).name
    app = make_app(clock, FINISHED, fake_settings(LLMCHAT_MODEL="gpt-4o-mini", LLMCHAT_THEME=theme))

    async def run_before(pilot: Pilot[None]) -> None:
        assert pilot.app.theme == theme
        await finished_reply(pilot)

    snapshot(snap_compare, app, run_before)


def test_the_theme_snapshots_cover_the_shipped_themes() -> None:
    """test_theme reads the themes folder: an empty or wrong folder would skip it silently."""
    assert len(THEME_FILES) >= 6
    assert [load_theme(p).name for p in THEME_FILES] == [p.stem for p in THEME_FILES]


# -- the README's screenshots ----------------------------------------------------------------


def test_readme_screenshots_come_from_these_snapshots() -> None:
    """Every SVG image in the README is one of these snapshot files, so it shows the app as it
    is (a renamed test or a hand-made screenshot fails here)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+\.svg)\)", readme)
    assert images, "the README shows no screenshot"
    for image in images:
        path = (REPO / image).resolve()
        assert path.parent == SNAPSHOTS, f"README image {image} is not a snapshot of {Path(__file__).name}"
        assert path.is_file(), f"README image {image} does not exist"
