"""`llmchat ask` must start fast: nothing on its path may import Textual (shared/DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "llmchat.cli", "llmchat.ask", "llmchat.render", "llmchat.providers", "llmchat.providers.openai",
    "llmchat.providers.anthropic", "llmchat.providers.ollama", "llmchat.chat.reply", "llmchat.config",
    "llmchat.mcp.config", "llmchat.mcp.use",
)


def test_ask_path_does_not_import_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'mcp', 'mcp_types'))\n"
        "    assert not loaded, (name, loaded[:5])\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_textual_and_mcp_are_importable_so_the_check_above_means_something() -> None:
    code = "import sys, textual, mcp; print('textual' in sys.modules and 'mcp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
