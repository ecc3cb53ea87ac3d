"""Opening a long stored conversation: 2,000 messages, newest shown first.

A temporary history gets a conversation of --messages messages (Markdown answers), then the
real app (App.run_test) opens it --runs times with ChatScreen.open_conversation; the time is
from the call to the next screen refresh after it returned (the newest messages on screen).
Only the newest page is mounted; older pages load on demand.

Run from the repo root: python benchmarks/tui_open.py [--messages 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmchat.chat.models import Message  # noqa: E402
from llmchat.config import load_settings  # noqa: E402
from llmchat.store import Store  # noqa: E402
from llmchat.tui.app import LlmChatApp  # noqa: E402
from llmchat.tui.screens.chat import ChatScreen  # noqa: E402
from llmchat.tui.widgets.message_view import MessageView  # noqa: E402
from tests.fakes import FakeProvider  # noqa: E402

ANSWER = "Here is **an answer** with a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n"


async def main(messages: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        with Store(db) as store:
            cid = store.create_conversation("bench", "m", None)
            for i in range(messages // 2):
                store.add_message(cid, Message("user", f"Question number {i}?"))
                store.add_message(cid, Message("assistant", ANSWER, finish_reason="stop"))
        settings = load_settings(None, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
        app = LlmChatApp(settings, provider=FakeProvider([]), history=db)
        times: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            for _ in range(runs):
                started = time.perf_counter()
                await screen.open_conversation(cid)
                await pilot.pause()  # the refresh that shows it
                times.append((time.perf_counter() - started) * 1000)
            mounted = len(screen.query(MessageView))
            sent = len(screen.conversation.messages)
    print(f"open a conversation of {messages} messages: median {statistics.median(times):.0f} ms, "
          f"worst {max(times):.0f} ms over {runs} runs ({mounted} mounted, {sent} in the next request)")
    print(f"target: under 300 ms -> {'MET' if statistics.median(times) < 300 else 'NOT MET'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.runs))
