"""McpScreen (``/mcp``): the MCP servers of this session, their tools, switches and logs.

Each server is a line (state, transport, tool count) followed by its tools; Space or Enter
switches the highlighted server or tool on or off for this conversation (a server switched on
starts at once). The pane below shows the highlighted server's log: its stderr, its log
messages and protocol errors. Escape closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Log, SelectionList, Static
from textual.widgets.selection_list import Selection

from llmchat.safety import one_line, safe_lines, terminal_safe

if TYPE_CHECKING:
    from textual.screen import Screen

    from llmchat.mcp.client import McpServer
    from llmchat.mcp.session import McpSession

SERVER, TOOL = "server:", "tool:"


class McpScreen(ModalScreen[None]):
    """Switch MCP servers and tools on or off; read a server's log.

    Args:
        session: the session's MCP servers (changed in place).
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="mcp.close"),
        Binding("r", "refresh_view", "Refresh", id="mcp.refresh"),
    ]

    def __init__(self, session: McpSession) -> None:
        super().__init__()
        self.session = session
        self._log_of: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="mcp-dialog"):
            yield Static("MCP servers — Space: on/off for this conversation · r: refresh · Escape: close",
                         id="mcp-title", markup=False)
            yield SelectionList[str](id="mcp-list")
            yield Static("", id="mcp-log-title", markup=False)
            yield Log(id="mcp-log", highlight=False, max_lines=2000)

    def on_mount(self) -> None:
        self._fill()
        box = self.query_one(SelectionList)
        if box.option_count:
            box.highlighted = 0  # the first server's log shows at once
        box.focus()

    def _fill(self) -> None:
        box = self.query_one(SelectionList)
        highlighted = box.highlighted
        box.clear_options()
        items: list[Selection[str]] = []
        for server in self.session.servers():
            on_ = server.name in self.session.enabled
            items.append(Selection(Content(self._server_line(server)), SERVER + server.name, on_))
            for tool in self.session.all_tools(server):
                mark = "read-only" if tool.read_only else "asks first"
                line = f"    {terminal_safe(tool.name)}  ({mark}) {one_line(tool.description, 60)}"
                items.append(Selection(Content(line), TOOL + tool.name, tool.name not in self.session.disabled_tools))
        for name, problem in self.session.config.problems.items():
            items.append(Selection(Content(f"{one_line(name, 40)}  config error: {one_line(problem, 120)}"),
                                   SERVER + name, False, disabled=True))
        box.add_options(items)
        if highlighted is not None and items:
            box.highlighted = min(highlighted, len(items) - 1)
        self._show_log()

    @staticmethod
    def _server_line(server: McpServer) -> str:
        state = server.state
        if state == "running":
            detail = f"running, {len(server.tools)} tools"
        elif state == "failed":
            detail = f"failed: {one_line(server.error or '', 100)}"
        else:
            detail = "starting…" if state == "starting" else "not started"
        return f"{one_line(server.name, 40)}  [{server.config.transport}]  {detail}"

    @on(SelectionList.SelectionToggled)
    def toggled(self, event: SelectionList.SelectionToggled[str]) -> None:
        value = event.selection.value
        on_ = value in event.selection_list.selected
        if value.startswith(SERVER):
            name = value.removeprefix(SERVER)
            self.session.set_server(name, on_)
            if on_:
                self.start_servers()
            self._fill()
        else:
            self.session.set_tool(value.removeprefix(TOOL), on_)

    @work(exclusive=True, group="mcp-start", exit_on_error=False)
    async def start_servers(self) -> None:
        """Start the servers switched on (the list shows "starting…" meanwhile)."""
        problems = await self.session.start()
        for screen in self.app.screen_stack:
            if getattr(screen, "mcp", None) is self.session:
                add_prompt_completions(screen)
        if problems:
            self.notify("\n".join(one_line(p, 200) for p in problems), title="MCP",
                        severity="warning", markup=False)
        if self.is_attached:
            self._fill()

    @on(SelectionList.SelectionHighlighted)
    def highlighted(self, event: SelectionList.SelectionHighlighted[str]) -> None:
        value = event.selection.value
        name = value.removeprefix(SERVER) if value.startswith(SERVER) else None
        if name is None:  # a tool: its server's log
            tool = value.removeprefix(TOOL)
            name = next((s.name for s in self.session.servers()
                         for t in self.session.all_tools(s) if t.name == tool), None)
        if name != self._log_of:
            self._log_of = name
            self._show_log()

    def _show_log(self) -> None:
        server = self.session.group.get(self._log_of) if self._log_of else None
        log = self.query_one(Log)
        log.clear()
        title = self.query_one("#mcp-log-title", Static)
        if server is None:
            title.update("Log: highlight a server")
            return
        title.update(f"Log of {one_line(server.name, 40)}: {server.log_path}")
        text = server.read_log() or "(empty)"
        log.write_lines(terminal_safe(line) for line in text.splitlines()[-500:])

    def action_refresh_view(self) -> None:
        """Show the servers' current state and logs again."""
        self._fill()

    def action_close(self) -> None:
        """Close the screen."""
        self.dismiss(None)


def open_mcp_screen(chat: Screen[None]) -> None:
    """``/mcp``: open :class:`McpScreen` on the app's MCP session (made now from ``mcp.json``
    when ``--mcp`` did not make it at start); the chat screen's turns use it from then on."""
    session = chat.app.mcp_session()  # type: ignore[attr-defined]
    if session is None:
        return
    if not session.config.names:
        chat.notify(f"No MCP servers: add them to {session.config.where} (see the README).",
                    title="MCP", markup=False)
        return
    chat.mcp = session  # type: ignore[attr-defined]
    chat.app.push_screen(McpScreen(session))


async def run_prompt_command(chat: Screen[None], command: str, argument: str) -> None:
    """``/SERVER.PROMPT args``: get the MCP prompt and send its text as the next message (it
    goes through the prompt like typed text, so it is queued while a reply streams)."""
    from llmchat.mcp.prompts import McpPromptError
    from llmchat.tui.widgets.prompt_input import PromptInput

    try:
        text = await chat.mcp.render_prompt(command, argument)  # type: ignore[attr-defined]
    except McpPromptError as exc:
        chat.notify(one_line(str(exc), 300), title="MCP prompt", severity="warning", markup=False)
        return
    if not text.strip():
        chat.notify(f"/{command} gave no text.", title="MCP prompt", severity="warning", markup=False)
        return
    if text.lstrip().startswith("/"):
        text = "/" + text.lstrip()  # sent as text, not read as a command
    prompt = chat.query_one(PromptInput)
    chat.post_message(PromptInput.Submitted(prompt, text))


def add_prompt_completions(chat: Screen[None]) -> None:
    """Let the prompt suggest ``/SERVER.PROMPT`` for the MCP prompts of the running servers."""
    from llmchat.tui.widgets.prompt_input import PromptInput

    session = getattr(chat, "mcp", None)
    if session is None or not chat.is_attached:
        return
    prompt = chat.query_one(PromptInput)
    commands = [f"/{name}" for name in session.prompt_commands()]
    prompt.completions = [*[c for c in prompt.completions if c not in commands], *commands]
    prompt.mentions = session.mentions()


async def attach_mentions(chat: Screen[None], text: str) -> str:
    """The message `text` with the MCP resources it mentions (``@SERVER:URI``) attached;
    a resource that cannot be read is said in a notification and left out."""
    text, problems = await chat.mcp.attach_resources(text)  # type: ignore[attr-defined]
    if problems:
        chat.notify(safe_lines("\n".join(problems)), title="MCP resource", severity="warning", markup=False)
    return text
