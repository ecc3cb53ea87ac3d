"""--debug logs: full detail, no secrets."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import httpx

from llmchat.debuglog import RedactingFilter, enable
from llmchat.providers.base import ChatRequest
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply, completion


def test_filter_redacts_known_keys_and_sensitive_headers() -> None:
    f = RedactingFilter(["sk-live-123456"])
    assert f.redact("key sk-live-123456 leaked") == "key [REDACTED] leaked"
    assert "abc" not in f.redact("headers={'x-api-key': 'abc', 'accept': 'x'}")
    assert "tok" not in f.redact("(b'Authorization', b'Bearer tok')")
    assert f.redact("(b'accept', b'text/event-stream')") == "(b'accept', b'text/event-stream')"
    assert f.redact("{'Authorization': '[REDACTED]'}") == "{'Authorization': '[REDACTED]'}"


async def test_debug_log_of_a_real_request_has_no_key(server: LoopbackServer, tmp_path: Path) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["hi"])])
    path = enable(tmp_path / "state", ["sk-debug-secret-1"])
    try:
        async with httpx.AsyncClient() as client:
            provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-debug-secret-1")
            logging.getLogger("llmchat").debug("provider %r headers %r", provider, provider._headers)
            async for _ in provider.stream(ChatRequest(model="m", messages=[])):
                pass
    finally:
        for name in ("llmchat", "httpx", "httpcore"):
            for handler in logging.getLogger(name).handlers[:]:
                logging.getLogger(name).removeHandler(handler)
                handler.close()
    text = path.read_text()
    assert "POST" in text and "chat/completions" in text  # full detail ...
    assert "sk-debug-secret-1" not in text  # ... and no key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
