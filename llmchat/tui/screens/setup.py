"""SetupScreen: shown when no provider can be used; says what is missing, lists the providers
the environment allows (when there are several) and offers local servers."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from llmchat.discovery import LocalServer, find_local_servers
from llmchat.first_run import Candidate
from llmchat.safety import one_line

KEY_HINT = ("Set that variable in your shell, or store the key with  llmchat keys set NAME  "
            "(NAME: openai, groq, ...), and run llmchat again.")
"""Under the problem line, which names the provider's variable (not always OPENAI_API_KEY)."""


class SetupScreen(ModalScreen[LocalServer | Candidate | None]):
    """Explains `problem` and lists `candidates` (providers usable now); dismisses with the
    candidate or local server the user picked, or None to quit."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Quit", id="setup.quit")]
    AUTO_FOCUS = None
    """Focus is set in on_mount and by the discovery (Textual's auto-focus, applied when the
    screen activates, could land after the discovery and move it back to Quit)."""

    def __init__(self, problem: str, candidates: list[Candidate] | None = None) -> None:
        super().__init__()
        self.problem = problem
        self.candidates = list(candidates or ())
        self._servers: list[LocalServer] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="setup-dialog"):
            if self.candidates:
                yield Static("Several providers can be used: pick one (it is remembered)", id="setup-title")
                yield Static("", id="setup-problem", markup=False)
                with Vertical(id="setup-providers"):
                    for i, candidate in enumerate(self.candidates):
                        label = Content(one_line(f"Use {candidate.name} ({candidate.reason})", 120))
                        yield Button(label, id=f"setup-pick-{i}", variant="primary")
                yield Button("Quit", id="setup-quit", variant="default")
                return
            yield Static("llmchat cannot reach a model yet", id="setup-title")
            yield Static(self.problem, id="setup-problem", markup=False)
            yield Static(
                f"{KEY_HINT}\nLooking for a model server on this machine…",
                id="setup-status",
                markup=False,
            )
            yield Vertical(id="setup-choices")
            yield Button("Quit", id="setup-quit", variant="default")

    def on_mount(self) -> None:
        if self.candidates:
            self.query_one("#setup-pick-0", Button).focus()
            return
        self.query_one("#setup-quit", Button).focus()
        self.discover()

    @work(exclusive=True, group="discover", exit_on_error=False)
    async def discover(self) -> None:
        """Probe the usual local ports and offer each server that lists a model."""
        self._servers = [s for s in await find_local_servers() if s.models]
        status = self.query_one("#setup-status", Static)
        choices = self.query_one("#setup-choices", Vertical)
        if not self._servers:
            status.update(
                f"{KEY_HINT}\nNo local model server (Ollama, LM Studio, llama.cpp, vLLM) answered."
            )
            return
        status.update("Found a model server on this machine:")
        for i, server in enumerate(self._servers):
            # The model id comes from the server: one safe line, never read as markup.
            label = Content(one_line(f"Use {server.label} at {server.base_url} ({server.models[0]})", 120))
            await choices.mount(Button(label, id=f"setup-use-{i}", variant="primary"))
        self.query_one("#setup-use-0", Button).focus()

    @on(Button.Pressed)
    def choose(self, event: Button.Pressed) -> None:
        if event.button.id == "setup-quit":
            self.dismiss(None)
        elif event.button.id and event.button.id.startswith("setup-pick-"):
            self.dismiss(self.candidates[int(event.button.id.rsplit("-", 1)[1])])
        elif event.button.id and event.button.id.startswith("setup-use-"):
            self.dismiss(self._servers[int(event.button.id.rsplit("-", 1)[1])])
