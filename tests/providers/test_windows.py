"""A model's context window from its server (llmchat.providers.windows), against a real
loopback server speaking each format's model metadata."""

from __future__ import annotations

import json

from llmchat.providers import make_client
from llmchat.providers.windows import server_context_window
from tests.loopback import LoopbackServer, Reply, Request, json_reply


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def test_openrouter_model_list_context_length(server: LoopbackServer) -> None:
    server.handler = lambda r: json_reply(200, {"data": [
        {"id": "other/model", "context_length": 8192},
        {"id": "anthropic/claude-3.5-sonnet", "context_length": 200000}]})
    async with make_client() as client:
        window = await server_context_window(client, "openai", server.base_url, "anthropic/claude-3.5-sonnet",
                                             {"Authorization": "Bearer sk-test"})
    assert window == 200000
    assert server.requests[0].path == "/v1/models"
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_llama_server_props_n_ctx(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/v1/models":
            return json_reply(200, {"data": [{"id": "qwen.gguf", "meta": {"n_ctx_train": 32768}}]})
        if request.path == "/props":
            return json_reply(200, {"default_generation_settings": {"n_ctx": 4096}})
        return json_reply(404, {})

    server.handler = handler
    async with make_client() as client:
        assert await server_context_window(client, "openai", server.base_url, "qwen.gguf") == 4096


async def test_ollama_show_num_ctx_then_model_info(server: LoopbackServer) -> None:
    shown: list[dict[str, object]] = [
        {"parameters": "stop \"<|eot|>\"\nnum_ctx                        16384", "model_info": {
            "general.architecture": "llama", "llama.context_length": 131072}},
        {"parameters": "", "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}},
    ]
    server.handler = lambda r: json_reply(200, shown.pop(0))
    async with make_client() as client:
        assert await server_context_window(client, "ollama", root(server), "llama3.2") == 16384
        assert await server_context_window(client, "ollama", root(server), "qwen2.5") == 32768
    assert server.requests[0].path == "/api/show" and json.loads(server.requests[0].body) == {"model": "llama3.2"}


async def test_gemini_input_token_limit(server: LoopbackServer) -> None:
    server.handler = lambda r: json_reply(200, {"name": "models/gemini-2.5-flash", "inputTokenLimit": 1048576,
                                                "outputTokenLimit": 65536})
    async with make_client() as client:
        window = await server_context_window(client, "gemini", root(server), "gemini-2.5-flash",
                                             {"x-goog-api-key": "g-test"})
    assert window == 1048576
    assert server.requests[0].path == "/v1beta/models/gemini-2.5-flash"


async def test_no_window_is_none_never_an_error(server: LoopbackServer) -> None:
    server.handler = lambda r: json_reply(200, {"data": [{"id": "gpt-4o", "object": "model"}]})
    async with make_client() as client:
        assert await server_context_window(client, "openai", server.base_url, "gpt-4o") is None  # and /props 200s nothing useful
        server.handler = lambda r: json_reply(500, {"error": {"message": "boom"}})
        assert await server_context_window(client, "openai", server.base_url, "gpt-4o") is None
        server.handler = lambda r: Reply(parts=[b"not json"], headers={"content-type": "application/json"},
                                         chunked=False)
        assert await server_context_window(client, "gemini", root(server), "x") is None
        server.handler = lambda r: json_reply(200, {"inputTokenLimit": "a lot"})
        assert await server_context_window(client, "gemini", root(server), "x") is None
        assert await server_context_window(client, "anthropic", root(server), "claude") is None
