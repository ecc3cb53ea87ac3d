"""The command line: ``llmchat`` (full-screen session), ``llmchat ask`` (one-shot) and
``llmchat models``.

Contract: shared/DESIGN.md, "Command-line contract". Textual is imported only inside the
TUI command, so ``llmchat ask`` never loads it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Optional

import typer

from llmchat import __version__, paths
from llmchat.config import Settings, load_settings
from llmchat.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

ProviderOpt = Annotated[
    Optional[str],
    typer.Option(
        "-p", "--provider",
        help="openai, anthropic, ollama, openrouter, groq, deepseek, mistral, together, "
        "fireworks, or a [providers.NAME] from the config file.",
    ),
]
ModelOpt = Annotated[Optional[str], typer.Option("-m", "--model", help="Model name.")]
SystemOpt = Annotated[Optional[str], typer.Option("-s", "--system", help="System prompt.")]
TemperatureOpt = Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature.")]
TopPOpt = Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling mass.")]
MaxTokensOpt = Annotated[Optional[int], typer.Option("--max-tokens", help="Most output tokens.")]
StopOpt = Annotated[Optional[list[str]], typer.Option("--stop", help="Stop sequence (repeatable).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Sampling seed.")]
EffortOpt = Annotated[
    Optional[str], typer.Option("--reasoning-effort", help="Reasoning effort (e.g. low, medium, high).")
]
BudgetOpt = Annotated[
    Optional[int], typer.Option("--thinking-budget", help="Anthropic thinking budget, in tokens.")
]


@dataclass
class Choice:
    """What the user chose on the command line (None: not given)."""

    provider: str | None = None
    model: str | None = None
    system: str | None = None
    theme: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def over(self, parent: Choice) -> Choice:
        """These choices, falling back to `parent`'s (options given here win)."""
        return Choice(
            self.provider or parent.provider,
            self.model or parent.model,
            self.system if self.system is not None else parent.system,
            self.theme or parent.theme,
            {**parent.options, **{k: v for k, v in self.options.items() if v not in (None, [])}},
        )

    def settings(self) -> Settings:
        """Load settings with these choices on top, or exit 2 with the config problem."""
        try:
            return load_settings(
                paths.config_file(), os.environ, provider=self.provider, model=self.model,
                system=self.system, theme=self.theme, options=self.options,
            )
        except ConfigError as exc:
            raise _fail(str(exc)) from None


def _options(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, [])}


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"llmchat: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"llmchat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def session(
    ctx: typer.Context,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    system: SystemOpt = None,
    theme: Annotated[Optional[str], typer.Option("--theme", help="Theme name.")] = None,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_tokens: MaxTokensOpt = None,
    stop: StopOpt = None,
    seed: SeedOpt = None,
    reasoning_effort: EffortOpt = None,
    thinking_budget: BudgetOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Chat with a language model in a full-screen terminal session.

    Keys: Enter sends, Ctrl+J (or Shift+Enter) inserts a newline, Escape stops the reply,
    Ctrl+N starts a new conversation, Ctrl+Q quits.
    """
    choice = Choice(provider, model, system, theme, _options(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
        reasoning_effort=reasoning_effort, thinking_budget=thinking_budget,
    ))
    if ctx.invoked_subcommand is not None:
        ctx.obj = choice
        return
    settings = choice.settings()
    from llmchat.tui.app import LlmChatApp

    LlmChatApp(settings).run()


@app.command()
def ask(
    ctx: typer.Context,
    prompt: Annotated[Optional[str], typer.Argument(help="The prompt; piped stdin is appended.")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    system: SystemOpt = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object when the reply ends.")
    ] = False,
    reasoning: Annotated[
        bool, typer.Option("--reasoning", help="Stream the model's reasoning to stderr.")
    ] = False,
    complete: Annotated[
        bool, typer.Option("--complete", help="Text completion for base models (/v1/completions).")
    ] = False,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_tokens: MaxTokensOpt = None,
    stop: StopOpt = None,
    seed: SeedOpt = None,
    reasoning_effort: EffortOpt = None,
    thinking_budget: BudgetOpt = None,
) -> None:
    """Ask once and stream the answer to stdout.

    PROMPT and piped stdin are joined (PROMPT, a blank line, stdin). Piped stdout gets
    exactly the model's text. Examples:

        llmchat ask "Explain SSE in one paragraph"

        git diff | llmchat ask "Write a commit message for this diff" > msg.txt

        llmchat ask --json -p groq "2+2?" | jq .usage
    """
    from llmchat.ask import join_prompt, make_request, run_ask

    choice = Choice(provider, model, system, None, _options(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
        reasoning_effort=reasoning_effort, thinking_budget=thinking_budget,
    )).over(ctx.obj or Choice())
    settings = choice.settings()
    if complete and settings.provider.kind != "openai":
        raise _fail("--complete needs an OpenAI-compatible provider (/v1/completions)")
    stdin_text = None
    if sys.stdin is not None and not sys.stdin.isatty():
        stdin_text = sys.stdin.buffer.read().decode("utf-8", "replace")
    elif prompt is None:
        raise _fail('no prompt: give one (llmchat ask "...") or pipe text into llmchat ask')
    text = join_prompt(prompt, stdin_text)
    if not text.strip():
        raise _fail("the prompt is empty")
    settings = _ensure_credentials(settings, interactive=stdin_text is None and sys.stderr.isatty())
    request = make_request(settings, text, complete=complete)
    raise typer.Exit(run_ask(settings, request, json_output=json_output, show_reasoning=reasoning))


@app.command()
def models(
    ctx: typer.Context,
    provider: ProviderOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array of model ids.")] = False,
) -> None:
    """List the models the provider serves, one per line."""
    from llmchat.providers import make_client
    from llmchat.providers.errors import ProviderError

    settings = replace(Choice(provider).over(ctx.obj or Choice()), model=None).settings()
    settings = _ensure_credentials(settings, interactive=False)

    async def fetch() -> list[str]:
        async with make_client() as client:
            return await settings.provider.create(client).list_models()

    try:
        names = asyncio.run(fetch())
    except ProviderError as exc:
        raise _fail(exc.describe(), 1) from None
    print(json.dumps(names) if json_output else "\n".join(names))


def _ensure_credentials(settings: Settings, *, interactive: bool) -> Settings:
    """Stop with a clear message when the provider cannot be used; offer a local server."""
    problem = settings.provider.missing_credentials()
    if problem is None:
        return settings
    from llmchat.discovery import find_local_servers

    servers = [s for s in asyncio.run(find_local_servers()) if s.models]
    print(f"llmchat: {problem}", file=sys.stderr)
    for server in servers:
        print(
            f"llmchat: found {server.label} at {server.base_url} "
            f"(models: {', '.join(server.models[:5])})",
            file=sys.stderr,
        )
        if interactive:
            answer = input(f"Use {server.label} with model {server.models[0]}? [Y/n] ")
            if answer.strip().lower() in ("", "y", "yes"):
                return settings.with_provider(server.provider_settings())
        else:
            print(
                f"llmchat: to use it: export OPENAI_BASE_URL={server.base_url}  "
                f"(and -m {server.models[0]})",
                file=sys.stderr,
            )
    raise typer.Exit(2)


def main() -> None:
    """Console-script entry point."""
    app()
