"""Write docs/screenshot.svg: the TUI after one streamed reply from the loopback server.

Run from the repo root: python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmchat import paths  # noqa: E402
from llmchat.config import load_settings  # noqa: E402
from llmchat.tui.app import LlmChatApp  # noqa: E402
from tests.loopback import LoopbackServer, Reply, completion, story_tokens  # noqa: E402


async def main() -> None:
    def handler(request: object) -> Reply:
        return Reply(parts=[completion(story_tokens(1), prompt_tokens=23)])

    with LoopbackServer(handler) as server:
        settings = load_settings(None, {"OPENAI_BASE_URL": server.base_url, "LLMCHAT_MODEL": "gpt-4o-mini"})
        app = LlmChatApp(settings, theme_dirs=(paths.builtin_themes_dir(),))
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press(*"Show me what streaming Markdown looks like")
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            out = Path(__file__).parent / "screenshot.svg"
            app.save_screenshot(filename=out.name, path=str(out.parent))
            print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
