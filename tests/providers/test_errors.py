"""Errors people understand: each class of failure says what happened and what to do."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    AuthenticationError,
    ConnectError,
    NotFoundError,
    RateLimitError,
    ServerError,
    connect_error,
    error_for_status,
)
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy


@pytest.mark.parametrize(
    ("status", "body", "kind", "hint_part"),
    [
        (401, '{"error": {"message": "Incorrect API key provided"}}', AuthenticationError, "API key"),
        (403, '{"error": {"message": "Project does not have access to model"}}', AuthenticationError, "no access"),
        (404, '{"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}',
         NotFoundError, "llmchat models"),
        (404, "<html><body>Not Found</body></html>", NotFoundError, "base URL"),
        (429, '{"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}',
         RateLimitError, "billing"),
        (429, '{"error": {"message": "Rate limit reached"}}', RateLimitError, "wait a moment"),
        (503, '{"error": {"message": "overloaded"}}', ServerError, "try again shortly"),
    ],
)
def test_status_errors_carry_a_hint(status: int, body: str, kind: type, hint_part: str) -> None:
    error = error_for_status(status, body, "openai")
    assert type(error) is kind and error.status == status
    line = error.describe()
    assert line.startswith(f"openai: HTTP {status}") and hint_part in line


@pytest.mark.parametrize(
    ("text", "hint_part"),
    [
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "TLS"),
        ("[Errno -2] Name or service not known", "does not resolve"),
        ("[Errno 101] Network is unreachable", "unreachable"),
        ("Request URL is missing an 'http://' or 'https://' protocol.", "http://"),
        ("All connection attempts failed", "running"),
    ],
)
def test_connect_errors_name_the_cause(text: str, hint_part: str) -> None:
    error = connect_error("http://h/v1/chat/completions", OSError(text), "openai")
    assert isinstance(error, ConnectError) and hint_part in error.describe()


async def test_https_to_a_plain_http_server_is_a_tls_error() -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)  # the TLS ClientHello
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient() as client:
            provider = OpenAIProvider(client=client, base_url=f"https://127.0.0.1:{port}/v1",
                                      policy=StreamPolicy(retries=0, connect_timeout=5))
            with pytest.raises(ConnectError) as info:
                async for _ in provider.stream(ChatRequest(model="m", messages=[])):
                    pass
    finally:
        server.close()
    assert "TLS" in info.value.describe()
