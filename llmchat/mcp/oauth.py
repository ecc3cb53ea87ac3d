"""OAuth 2.1 for remote MCP servers, through the SDK's :class:`OAuthClientProvider`.

Spec: basic/authorization (authorization code + PKCE, dynamic client registration, the
protected-resource and authorization-server metadata discovery all done by the SDK). llmchat
supplies what the SDK leaves to the host:

- the redirect: a loopback listener on ``http://127.0.0.1:PORT/callback`` that takes the
  authorization code (RFC 8252, section 7.3), started only when a sign-in is needed;
- telling the user: :data:`SignIn` is called with the server's name and the URL to open
  (``ask`` and ``llmchat mcp`` print it and try the browser; the session notifies);
- the tokens: kept in the owner-only key file (:mod:`llmchat.keys`) under ``mcp-oauth:NAME``
  with the registered client, so later runs (and token refreshes, which the SDK does when a
  token expires) need no sign-in.

A server whose ``headers`` carry ``Authorization`` never uses OAuth; another server only
signs in when it answers 401.
"""

from __future__ import annotations

import asyncio
import json
import socket
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from llmchat.keys import read_keys, write_keys

SignIn = Callable[[str, str], Awaitable[None]]
"""Called with (server name, authorization URL) when the user must sign in."""

SIGN_IN_TIMEOUT = 300.0
"""Seconds the loopback listener waits for the browser to come back."""

_PAGE = (b"<!doctype html><meta charset=utf-8><title>llmchat</title>"
         b"<p>%s You can close this tab and go back to llmchat.</p>")


class KeyFileTokens:
    """The SDK's ``TokenStorage`` in the owner-only key file, one entry per server.

    The entry is JSON text: ``{"url", "port", "tokens", "client"}``; one for another URL is
    ignored (the server moved: sign in again).
    """

    def __init__(self, path: Path, server: str, url: str) -> None:
        self.path = path
        self.key = f"mcp-oauth:{server}"
        self.url = url

    def _entry(self) -> dict[str, Any]:
        raw = read_keys(self.path).get(self.key)
        try:
            entry = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return entry if isinstance(entry, dict) and entry.get("url") == self.url else {}

    def _update(self, **values: Any) -> None:
        keys = read_keys(self.path)
        entry = {**self._entry(), "url": self.url, **values}
        keys[self.key] = json.dumps(entry)
        write_keys(self.path, keys)

    def port(self) -> int:
        """The loopback port of the redirect URI: the registered client's, else a free one."""
        port = self._entry().get("port")
        if isinstance(port, int) and 0 < port < 65536:
            return port
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self._update(port=port)
        return port

    async def get_tokens(self) -> OAuthToken | None:
        """The stored tokens, if any."""
        data = self._entry().get("tokens")
        return OAuthToken.model_validate(data) if data else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Store new tokens (after sign-in or a refresh)."""
        self._update(tokens=tokens.model_dump(mode="json", exclude_none=True))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The client registered with the authorization server, if any."""
        data = self._entry().get("client")
        return OAuthClientInformationFull.model_validate(data) if data else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Store the registered client."""
        self._update(client=client_info.model_dump(mode="json", exclude_none=True))


class LoopbackRedirect:
    """The redirect URI's listener: started by :meth:`redirect` (which also tells the user),
    awaited by :meth:`callback`."""

    def __init__(self, server: str, port: int, sign_in: SignIn) -> None:
        self.server_name = server
        self.port = port
        self.sign_in = sign_in
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None
        self._listener: asyncio.Server | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def redirect(self, url: str) -> None:
        """Listen for the code, then hand the authorization URL to the user."""
        self._result = asyncio.get_running_loop().create_future()
        self._listener = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        await self.sign_in(self.server_name, url)

    async def callback(self) -> AuthorizationCodeResult:
        """Wait for the browser's redirect (at most :data:`SIGN_IN_TIMEOUT` seconds).

        Raises:
            RuntimeError: the authorization server sent an error, or no answer came.
        """
        assert self._result is not None
        try:
            return await asyncio.wait_for(self._result, SIGN_IN_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(f"no sign-in within {SIGN_IN_TIMEOUT:g} seconds") from None
        finally:
            if self._listener is not None:
                self._listener.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            target = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            query = {k: v[0] for k, v in parse_qs(urlparse(target).query).items()}
            done = self._result is not None and not self._result.done()
            if urlparse(target).path != "/callback" or not done:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            assert self._result is not None
            if "code" in query:
                self._result.set_result(AuthorizationCodeResult(code=query["code"], state=query.get("state")))
                body = _PAGE % b"Signed in."
            else:
                error = query.get("error_description") or query.get("error") or "no code in the redirect"
                self._result.set_exception(RuntimeError(f"sign-in failed: {error}"))
                body = _PAGE % b"Sign-in failed."
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        except (OSError, TimeoutError, IndexError):
            pass
        finally:
            try:
                await writer.drain()
            except OSError:
                pass
            writer.close()


def oauth_provider(server: str, url: str, key_file: Path, sign_in: SignIn) -> OAuthClientProvider:
    """The httpx auth of a remote server: signs in when the server answers 401."""
    from llmchat import __version__

    storage = KeyFileTokens(key_file, server, url)
    redirect = LoopbackRedirect(server, storage.port(), sign_in)
    metadata = OAuthClientMetadata(
        client_name=f"llmchat {__version__}", redirect_uris=[redirect.uri],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"], response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(url, metadata, storage, redirect.redirect, redirect.callback)


async def open_in_browser(server: str, url: str, tell: Callable[[str], None]) -> None:
    """A :data:`SignIn` for the command line: say what to open, and try the browser."""
    tell(f"MCP server {server!r} needs you to sign in: open {url}")
    try:
        await asyncio.to_thread(webbrowser.open, url)
    except Exception:  # noqa: BLE001 - no browser here: the URL was given
        pass
