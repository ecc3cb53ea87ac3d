"""OAuth 2.1 sign-in to a remote MCP server (the SDK's OAuthClientProvider) against the test
server with the SDK's authorization server (tests/mcp/auth_server.py) on 127.0.0.1; the test
plays the browser."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from llmchat.mcp.client import McpServers
from llmchat.mcp.config import ServerConfig
from tests.mcp.conftest import serve_test_server


@pytest.fixture
def auth_url(work: Path) -> Iterator[str]:
    """The test server over Streamable HTTP, requiring OAuth."""
    yield from serve_test_server(work, "http", "--auth")


class Browser:
    """A sign-in hook that follows the authorization URL like a browser (the test server
    approves at once and redirects to llmchat's loopback listener)."""

    def __init__(self, deny: bool = False) -> None:
        self.urls: list[str] = []
        self.deny = deny
        self.tasks: list[asyncio.Task[None]] = []

    async def __call__(self, server: str, url: str) -> None:
        self.urls.append(url)
        self.tasks.append(asyncio.create_task(self._visit(url)))

    async def _visit(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=not self.deny) as client:
            if self.deny:  # the user says no: the authorization server redirects with an error
                redirect = parse_qs(urlparse(url).query)["redirect_uri"][0]
                await client.get(redirect, params={"error": "access_denied", "error_description": "the user said no"})
            else:
                await client.get(url)


async def test_sign_in_once_then_the_stored_tokens_are_used(auth_url: str, tmp_path: Path) -> None:
    config = ServerConfig("remote", "http", url=auth_url)
    keys = tmp_path / "config" / "keys.json"
    browser = Browser()
    for _ in range(2):
        async with McpServers([config], tmp_path / "logs", sign_in=browser, key_file=keys) as servers:
            [server] = await servers.start()
            assert server.state == "running", server.error
            assert len(server.tools) == 6
            result = await server.call_tool("echo", {"text": "signed in"})
            assert result.content[0].text == "echo: signed in"  # type: ignore[union-attr]
    assert len(browser.urls) == 1  # the second run used the stored tokens
    assert "code_challenge" in browser.urls[0] and "code_challenge_method=S256" in browser.urls[0]
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    entry = json.loads(json.loads(keys.read_text())["mcp-oauth:remote"])
    assert entry["url"] == auth_url and entry["tokens"]["access_token"] and entry["client"]["client_id"]
    token = entry["tokens"]["access_token"]
    assert token not in (tmp_path / "logs" / "remote.log").read_text()


async def test_a_refused_sign_in_is_reported(auth_url: str, tmp_path: Path) -> None:
    config = ServerConfig("remote", "http", url=auth_url)
    async with McpServers([config], tmp_path / "logs", sign_in=Browser(deny=True),
                          key_file=tmp_path / "keys.json") as servers:
        [server] = await servers.start()
    assert server.state == "failed" and "the user said no" in (server.error or "")


async def test_a_configured_authorization_header_never_signs_in(auth_url: str, tmp_path: Path) -> None:
    config = ServerConfig("remote", "http", url=auth_url, headers={"Authorization": "Bearer wrong"})
    browser = Browser()
    async with McpServers([config], tmp_path / "logs", sign_in=browser, key_file=tmp_path / "keys.json") as servers:
        [server] = await servers.start()
    assert server.state == "failed" and "401" in (server.error or "")
    assert browser.urls == []
