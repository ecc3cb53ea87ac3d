"""Typing in a long conversation with the context bar on: what a key press costs.

The app runs in-process under Textual's ``run_test`` (Pilot) with a FakeProvider, a model that
is counted exactly (gpt-4o-mini: tiktoken, o200k_base), and a stored conversation of
--messages messages (about --tokens tokens in all) opened at start, so the meter has counted
the conversation once (in a thread) before typing starts. Then --keys letters are pressed one
at a time, each timed from the press until the prompt holds it (``pilot.press`` returns once
the app handled the key). The same is done with the meter's draft handler switched off, for
the baseline, alternating runs so both see the same machine load. Last, the draft count itself
(what runs once typing pauses for 0.25 s) is timed for drafts of 100 and 2,000 characters.

Run from the repo root:
    python benchmarks/tui_meter.py --messages 400 --keys 200 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmchat.chat.models import Message  # noqa: E402
from llmchat.store import Store  # noqa: E402
from llmchat.tui.app import LlmChatApp  # noqa: E402
from llmchat.tui.screens.chat_meter import ChatMeter  # noqa: E402
from llmchat.tui.widgets.prompt_input import PromptInput  # noqa: E402
from tests.fakes import FakeProvider  # noqa: E402
from tests.tui.helpers import THEME_DIRS, chat_screen, fake_settings, wait_until  # noqa: E402

PARAGRAPH = ("The quick brown fox jumps over the lazy dog while the meter counts every token of "
             "this long conversation, exactly, with the model's own tokenizer. ") * 4


def make_history(path: Path, messages: int) -> None:
    with Store(path) as store:
        cid = store.create_conversation("openai", "gpt-4o-mini", None)
        for i in range(messages):
            if i % 2 == 0:
                store.add_message(cid, Message("user", f"Question {i}: {PARAGRAPH}"))
            else:
                rid = store.begin_reply(cid, "openai", "gpt-4o-mini")
                store.finish_reply(rid, Message("assistant", f"Answer {i}: {PARAGRAPH}", finish_reason="stop",
                                                model="gpt-4o-mini", usage=None))


async def one_run(db: Path, keys: int, meter_on: bool) -> list[float]:
    original = ChatMeter.meter_draft_changed
    if not meter_on:
        ChatMeter.meter_draft_changed = lambda self: None  # type: ignore[method-assign]
    try:
        app = LlmChatApp(fake_settings(), provider=FakeProvider([]), theme_dirs=THEME_DIRS, history=db,
                         conversation="latest")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = chat_screen(pilot)
            await wait_until(pilot, lambda: screen._base_tokens is not None, timeout=120)  # counted once
            prompt = screen.query_one(PromptInput)
            prompt.focus()
            times = []
            for i in range(keys):
                letter = "abcdefghij"[i % 10]
                start = time.perf_counter()
                await pilot.press(letter)
                times.append(time.perf_counter() - start)
            assert len(prompt.text) == keys
            if meter_on:
                await wait_until(pilot, lambda: screen._draft_tokens > 0)
            return times
    finally:
        ChatMeter.meter_draft_changed = original  # type: ignore[method-assign]


def draft_cost(chars: int) -> float:
    from llmchat.chat.counting import load_encoding

    encoding = load_encoding("o200k_base")
    text = (PARAGRAPH * (chars // len(PARAGRAPH) + 1))[:chars]
    start = time.perf_counter()
    for _ in range(100):
        len(encoding.encode_ordinary(text))
    return (time.perf_counter() - start) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        make_history(db, args.messages)
        with Store(db) as store:
            _, conversation = store.load_conversation("latest")
        chars = sum(len(m.content) for m in conversation.messages)
        print(f"conversation: {args.messages} messages, {chars:,} characters (~{chars // 4:,} tokens)")
        results: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):
            for meter_on in (True, False):
                results[meter_on] += asyncio.run(one_run(db, args.keys, meter_on))
    for meter_on, times in results.items():
        ms = sorted(t * 1000 for t in times)
        print(f"meter {'on ' if meter_on else 'off'}: key press median {statistics.median(ms):.2f} ms, "
              f"p95 {ms[int(len(ms) * 0.95)]:.2f} ms, max {ms[-1]:.2f} ms ({len(ms)} presses)")
    for chars in (100, 2000):
        print(f"draft count, {chars:,} characters: {draft_cost(chars) * 1000:.3f} ms")


if __name__ == "__main__":
    main()
