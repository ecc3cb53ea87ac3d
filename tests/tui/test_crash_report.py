"""A crash in the TUI never prints an API key (Textual's report shows local variables)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from llmchat.config import load_settings
from llmchat.tui.app import LlmChatApp

class Crashing(LlmChatApp):
    def on_mount(self) -> None:
        api_key = "sk-THIS-IS-SECRET"
        headers = {"Authorization": "Bearer " + api_key}
        raise RuntimeError("boom " + str(len(headers)))

settings = load_settings(None, {"OPENAI_API_KEY": "sk-THIS-IS-SECRET"})
Crashing(settings).run(headless=True)
"""


def test_crash_report_has_no_locals_and_no_key() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert "RuntimeError" in output and "boom 1" in output  # the crash is reported ...
    assert "sk-THIS-IS-SECRET" not in output  # ... without the key in any local variable
