"""MCP in a long session (the TUI): which servers and tools are on for this conversation.

:class:`McpSession` holds every usable server of ``mcp.json``; those switched on are started
when first needed (all at once, in parallel, each once) and their tools are offered. Servers
and single tools can be switched on and off at any time (the ``/mcp`` screen); a server
switched on later starts at the next turn. No Textual here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmchat.mcp.config import McpConfig

if TYPE_CHECKING:
    from llmchat.chat.tools import Tool, ToolRegistry
    from llmchat.mcp.client import McpServer, McpServers
    from llmchat.mcp.oauth import SignIn
    from llmchat.mcp.tools import McpTool


class McpSession:
    """The MCP servers of one session.

    Args:
        config: the servers of ``mcp.json``.
        enabled: the servers switched on at start (``--mcp NAME``; ``all`` for every one).
        log_dir: where each server's log goes (default: ``paths.mcp_log_dir()``).
        sign_in: tells the user to sign in to a remote server (OAuth).
    """

    def __init__(
        self, config: McpConfig, enabled: Iterable[str] = (), log_dir: Path | None = None,
        sign_in: SignIn | None = None,
    ) -> None:
        from llmchat.mcp.use import servers

        self.config = config
        names = list(enabled)
        self.enabled: set[str] = set(config.servers) if "all" in names else {n for n in names if n in config.servers}
        self.disabled_tools: set[str] = set()
        """llmchat names of tools switched off."""
        self.group: McpServers = servers(list(config.servers.values()), log_dir, sign_in)
        self._reported: set[str] = set()

    @property
    def active(self) -> bool:
        """True when at least one server is switched on."""
        return bool(self.enabled)

    def servers(self) -> list[McpServer]:
        """Every usable server, in file order."""
        return list(self.group)

    async def start(self) -> list[str]:
        """Start the servers that are on and not started yet (in parallel; each once).

        Returns:
            One line per server that failed and was not reported before.
        """
        wanted = [s.name for s in self.group if s.name in self.enabled and s.state in ("stopped", "starting")]
        if wanted:
            await self.group.start(wanted)
        problems = []
        for server in self.group:
            if server.name in self.enabled and server.state == "failed" and server.name not in self._reported:
                self._reported.add(server.name)
                problems.append(f"MCP server {server.name!r} did not start: {server.error}")
        return problems

    def tools(self) -> list[McpTool]:
        """The tools of the servers that are on and running, but those switched off."""
        from llmchat.mcp.tools import mcp_tools

        on = [s for s in self.group if s.name in self.enabled]
        return [t for t in mcp_tools(self.group) if t.server in on and t.name not in self.disabled_tools]

    def all_tools(self, server: McpServer) -> list[McpTool]:
        """Every tool of `server` (on or off), with the names the model sees."""
        from llmchat.mcp.tools import mcp_tools

        return [t for t in mcp_tools(self.group) if t.server is server]

    def registry(self, base: Iterable[Tool], max_output_chars: int) -> tuple[ToolRegistry, list[str]]:
        """`base`'s tools and the MCP tools that are on, in one registry (+ name clashes)."""
        from llmchat.chat.tools import ToolRegistry

        return ToolRegistry.merge(base, self.tools(), max_output_chars=max_output_chars)

    async def turn_tools(
        self, current: ToolRegistry | None, max_output_chars: int
    ) -> tuple[ToolRegistry | None, list[str]]:
        """The tools of the next turn: `current`'s own tools (MCP tools of earlier turns left
        out) and the MCP tools that are on now, after starting the servers switched on.

        Returns:
            The registry (None: no tools at all) and one line per problem (a server that did
            not start, a name taken by another tool).
        """
        own = [t for t in (current or ()) if not t.source.startswith("mcp:")]
        problems = await self.start() if self.active else []
        registry, clashes = self.registry(own, max_output_chars)
        return (registry if len(registry) else None), [*problems, *clashes]

    def set_server(self, name: str, on: bool) -> None:
        """Switch a server on or off for this conversation (it starts at the next turn)."""
        if on:
            self.enabled.add(name)
            self._reported.discard(name)
        else:
            self.enabled.discard(name)

    def set_tool(self, name: str, on: bool) -> None:
        """Switch a tool (its llmchat name) on or off."""
        if on:
            self.disabled_tools.discard(name)
        else:
            self.disabled_tools.add(name)

    def prompt_commands(self) -> dict[str, tuple[McpServer, Any]]:
        """``SERVER.PROMPT`` (lower-cased, as slash commands are read) -> the server and the
        prompt, for the running servers that are switched on."""
        return {
            f"{server.name}.{prompt.name}".lower(): (server, prompt)
            for server in self.group if server.name in self.enabled and server.state == "running"
            for prompt in server.prompts
        }

    async def render_prompt(self, command: str, text: str) -> str:
        """The text of prompt ``SERVER.PROMPT`` (``prompts/get``) with arguments from `text`:
        ``key=value`` words, or else the words in the prompt's argument order (the last one
        takes the rest of the text).

        Raises:
            McpPromptError: no such prompt, a required argument is missing, or the server
                answered with an error (the message is one line, with the usage).
        """
        from llmchat.mcp.client import McpServerError
        from llmchat.mcp.prompts import McpPromptError, prompt_arguments, prompt_text

        found = self.prompt_commands().get(command.lower())
        if found is None:
            raise McpPromptError(f"no MCP prompt /{command}")
        server, prompt = found
        arguments = prompt_arguments(f"{server.name}.{prompt.name}", prompt.arguments or [], text)
        try:
            result = await server.get_prompt(prompt.name, arguments)
        except McpServerError as exc:
            raise McpPromptError(str(exc)) from None
        return prompt_text(result)

    def mentions(self) -> list[str]:
        """``@SERVER:URI`` for every resource of the running servers that are switched on."""
        return [
            f"@{server.name}:{resource.uri}"
            for server in self.group if server.name in self.enabled and server.state == "running"
            for resource in server.resources
        ]

    async def attach_resources(self, text: str) -> tuple[str, list[str]]:
        """`text` with the resources it mentions (``@SERVER:URI``) attached after it, each as
        its URI and a fenced block (text) or a note (binary).

        Returns:
            The message text, and one line per mention that could not be read.
        """
        from llmchat.mcp.client import McpServerError
        from llmchat.mcp.prompts import resource_block

        known = set(self.mentions())
        wanted = list(dict.fromkeys(w.rstrip(".,;:!?)") for w in text.split() if w.startswith("@")))
        blocks: list[str] = []
        problems: list[str] = []
        for mention in (m for m in wanted if m in known):
            name, _, uri = mention[1:].partition(":")
            server = self.group.get(name)
            assert server is not None
            try:
                result = await server.read_resource(uri)
            except McpServerError as exc:
                problems.append(str(exc))
                continue
            blocks.extend(resource_block(item) for item in result.contents)
        return "\n\n".join([text, *blocks]), problems

    async def aclose(self) -> None:
        """Stop every server that was started."""
        await asyncio.shield(self.group.aclose())
