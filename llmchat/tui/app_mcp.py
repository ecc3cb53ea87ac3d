"""McpServers: the session's MCP servers, made on first use and started with the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmchat.safety import safe_lines, terminal_safe

if TYPE_CHECKING:
    from textual.app import App

    from llmchat.mcp.session import McpSession
    from llmchat.tui.tabs import TabSet

    _Base = App[None]
else:
    _Base = object


class McpServers(_Base):
    """Mixed into the app (LlmChatApp): its MCP servers (``--mcp``, ``/mcp``)."""

    if TYPE_CHECKING:  # LlmChatApp's state these methods use
        mcp: McpSession | None
        mcp_config: str | None
        _mcp_names: tuple[str, ...]
        tabs: TabSet

    def mcp_session(self) -> McpSession | None:
        """The session's MCP servers (made on first use; None, after a notification, when
        the MCP config is broken)."""
        if self.mcp is None:
            from llmchat.errors import ConfigError
            from llmchat.mcp.session import McpSession
            from llmchat.mcp.use import load_config

            try:
                self.mcp = McpSession(load_config(self.mcp_config), self._mcp_names, sign_in=self._mcp_sign_in)
            except ConfigError as exc:
                self.notify(safe_lines(str(exc)), title="MCP", severity="error", timeout=10, markup=False)
        return self.mcp

    async def _mcp_sign_in(self, server: str, url: str) -> None:
        """A remote MCP server wants OAuth: show the URL (for a while) and open the browser."""
        from llmchat.mcp.oauth import open_in_browser

        def tell(line: str) -> None:
            self.notify(terminal_safe(line), title="MCP sign-in", timeout=120, markup=False)

        await open_in_browser(server, url, tell)

    async def _start_mcp(self, session: McpSession) -> None:
        """Start the servers switched on at once, so the first turn need not wait for them."""
        from llmchat.tui.screens.mcp import add_prompt_completions

        problems = await session.start()
        for screen in self.tabs.screens:
            if screen.mcp is session:
                add_prompt_completions(screen)
        if problems:
            self.notify(safe_lines("\n".join(problems)), title="MCP", severity="warning", timeout=10,
                        markup=False)
