"""`list_models` of each provider against the loopback server: path, headers, parsing, errors."""

from __future__ import annotations

import httpx
import pytest

from llmchat.providers import create_provider
from llmchat.providers.errors import AuthenticationError, ConnectError
from tests.loopback import LoopbackServer, json_reply


@pytest.mark.parametrize(
    ("kind", "base", "path", "body", "auth_header"),
    [
        ("openai", "/v1", "/v1/models", {"data": [{"id": "gpt-b"}, {"id": "gpt-a"}]}, "authorization"),
        ("anthropic", "", "/v1/models?limit=1000",
         {"data": [{"id": "claude-b", "type": "model"}, {"id": "claude-a", "type": "model"}], "has_more": False},
         "x-api-key"),
        ("ollama", "", "/api/tags", {"models": [{"name": "qwen3:8b", "model": "qwen3:8b"}, {"name": "llama3.2:latest"}]},
         "authorization"),
    ],
)
async def test_list_models(server: LoopbackServer, kind: str, base: str, path: str, body: dict[str, object],
                           auth_header: str) -> None:
    server.handler = lambda _r: json_reply(200, body)
    async with httpx.AsyncClient() as client:
        provider = create_provider(kind, client=client, name=kind, base_url=f"http://127.0.0.1:{server.port}{base}",
                                   api_key="key-1")
        names = await provider.list_models()
    assert names == sorted(names) and len(names) == 2
    assert names[0] in {"gpt-a", "claude-a", "llama3.2:latest"}
    assert server.requests[-1].path == path and server.requests[-1].method == "GET"
    assert "key-1" in server.requests[-1].headers[auth_header]


async def test_list_models_errors(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(401, {"type": "error", "error": {"type": "authentication_error",
                                                                           "message": "invalid x-api-key"}})
    async with httpx.AsyncClient() as client:
        provider = create_provider("anthropic", client=client, name="anthropic",
                                   base_url=f"http://127.0.0.1:{server.port}", api_key="k")
        with pytest.raises(AuthenticationError, match="invalid x-api-key"):
            await provider.list_models()
        closed = create_provider("ollama", client=client, name="ollama", base_url="http://127.0.0.1:9", api_key=None)
        with pytest.raises(ConnectError):
            await closed.list_models()
