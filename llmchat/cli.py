"""The command line: ``llmchat`` (full-screen session) and ``llmchat ask`` (one-shot).

Contract: shared/DESIGN.md, "Command-line contract". Textual is imported only inside the
TUI command, so ``llmchat ask`` never loads it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, Optional

import typer

from llmchat import __version__, paths
from llmchat.config import ProviderSettings, Settings, load_settings
from llmchat.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

ProviderOpt = Annotated[
    Optional[str],
    typer.Option("-p", "--provider", help="openai, ollama, or a profile from the config file."),
]
ModelOpt = Annotated[Optional[str], typer.Option("-m", "--model", help="Model name.")]
SystemOpt = Annotated[Optional[str], typer.Option("-s", "--system", help="System prompt.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"llmchat: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _settings(provider: str | None, model: str | None, system: str | None, theme: str | None = None) -> Settings:
    try:
        return load_settings(
            paths.config_file(), os.environ, provider=provider, model=model, system=system, theme=theme
        )
    except ConfigError as exc:
        raise _fail(str(exc)) from None


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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Chat with a language model in a full-screen terminal session.

    Keys: Enter sends, Ctrl+J (or Shift+Enter) inserts a newline, Escape stops the reply,
    Ctrl+N starts a new conversation, Ctrl+Q quits.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"provider": provider, "model": model, "system": system}
        return
    settings = _settings(provider, model, system, theme)
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
) -> None:
    """Ask once and stream the answer to stdout.

    PROMPT and piped stdin are joined (PROMPT, a blank line, stdin). Piped stdout gets
    exactly the model's text. Examples:

        llmchat ask "Explain SSE in one paragraph"

        git diff | llmchat ask "Write a commit message for this diff" > msg.txt
    """
    from llmchat.ask import join_prompt, run_ask

    parent = ctx.obj or {}
    settings = _settings(
        provider or parent.get("provider"), model or parent.get("model"),
        system if system is not None else parent.get("system"),
    )
    stdin_text = None
    if sys.stdin is not None and not sys.stdin.isatty():
        stdin_text = sys.stdin.buffer.read().decode("utf-8", "replace")
    elif prompt is None:
        raise _fail('no prompt: give one (llmchat ask "...") or pipe text into llmchat ask')
    text = join_prompt(prompt, stdin_text)
    if not text.strip():
        raise _fail("the prompt is empty")
    settings = _ensure_credentials(settings, interactive=stdin_text is None and sys.stderr.isatty())
    raise typer.Exit(run_ask(settings, text, json_output=json_output))


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
                return settings.with_provider(local_provider(server.base_url, server.models[0]))
        else:
            print(
                f"llmchat: to use it: export OPENAI_BASE_URL={server.base_url}  "
                f"(and -m {server.models[0]})",
                file=sys.stderr,
            )
    raise typer.Exit(2)


def local_provider(base_url: str, model: str) -> ProviderSettings:
    """Provider settings for a keyless OpenAI-compatible server found on this machine."""
    return ProviderSettings(name="openai", kind="openai", base_url=base_url, model=model)


def main() -> None:
    """Console-script entry point."""
    app()
