"""Ollama's side paths against the loopback server, written against the mutants that lived
(`python tools/mutation.py providers.ollama`): list content flattened to text and base64
``images``, tool-call arguments in every shape, the end of a stream without ``done: true``,
the model list's entries, and the vision check of ``POST /api/show``.

Expected values follow the Ollama API reference ("Generate a chat completion": ``images`` are
base64 strings without a data-URL prefix and ``tool_calls[].function.arguments`` is an object;
"List Local Models"; "Show Model Information": ``capabilities``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import StreamInterrupted
from llmchat.providers.events import ContentDelta, Finish, StreamEvent
from llmchat.providers.ollama import OllamaProvider
from tests.loopback import DROP, LoopbackServer, Reply, Request, json_reply

NDJSON = {"content-type": "application/x-ndjson"}
DONE = b'{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}\n'


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def text_line(text: str) -> bytes:
    return (json.dumps({"model": "m", "message": {"role": "assistant", "content": text}, "done": False}) + "\n").encode()


async def sent_messages(server: LoopbackServer, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``messages`` of the body OllamaProvider sends for `messages` (no system prompt)."""
    server.handler = lambda _r: Reply(parts=[text_line("ok") + DONE], headers=dict(NDJSON))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server))
        events = [e async for e in provider.stream(ChatRequest(model="m", messages=messages))]
    assert events == [ContentDelta("ok"), Finish("stop", "stop")]
    return server.requests[-1].json()["messages"]


# --- list content: text joined, data-URL images as base64 ----------------------------------------


async def test_list_content_becomes_text_and_base64_images(server: LoopbackServer) -> None:
    content = [
        {"type": "text", "text": "what is "},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        "not a part",  # skipped
        {"type": "text", "text": None},  # no text: nothing
        {"type": "text", "text": "this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},  # not inline: left out
        {"type": "image_url"},  # no URL at all
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]
    (message,) = await sent_messages(server, [{"role": "user", "content": content}])
    assert message == {"role": "user", "content": "what is this?", "images": ["iVBORw0KGgo=", "/9j/4AAQ"]}


async def test_llmchat_image_extension_is_not_sent_as_ollama_images(server: LoopbackServer) -> None:
    """``images`` on a message is llmchat's own extension (``[{"media_type", "data"}]``, see
    base.WIRE_EXTENSIONS), not Ollama's list of base64 strings: only the content's images go."""
    content = [{"type": "text", "text": "and this"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBBB"}}]
    (message,) = await sent_messages(server, [{"role": "user", "content": content,
                                               "images": [{"media_type": "image/png", "data": "AAAA"}]}])
    assert message == {"role": "user", "content": "and this", "images": ["BBBB"]}


async def test_list_content_without_images_has_no_images_field(server: LoopbackServer) -> None:
    (message,) = await sent_messages(server, [{"role": "user", "content": [{"type": "text", "text": "plain"}]}])
    assert message == {"role": "user", "content": "plain"}


async def test_a_data_url_split_only_at_its_first_base64_marker(server: LoopbackServer) -> None:
    url = "data:text/plain;base64,QQ==;base64,Qg=="  # odd, but the data is everything after the first marker
    (message,) = await sent_messages(server, [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}]}])
    assert message["images"] == ["QQ==;base64,Qg=="] and message["content"] == ""


# --- tool-call arguments: a string of JSON, an object, nothing --------------------------------------


@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),  # Chat Completions: a JSON string
        ({"city": "Oslo"}, {"city": "Oslo"}),  # already an object (a history written by Ollama)
        ([1, 2], [1, 2]),  # not a string: passed as it is
        (None, {}),
        ("", {}),
        ("not json", {}),
    ],
)
async def test_tool_call_arguments_become_an_object(server: LoopbackServer, arguments: Any, sent: Any) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    _, assistant, tool = await sent_messages(server, messages)
    assert assistant["tool_calls"] == [{"function": {"name": "get_weather", "arguments": sent}, "id": "call_1"}]
    assert assistant["content"] == ""
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "sunny", "tool_name": "get_weather"}


async def test_a_call_without_id_names_no_tool_result(server: LoopbackServer) -> None:
    messages = [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "now", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "noon"},
    ]
    assistant, tool = await sent_messages(server, messages)
    assert assistant["tool_calls"] == [{"function": {"name": "now", "arguments": {}}}]
    assert "tool_name" not in tool


async def test_a_tool_result_keeps_its_own_tool_name(server: LoopbackServer) -> None:
    messages = [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "x", "tool_name": "weather_v2"},
    ]
    _, tool = await sent_messages(server, messages)
    assert tool["tool_name"] == "weather_v2"


# --- a stream that ends without done: true ------------------------------------------------------


@pytest.mark.parametrize(("parts", "message"), [
    ([text_line("part")], "the connection closed before the reply was finished"),
    ([text_line("part"), b'{"model":"m","mess', DROP], "the connection was lost before the reply was finished"),
])
async def test_a_stream_without_done_names_how_it_ended(server: LoopbackServer, parts: list[Any],
                                                       message: str) -> None:
    server.handler = lambda _r: Reply(parts=parts, headers=dict(NDJSON))
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server), name="local")
        with pytest.raises(StreamInterrupted) as info:
            async for event in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])):
                events.append(event)
    assert events == [ContentDelta("part")]
    assert info.value.message == message and info.value.provider == "local"


# --- the model list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"models": [{"name": "b:1"}, {"model": "a:latest"}, {"name": "", "model": "c:2"}]}, ["a:latest", "b:1", "c:2"]),
        ({"models": [{"name": None}, {}, "qwen3", 7, {"digest": "x"}, {"name": "z"}]}, ["z"]),
        ({"models": None}, []),
        ({}, []),
        (["qwen3"], []),  # not an object
    ],
)
async def test_model_list_entries(server: LoopbackServer, body: Any, names: list[str]) -> None:
    server.handler = lambda _r: json_reply(200, body)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server), name="local")
        assert await provider.list_models() == names
    assert server.requests[-1].path == "/api/tags"


async def test_model_list_error_names_the_provider(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(500, {"error": "broken"})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server), name="local")
        with pytest.raises(Exception) as info:
            await provider.list_models()
    assert getattr(info.value, "provider", None) == "local" and "broken" in str(info.value)


# --- which models take images (POST /api/show) ---------------------------------------------------


def show_handler(request: Request) -> Reply:
    name = request.json()["model"]
    if name.startswith("vision"):
        return json_reply(200, {"capabilities": ["completion", "vision"]})
    if name == "text":
        return json_reply(200, {"capabilities": ["completion", "tools"]})
    if name == "odd":
        return json_reply(200, {"capabilities": "vision"})  # not a list
    if name == "listless":
        return json_reply(200, ["vision"])
    if name == "broken":
        return Reply(status=200, parts=[b"{not json"], headers={"content-type": "application/json"}, chunked=False)
    return json_reply(404, {"capabilities": ["vision"], "error": f"model '{name}' not found"})


async def test_image_models_asks_api_show_for_each_name(server: LoopbackServer) -> None:
    server.handler = show_handler
    names = [f"vision{i}" for i in range(10)] + ["text", "odd", "listless", "broken", "missing"]
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server) + "/api", api_key="k1")
        found = await provider.image_models(names)
    assert found == {f"vision{i}" for i in range(10)}  # more than one batch of 8, all asked
    asked = sorted(r.json()["model"] for r in server.requests)
    assert asked == sorted(names)
    assert {r.path for r in server.requests} == {"/api/show"} and {r.method for r in server.requests} == {"POST"}
    assert all(r.headers["authorization"] == "Bearer k1" for r in server.requests)


async def test_image_models_of_nothing_asks_nothing(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert await OllamaProvider(client=client, base_url=root(server)).image_models([]) == set()
    assert server.requests == []


async def test_image_models_when_the_server_is_gone() -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        provider = OllamaProvider(client=client, base_url="http://127.0.0.1:9")
        assert await provider.image_models(["vision"]) == set()


# --- lines that are not chat chunks ---------------------------------------------------------------


@pytest.mark.parametrize(("bad", "message"), [
    (b"{not json", "malformed stream line: '{not json'"),
    (b"[1, 2]", "unexpected stream line: '[1, 2]'"),
    (b'"text"', "unexpected stream line: '\"text\"'"),
    (b"{" + b"x" * 300, "malformed stream line: " + repr("{" + "x" * 199)),  # cut at 200 characters
    (b"[" + b"1," * 150 + b"1]", "unexpected stream line: " + repr("[" + "1," * 99 + "1")),
])
async def test_a_line_that_is_not_a_chunk_is_named_in_the_error(server: LoopbackServer, bad: bytes,
                                                                message: str) -> None:
    from llmchat.providers.errors import ServerError

    server.handler = lambda _r: Reply(parts=[text_line("a"), bad + b"\n", DONE], headers=dict(NDJSON))
    events: list[StreamEvent] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server), name="local")
        with pytest.raises(ServerError) as info:
            async for event in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])):
                events.append(event)
    assert events == [ContentDelta("a")]
    assert type(info.value) is ServerError
    assert info.value.message == message and info.value.provider == "local"


async def test_the_finish_names_the_model_that_answered(server: LoopbackServer) -> None:
    first = text_line("a").replace(b'"model": "m"', b'"model": "qwen3:8b"')
    last = DONE.replace(b'"model":"m"', b'"model":"qwen3:8b-q4"')
    server.handler = lambda _r: Reply(parts=[first, last], headers=dict(NDJSON))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server))
        events = [e async for e in provider.stream(ChatRequest(model="qwen3", messages=[]))]
    assert events == [ContentDelta("a"), Finish("stop", "stop")]
    assert events[-1].model == "qwen3:8b-q4"  # type: ignore[attr-defined]


async def test_request_headers_and_a_base_url_with_a_path(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[text_line("ok") + DONE], headers=dict(NDJSON))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=root(server) + "/proxyX/", headers={"X-Team": "t"})
        assert provider.base_url == root(server) + "/proxyX"
        [e async for e in provider.stream(ChatRequest(model="m", messages=[]))]
    request = server.requests[0]
    assert request.path == "/proxyX/api/chat"
    assert request.headers["accept"] == "application/x-ndjson"
    assert request.headers["user-agent"].startswith("llmchat/") and request.headers["x-team"] == "t"
    assert "authorization" not in request.headers  # no key, no header


async def test_image_models_gives_each_question_ten_seconds(server: LoopbackServer) -> None:
    """A local server that hangs on one model must not hang the model list: each ``/api/show``
    has its own 10 s timeout, whatever the client's (here none)."""
    timeouts: list[Any] = []

    async def note(request: httpx.Request) -> None:
        timeouts.append(request.extensions.get("timeout"))

    server.handler = show_handler
    async with httpx.AsyncClient(timeout=None, event_hooks={"request": [note]}) as client:
        assert await OllamaProvider(client=client, base_url=root(server)).image_models(["vision1"]) == {"vision1"}
    assert timeouts == [{"connect": 10.0, "read": 10.0, "write": 10.0, "pool": 10.0}]
