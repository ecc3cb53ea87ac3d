"""Shell completion (Typer/click): commands, options, provider and theme names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LLMCHAT = str(Path(sys.executable).parent / "llmchat")
"""The console script: click names the completion variable after the program (_LLMCHAT_COMPLETE)."""


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words` (click's bash protocol)."""
    env = dict(os.environ, _LLMCHAT_COMPLETE="complete_bash", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    result = subprocess.run([LLMCHAT], env=env, capture_output=True,
                            text=True, timeout=120, check=True,
                            stdin=subprocess.DEVNULL)
    return result.stdout.split()


@pytest.mark.timeout(180)
def test_commands_and_options_complete() -> None:
    assert {"ask", "history", "models", "config"} <= set(complete("llmchat "))
    assert complete("llmchat ask --rea") == ["--reasoning", "--reasoning-effort"]


@pytest.mark.timeout(180)
def test_provider_names_include_the_config_files_profiles() -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "llmchat" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[providers.gpu-box]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n')
    assert complete("llmchat -p g") == ["gemini", "gpu-box", "groq"]
    assert complete("llmchat ask -p o") == ["ollama", "openai", "openai-responses", "openrouter"]


@pytest.mark.timeout(180)
def test_theme_names_complete() -> None:
    assert "llmchat-light" in complete("llmchat --theme llmchat-l")
    assert all(name.startswith("llmchat-l") for name in complete("llmchat --theme llmchat-l"))
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "themes").glob("*.toml"))
    everything = complete("llmchat --theme ")
    assert set(shipped) <= set(everything)  # every shipped theme (six), and the README says so
    assert {"textual-dark", "nord", "gruvbox"} <= set(everything)  # accepted, so offered (issue 17)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in shipped)
    assert "ships `llmchat-dark` and `llmchat-light`" not in readme


@pytest.mark.timeout(180)
def test_install_completion_is_offered() -> None:
    result = subprocess.run([LLMCHAT, "--show-completion", "bash"],
                            capture_output=True, text=True, timeout=120)
    assert "_LLMCHAT_COMPLETE" in result.stdout
