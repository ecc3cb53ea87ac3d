"""Wire tests look at one request at a time: providers built here do not retry by default
(tests/providers/test_resilience.py covers retries)."""

from __future__ import annotations

import functools

import pytest

from llmchat.providers import anthropic, gemini, ollama, openai
from llmchat.providers.policy import StreamPolicy


@pytest.fixture(autouse=True)
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (openai, anthropic, ollama, gemini):
        monkeypatch.setattr(module, "StreamPolicy", functools.partial(StreamPolicy, retries=0))
