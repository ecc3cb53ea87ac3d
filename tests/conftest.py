"""Shared fixtures: a loopback provider server and an isolated environment."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.loopback import LoopbackServer

# A suite started in the background of a shell without job control (`.ci/run &`, nohup) has
# SIGINT ignored, and an ignored signal is inherited through exec: the children that the Ctrl-C
# tests interrupt would never see it. Python's own handler is reset to the default on exec.
def _let_sigint_reach_children() -> None:
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:  # not the main thread: nothing to do from here
            pass


_let_sigint_reach_children()


@pytest.fixture(autouse=True)
def sigint_reaches_children() -> None:
    """Whatever ignored SIGINT in this process since (a worker, a library), not for the next test."""
    _let_sigint_reach_children()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A fresh loopback HTTP server on 127.0.0.1; set `server.handler` to script replies."""
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's keys, base URLs or config files."""
    home = tmp_path_factory.mktemp("home")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                 "OLLAMA_HOST", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "LLMCHAT_PROVIDER", "LLMCHAT_MODEL", "LLMCHAT_SYSTEM", "LLMCHAT_THEME",
                 "OPENROUTER_API_KEY", "GROQ_API_KEY", "DEEPSEEK_API_KEY", "MISTRAL_API_KEY",
                 "TOGETHER_API_KEY", "FIREWORKS_API_KEY",
                 # the clipboard (llmchat/clipboard.py): no test reaches the real one
                 "DISPLAY", "WAYLAND_DISPLAY", "TMUX", "STY", "SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT",
                 "WSL_DISTRO_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
