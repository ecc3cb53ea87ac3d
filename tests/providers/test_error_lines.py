"""Error messages are one line a person can read (issue 20): web pages, long or multi-line
texts, redirects and 200 answers that are not a stream, against the loopback server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    MAX_MESSAGE,
    BadRequestError,
    NotAStream,
    ProviderError,
    RedirectError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.events import ContentDelta, Retrying
from llmchat.providers.gemini import GeminiProvider
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.responses import ResponsesProvider
from tests.loopback import LoopbackServer, Reply, Request, completion, json_reply

NGINX_500 = b"""<html>
<head><title>500 Internal Server Error</title></head>
<body>
<center><h1>500 Internal Server Error</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
"""

LITELLM_400 = {
    "error": {
        "message": "litellm.BadRequestError: OpenAIException - Error code: 400\n"
        "Received Model Group=gpt-4o\nAvailable Model Group Fallbacks=None\n"
        "LiteLLM Retried: 1 times, LiteLLM Max Retries: 2\n\nTraceback:\n  line one\n  line two\n"
        "  line three\nend",
        "type": None, "param": None, "code": "400",
    }
}

CAPTIVE_PORTAL = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Hotel Wi-Fi &amp; Login</title></head>
<body><form action="/login"><input name="room"></form></body></html>
"""

Provider = Callable[[httpx.AsyncClient, LoopbackServer], Any]
PROVIDERS: dict[str, Provider] = {
    "openai": lambda client, server: OpenAIProvider(client=client, base_url=server.base_url, api_key="k"),
    "anthropic": lambda client, server: AnthropicProvider(client=client, base_url=server.base_url, api_key="k"),
    "ollama": lambda client, server: OllamaProvider(client=client, base_url=server.base_url),
    "openai-responses": lambda client, server: ResponsesProvider(client=client, base_url=server.base_url, api_key="k"),
    "gemini": lambda client, server: GeminiProvider(client=client, base_url=f"http://127.0.0.1:{server.port}",
                                                    api_key="k"),
}


def html_reply(status: int, body: bytes, **headers: str) -> Reply:
    return Reply(status=status, parts=[body], headers={"content-type": "text/html", **headers}, chunked=False)


async def failure(server: LoopbackServer, kind: str = "openai", **policy: Any) -> tuple[list[Any], ProviderError]:
    """The events before the stream failed, and the error."""
    events: list[Any] = []
    async with httpx.AsyncClient(timeout=10) as client:
        provider = PROVIDERS[kind](client, server)
        provider.policy = StreamPolicy(**{"retries": 0, **policy})
        with pytest.raises(ProviderError) as info:
            async for event in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])):
                events.append(event)
    return events, info.value


def assert_one_readable_line(error: ProviderError) -> str:
    line = error.describe()
    assert "\n" not in line and "\r" not in line
    assert "<html" not in line.lower() and "<head" not in line.lower()
    assert len(line) <= 2 * MAX_MESSAGE
    return line


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_an_html_error_page_is_named_not_printed(server: LoopbackServer, kind: str) -> None:
    server.handler = lambda _r: html_reply(500, NGINX_500)
    _, error = await failure(server, kind)
    line = assert_one_readable_line(error)
    assert isinstance(error, ServerError) and error.status == 500
    assert "HTTP 500 Internal Server Error (an HTML page from the server)" in line


async def test_an_html_page_without_content_type_is_recognised(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(status=502, parts=[b"\n\n  <!doctype html><p>Bad gateway</p>"],
                                      headers={"content-type": "text/plain"}, chunked=False)
    _, error = await failure(server)
    assert "HTTP 502 Bad Gateway (an HTML page from the server)" in assert_one_readable_line(error)


async def test_a_multi_line_json_error_text_is_one_line(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(400, LITELLM_400)
    _, error = await failure(server)
    line = assert_one_readable_line(error)
    assert isinstance(error, BadRequestError)
    assert "litellm.BadRequestError: OpenAIException - Error code: 400 Received Model Group=gpt-4o" in line


async def test_a_huge_plain_text_error_is_cut(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(status=500, parts=[("word " * 20_000).encode()],
                                      headers={"content-type": "text/plain"}, chunked=False)
    _, error = await failure(server)
    assert_one_readable_line(error)
    assert len(error.message) == MAX_MESSAGE and error.message.endswith("…")


async def test_an_empty_error_body_gives_the_status_phrase(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(status=503, parts=[], headers={}, chunked=False)
    _, error = await failure(server)
    assert "HTTP 503 Service Unavailable" in assert_one_readable_line(error)


async def test_each_retry_note_is_one_line_too(server: LoopbackServer) -> None:
    server.handler = lambda _r: html_reply(503, NGINX_500, **{"retry-after-ms": "1"})
    events, error = await failure(server, retries=2)
    retries = [e for e in events if isinstance(e, Retrying)]
    assert len(retries) == 2 and len(server.requests) == 3
    for retry in retries:
        assert "\n" not in retry.error and "<html" not in retry.error
        assert "Service Unavailable (an HTML page from the server)" in retry.error
    assert_one_readable_line(error)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_redirect_says_where_and_is_never_followed(server: LoopbackServer, kind: str, status: int) -> None:
    def handler(request: Request) -> Reply:
        if request.path.startswith("/elsewhere"):
            return Reply(parts=[completion(["followed!"])])
        return Reply(status=status, parts=[b"<html>moved</html>"],
                     headers={"location": f"http://127.0.0.1:{server.port}/elsewhere/v1", "content-type": "text/html"},
                     chunked=False)

    server.handler = handler
    events, error = await failure(server, kind)
    line = assert_one_readable_line(error)
    assert isinstance(error, RedirectError) and error.status == status
    assert f"redirected the request to http://127.0.0.1:{server.port}/elsewhere/v1" in line
    assert "does not follow redirects" in line
    assert [r.path for r in server.requests if r.path.startswith("/elsewhere")] == []  # the key stayed home
    assert not any(isinstance(e, ContentDelta) for e in events)


async def test_a_relative_redirect_is_resolved_and_a_missing_location_said(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(status=302, parts=[], headers={"location": "/login?next=%2Fv1"}, chunked=False)
    _, error = await failure(server)
    assert f"to http://127.0.0.1:{server.port}/login?next=%2Fv1 (Found)" in error.describe()
    server.handler = lambda _r: Reply(status=303, parts=[], headers={}, chunked=False)
    _, error = await failure(server)
    assert "without saying where" in error.describe()


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_200_web_page_is_not_a_closed_connection(server: LoopbackServer, kind: str) -> None:
    server.handler = lambda _r: html_reply(200, CAPTIVE_PORTAL)
    _, error = await failure(server, kind)
    line = assert_one_readable_line(error)
    assert isinstance(error, NotAStream) and not isinstance(error, StreamInterrupted)
    assert "an HTML page titled 'Hotel Wi-Fi & Login' instead of an event stream" in line
    assert "captive portal" in line and "connection closed" not in line


async def test_a_200_web_page_sent_as_an_event_stream_is_recognised(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[CAPTIVE_PORTAL[:40], CAPTIVE_PORTAL[40:]])  # text/event-stream
    _, error = await failure(server)
    assert isinstance(error, NotAStream) and "HTML page" in error.describe()


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_a_200_json_document_that_is_not_a_reply_says_so(server: LoopbackServer, kind: str) -> None:
    server.handler = lambda _r: json_reply(200, {"object": "list", "data": [{"id": "m"}]})
    _, error = await failure(server, kind)
    line = assert_one_readable_line(error)
    assert isinstance(error, NotAStream) and "a JSON document instead of an event stream" in line


async def test_a_200_json_document_with_a_detail_names_it(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {"detail": "Not Found"})
    _, error = await failure(server)
    assert "a JSON document instead of an event stream: Not Found" in error.describe()


async def test_a_stream_cut_after_text_is_still_interrupted(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["partial"], done=False, finish="")[:60]])
    events, error = await failure(server)
    assert type(error) is StreamInterrupted


async def test_a_whole_json_completion_is_still_read(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, {
        "id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}],
    })
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k")
        events = [e async for e in provider.stream(ChatRequest(model="m", messages=[]))]
    assert ContentDelta("whole") in events


async def test_model_lists_say_redirect_and_web_page(server: LoopbackServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k")
        server.handler = lambda _r: Reply(status=302, parts=[], headers={"location": "https://login.example/"},
                                          chunked=False)
        with pytest.raises(RedirectError) as redirect:
            await provider.list_models()
        assert "redirected the request to https://login.example/" in redirect.value.describe()
        server.handler = lambda _r: html_reply(200, CAPTIVE_PORTAL)
        with pytest.raises(ServerError) as page:
            await provider.list_models()
        line = page.value.describe()
        assert "HTML page titled 'Hotel Wi-Fi & Login'" in line and "<html" not in line
