"""A model's context window from its server (llmchat.providers.windows), against a real
loopback server speaking each format's model metadata."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llmchat.providers import make_client, windows
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


# -- each server's field, both sides of every check ------------------------------------------------


@pytest.mark.parametrize(("entry", "window"), [
    ({"context_length": 8192}, 8192),  # OpenRouter
    ({"max_model_len": 32768}, 32768),  # vLLM
    ({"context_window": 128000}, 128000),
    ({"context_length": 0, "max_model_len": 4096}, 4096),  # the first positive one
    ({"context_length": None, "context_window": 1000}, 1000),
    ({"context_length": 1}, 1),
    ({"context_length": 0}, None),
    ({"context_length": -5}, None),
    ({"context_length": True}, None),  # a flag is not a count
    ({"context_length": "8192"}, None),
    ({"context_length": 8192.0}, None),
    ({}, None),
])
@pytest.mark.parametrize("kind", ["openai", "openai-responses"])
async def test_the_list_entry_fields(server: LoopbackServer, entry: dict[str, Any], window: int | None,
                                     kind: str) -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/v1/models":
            return json_reply(200, {"data": ["junk", {"id": "other", "context_length": 999}, {"id": "m", **entry}]})
        return json_reply(404, {})

    server.handler = handler
    async with make_client() as client:
        assert await server_context_window(client, kind, server.base_url, "m") == window


async def test_props_is_asked_only_under_a_v1_base(server: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply(200, {"data": []})
        return json_reply(200, {"default_generation_settings": {"n_ctx": 4096}})

    server.handler = handler
    async with make_client() as client:
        assert await server_context_window(client, "openai", root(server) + "/api", "m") is None
        assert [r.path for r in server.requests] == ["/api/models"]
        assert await server_context_window(client, "openai", server.base_url + "/", "m") == 4096
    assert [r.path for r in server.requests][1:] == ["/v1/models", "/props"]


@pytest.mark.parametrize("props", [{"default_generation_settings": None}, {"default_generation_settings": {"n_ctx": 0}},
                                   {}, {"n_ctx": 4096}])
async def test_props_without_a_window(server: LoopbackServer, props: dict[str, Any]) -> None:
    server.handler = lambda r: json_reply(200, {"data": []} if r.path == "/v1/models" else props)
    async with make_client() as client:
        assert await server_context_window(client, "openai", server.base_url, "m") is None


@pytest.mark.parametrize(("kind", "body"), [
    ("openai", ["a", "list"]),  # the model list and /props answer with lists
    ("gemini", ["a", "list"]),
    ("ollama", ["a", "list"]),
    ("openai", {"data": [], "default_generation_settings": ["not", "an", "object"]}),
    ("ollama", {"model_info": ["not", "an", "object"]}),
    ("ollama", "just a string"),
])
async def test_a_body_of_another_shape_is_none_never_an_error(server: LoopbackServer, kind: str, body: Any) -> None:
    server.handler = lambda r: json_reply(200, body)
    base = server.base_url if kind == "openai" else root(server)
    async with make_client() as client:
        assert await server_context_window(client, kind, base, "m") is None


@pytest.mark.parametrize(("shown", "window"), [
    ({"parameters": "num_ctx 2048"}, 2048),
    ({"parameters": "temperature 0.7\nnum_ctx\t8192\nstop \"x\""}, 8192),
    ({"parameters": "  num_ctx 8192"}, None),  # not at a line start: not Ollama's format
    ({"parameters": "my_num_ctx 8192"}, None),
    ({"parameters": "num_ctx 0", "model_info": {"general.architecture": "llama", "llama.context_length": 500}}, None),
    ({"parameters": None, "model_info": {"general.architecture": "gemma3", "gemma3.context_length": 131072}}, 131072),
    ({"model_info": {"llama.context_length": 131072}}, None),  # no architecture named
    ({"model_info": {"None.context_length": 131072, "general.architecture": None}}, None),
    ({"model_info": {"general.architecture": "llama", "qwen2.context_length": 32768}}, None),
    ({"model_info": {"general.architecture": "llama", "llama.context_length": 0}}, None),
    ({}, None),
])
async def test_ollama_show_fields(server: LoopbackServer, shown: dict[str, Any], window: int | None) -> None:
    server.handler = lambda r: json_reply(200, shown)
    async with make_client() as client:
        assert await server_context_window(client, "ollama", root(server) + "/", "llama3.2") == window
    assert server.requests[-1].path == "/api/show"


@pytest.mark.parametrize("status", [201, 404, 500])
async def test_ollama_show_other_than_200_is_none(server: LoopbackServer, status: int) -> None:
    server.handler = lambda r: json_reply(status, {"parameters": "num_ctx 2048"})
    async with make_client() as client:
        assert await server_context_window(client, "ollama", root(server), "m") is None


@pytest.mark.parametrize(("padding", "window"), [(0, 2048), (1, None)])
async def test_ollama_show_body_cap_both_sides(server: LoopbackServer, padding: int, window: int | None) -> None:
    head = b'{"parameters": "num_ctx 2048", "pad": "'
    tail = b'"}'
    fill = windows.MAX_JSON_BODY - len(head) - len(tail) + padding  # exactly the cap, then one byte more
    body = head + b"x" * fill + tail
    server.handler = lambda r: Reply(parts=[body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)],
                                     headers={"content-type": "application/json"})
    async with make_client() as client:
        assert await server_context_window(client, "ollama", root(server), "m") == window


@pytest.mark.parametrize(("model", "path"), [
    ("gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash"),
    ("models/gemini-2.5-pro", "/v1beta/models/gemini-2.5-pro"),  # not "models/models/"
    ("tunedModels/my model", "/v1beta/models/tunedModels/my%20model"),
])
async def test_gemini_model_paths(server: LoopbackServer, model: str, path: str) -> None:
    server.handler = lambda r: json_reply(200, {"inputTokenLimit": 1000})
    async with make_client() as client:
        assert await server_context_window(client, "gemini", root(server) + "/", model) == 1000
    assert server.requests[-1].path == path


async def test_a_silent_server_gives_none_after_the_timeout(server: LoopbackServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "TIMEOUT", 0.5)
    server.handler = lambda r: Reply(parts=[30.0, b"{}"], headers={"content-type": "application/json"})
    async with make_client() as client:
        lookup = asyncio.ensure_future(server_context_window(client, "gemini", root(server), "m"))
        done, _ = await asyncio.wait({lookup}, timeout=20)  # only a lookup that never times out reaches 20 s
        assert lookup in done and lookup.result() is None


async def test_ollama_show_is_a_post_with_the_providers_headers_under_its_base_path(server: LoopbackServer) -> None:
    server.handler = lambda r: json_reply(200, {"parameters": "num_ctx 4096"})
    async with make_client() as client:
        window = await server_context_window(client, "ollama", root(server) + "/gpuX/", "llama3.2",
                                             {"Authorization": "Bearer o-key"})
    assert window == 4096
    sent = server.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/gpuX/api/show")
    assert sent.headers["authorization"] == "Bearer o-key" and json.loads(sent.body) == {"model": "llama3.2"}
