"""Connections to MCP servers through the official ``mcp`` SDK, and the set of them one
session uses.

Each server runs in a task of its own that holds the SDK's transport and
:class:`mcp.ClientSession` context managers (anyio needs them entered and left in one task):
the task connects, lists the tools, reports that it is ready and waits to be stopped. Calls
are made from any task on the same loop; cancelling the calling task makes the SDK send
``notifications/cancelled`` for the request (spec: basic/utilities/cancellation).

Stopping closes the session and the transport: for stdio the SDK closes the server's stdin,
waits, then terminates its whole process group (spec: basic/lifecycle, "Shutdown"). The
server runs in a session of its own, so Ctrl-C on the terminal never reaches it directly;
if llmchat is killed outright, the server sees its stdin close and exits.

A server's stderr (stdio) and its log notifications and protocol errors go to
``mcp_log_dir()/NAME.log``, never to the terminal.

Imported only when MCP is used: it imports the SDK.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import IO, Any, Literal

import anyio
import httpx2
import mcp_types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from llmchat import __version__
from llmchat.mcp.bounded import MAX_MESSAGE_BYTES, bounded_client
from llmchat.mcp.config import ServerConfig
from llmchat.mcp.sdk_support import (
    all_prompts,
    all_resources,
    all_tools,
    capture_sdk_logging,
    describe,
    log_file_name,
)
from llmchat.mcp.oauth import SIGN_IN_TIMEOUT, SignIn

State = Literal["stopped", "starting", "running", "failed"]

START_TIMEOUT = 60.0
"""Seconds a server may take to connect and answer ``initialize`` and ``tools/list`` (npx may
download the server first)."""

CLIENT_INFO = mcp_types.Implementation(name="llmchat", version=__version__)


class McpServerError(Exception):
    """A server could not start, died, or a request to it failed in transport (not a tool's
    own ``isError``); the message says which server and why, on one line."""


class McpServer:
    """One configured server: its connection, state and tools.

    Args:
        config: the server's entry of ``mcp.json``.
        log_dir: where ``NAME.log`` is written.
        start_timeout: seconds to connect and answer ``initialize`` and ``tools/list``.
    """

    def __init__(
        self, config: ServerConfig, log_dir: Path, start_timeout: float = START_TIMEOUT, *,
        sign_in: SignIn | None = None, key_file: Path | None = None,
    ) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.sign_in = sign_in
        """Tells the user to sign in (OAuth); None: remote servers that want OAuth fail."""
        self.key_file = key_file
        """Where OAuth tokens are kept (the owner-only key file)."""
        self._signing_in = False
        self._http_error: str | None = None
        self.log_path = log_dir / f"{log_file_name(config.name)}.log"
        self.state: State = "stopped"
        self.error: str | None = None
        """Why the server failed (one line), when :attr:`state` is "failed"."""
        self.tools: list[mcp_types.Tool] = []
        self.prompts: list[mcp_types.Prompt] = []
        self.resources: list[mcp_types.Resource] = []
        self.session: ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._log: IO[str] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    async def start(self) -> None:
        """Start the server if not started yet and wait until it runs or failed (never raises
        for a server that fails: see :attr:`state` and :attr:`error`)."""
        if self._task is None:
            self.state = "starting"
            self._task = asyncio.create_task(self._run(), name=f"mcp:{self.name}")
        try:
            try:
                await asyncio.wait_for(asyncio.shield(self._ready.wait()), self.start_timeout)
            except TimeoutError:
                if not self._signing_in:
                    raise
                await asyncio.wait_for(asyncio.shield(self._ready.wait()), SIGN_IN_TIMEOUT)
        except TimeoutError:
            # Connecting (an SSE endpoint that never names its message URL) or the handshake
            # hangs: end the connection task; the SDK still stops the process it started.
            self._failed(f"no answer within {self.start_timeout:g} seconds")
            self._task.cancel()
            await asyncio.wait([self._task])

    async def stop(self) -> None:
        """Close the session and the transport (the stdio server's process tree is ended)."""
        task = self._task
        if task is None:
            return
        self._stop.set()
        if not self._ready.is_set():
            task.cancel()  # still connecting: give up now, the SDK still ends the process
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            await asyncio.wait([task])  # the SDK's shutdown is shielded and bounded
            raise

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call `name` on the server.

        Raises:
            McpServerError: the server is not running, or the connection failed (the server
                is then marked failed).
            asyncio.CancelledError: the caller was cancelled; the SDK told the server.
        """
        session = self._require_session()
        try:
            result = await session.call_tool(name, arguments)
        except MCPError as exc:
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._failed(f"the connection closed ({exc.message})")
            raise McpServerError(f"MCP server {self.name!r}: {exc.message}") from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError, httpx2.HTTPError) as exc:
            self._failed(describe(exc))
            raise McpServerError(f"MCP server {self.name!r}: {describe(exc)}") from None
        assert isinstance(result, mcp_types.CallToolResult)
        return result

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> mcp_types.GetPromptResult:
        """Get prompt `name` with its arguments.

        Raises:
            McpServerError: not running, or the server answered with an error.
        """
        session = self._require_session()
        try:
            result = await session.get_prompt(name, arguments)
        except MCPError as exc:
            raise McpServerError(f"MCP server {self.name!r}: {exc.message}") from None
        assert isinstance(result, mcp_types.GetPromptResult)
        return result

    async def read_resource(self, uri: str) -> mcp_types.ReadResourceResult:
        """Read resource `uri` (``resources/read``).

        Raises:
            McpServerError: not running, or the server answered with an error.
        """
        session = self._require_session()
        try:
            result = await session.read_resource(uri)
        except MCPError as exc:
            raise McpServerError(f"MCP server {self.name!r}: {exc.message}") from None
        assert isinstance(result, mcp_types.ReadResourceResult)
        return result

    def log(self, text: str) -> None:
        """Append a line of llmchat's own to the server's log."""
        if self._log is not None and not self._log.closed:
            stamp = time.strftime("%H:%M:%S")
            self._log.write(f"[llmchat {stamp}] {text}\n")
            self._log.flush()

    def read_log(self, max_chars: int = 50_000) -> str:
        """The end of the server's log file ("" when there is none)."""
        try:
            with self.log_path.open("rb") as file:
                file.seek(0, 2)
                size = file.tell()
                file.seek(max(0, size - max_chars))
                return file.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- the connection task ----------------------------------------------------------------

    def _require_session(self) -> ClientSession:
        if self.state != "running" or self.session is None:
            reason = f": {self.error}" if self.error else ""
            raise McpServerError(f"MCP server {self.name!r} is not running{reason}")
        return self.session

    def _failed(self, reason: str) -> None:
        if self.state != "failed":
            self.state, self.error = "failed", reason
            self.log(f"failed: {reason}")

    async def _run(self) -> None:
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a", encoding="utf-8", buffering=1)
        except OSError:
            self._log = None
        self.log(f"starting ({self.config.transport}): {self.config.describe()}")
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(stack))
                session = await stack.enter_async_context(ClientSession(
                    read, write, client_info=CLIENT_INFO,
                    logging_callback=self._on_log, message_handler=self._on_message,
                ))
                await session.initialize()
                self.tools = await all_tools(session)
                self.prompts = await all_prompts(session)
                self.resources = await all_resources(session)
                self.session, self.state = session, "running"
                self.log(f"running: {len(self.tools)} tools")
                self._ready.set()
                await self._stop.wait()
                self.session = None
        except asyncio.CancelledError:
            self._failed("cancelled")
            raise
        except Exception as exc:  # noqa: BLE001 - a broken server must not end the session
            http = f" ({self._http_error})" if self._http_error else ""
            self._failed(describe(exc) + http + self._last_words())
        finally:
            self.session = None
            if self.state == "running":
                self.state = "stopped"
            self.log("stopped")
            self._ready.set()
            if self._log is not None:
                self._log.close()

    def _last_words(self) -> str:
        """For a stdio server that failed: the last line it wrote on stderr, if any."""
        if self.config.transport != "stdio":
            return ""
        lines = self.read_log(8000).splitlines()
        starts = [i for i, ln in enumerate(lines) if ln.startswith("[llmchat ") and "] starting (" in ln]
        lines = [ln for ln in lines[starts[-1] + 1 if starts else 0:] if ln.strip() and not ln.startswith("[llmchat ")]
        return f" (its stderr: {lines[-1].strip()[:200]})" if lines else ""

    def _transport(self, stack: AsyncExitStack) -> Any:
        config = self.config
        if config.transport == "stdio":
            params = StdioServerParameters(
                command=config.command or "", args=list(config.args), env=dict(config.env),
                cwd=config.cwd,
            )
            errlog = self._log if self._log is not None else open("/dev/null", "w")  # noqa: SIM115
            if self._log is None:
                stack.callback(errlog.close)
            return stdio_client(params, errlog=errlog)
        auth = self._oauth()
        if config.transport == "sse":
            return sse_client(config.url or "", headers=dict(config.headers), timeout=30.0, auth=auth,
                              httpx_client_factory=bounded_client)
        client = bounded_client(dict(config.headers), auth=auth, event_hooks={"response": [self._note_status]})
        stack.push_async_callback(client.aclose)
        return streamable_http_client(config.url or "", http_client=client, max_sse_event_size=MAX_MESSAGE_BYTES)

    async def _note_status(self, response: httpx2.Response) -> None:
        """Keep the last HTTP error: the SDK reports it as "Server returned an error response"."""
        if response.status_code >= 400:
            self._http_error = f"HTTP {response.status_code} from {response.request.url}"

    def _oauth(self) -> httpx2.Auth | None:
        """The SDK's OAuth provider, unless the config sends its own Authorization header."""
        if self.sign_in is None or self.key_file is None:
            return None
        if any(k.lower() == "authorization" for k in self.config.headers):
            return None
        from llmchat.mcp.oauth import oauth_provider

        async def sign_in(server: str, url: str) -> None:
            self._signing_in = True
            self.log("waiting for the user to sign in (OAuth)")
            assert self.sign_in is not None
            await self.sign_in(server, url)

        return oauth_provider(self.name, self.config.url or "", self.key_file, sign_in)

    async def _on_log(self, params: mcp_types.LoggingMessageNotificationParams) -> None:
        data = params.data if isinstance(params.data, str) else repr(params.data)
        self.log(f"server log ({params.level}{f', {params.logger}' if params.logger else ''}): {data}")

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.log(f"protocol error: {describe(message)}")


class McpServers:
    """The servers one session (or one ``ask``) uses: started lazily, in parallel, once.

    Use as ``async with McpServers(configs, log_dir) as servers: await servers.start()``;
    leaving the block stops every server that was started.
    """

    def __init__(
        self, configs: Iterable[ServerConfig], log_dir: Path, start_timeout: float = START_TIMEOUT, *,
        sign_in: SignIn | None = None, key_file: Path | None = None,
    ) -> None:
        self.servers: dict[str, McpServer] = {
            c.name: McpServer(c, log_dir, start_timeout, sign_in=sign_in, key_file=key_file) for c in configs
        }
        capture_sdk_logging(log_dir)

    async def __aenter__(self) -> McpServers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __iter__(self) -> Any:
        return iter(self.servers.values())

    def get(self, name: str) -> McpServer | None:
        return self.servers.get(name)

    async def start(self, names: Sequence[str] | None = None) -> list[McpServer]:
        """Start the named servers (None: all) in parallel and wait for each to run or fail.

        Returns:
            The servers asked for, in order (see each one's :attr:`McpServer.state`).
        """
        chosen = [self.servers[n] for n in names] if names is not None else list(self.servers.values())
        await asyncio.gather(*(server.start() for server in chosen))
        return chosen

    async def aclose(self) -> None:
        """Stop every started server, in parallel."""
        await asyncio.gather(*(server.stop() for server in self.servers.values()), return_exceptions=True)
