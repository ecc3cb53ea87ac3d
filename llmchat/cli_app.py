"""The Typer application behind ``llmchat``: the full-screen session, ``ask``, ``export``,
``templates``, ``models`` and ``serve``, with their help texts; the command groups live beside
it (:mod:`llmchat.cli_history`, :mod:`llmchat.cli_keys`, :mod:`llmchat.cli_mcp`,
:mod:`llmchat.cli_config`) and the shared options in :mod:`llmchat.cli_options`.

Contract: shared/DESIGN.md, "Command-line contract". What the commands share lives in
:mod:`llmchat.cli_shared`, the entry point in :mod:`llmchat.cli`; a plain ``llmchat ask``
command line does not even import
this module (Typer, click and pydantic cost more than the rest of ``ask``; see
docs/performance.md). Textual is imported only inside the TUI command.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from typing import Annotated, Optional

import typer

from llmchat import __version__
from llmchat.cli_ask import ask_command
from llmchat.cli_config import CONFIG_TEMPLATE, config_app
from llmchat.cli_history import history_app, write_export
from llmchat.cli_keys import keys_app
from llmchat.cli_mcp import mcp_app
from llmchat.cli_options import (
    AttachOpt,
    BudgetOpt,
    ContinueOpt,
    ConversationOpt,
    DebugOpt,
    EffortOpt,
    MaxTokensOpt,
    McpConfigOpt,
    McpOpt,
    ModelOpt,
    ProviderOpt,
    SeedOpt,
    SessionToolsOpt,
    StopOpt,
    SystemOpt,
    TemperatureOpt,
    ThemeOpt,
    TopPOpt,
)
from llmchat.cli_session import run_session
from llmchat.cli_shared import (
    Choice,
    ensure_credentials,
    fail,
    given_options,
)
from llmchat.safety import for_stream, json_text, note, one_line
from llmchat.store import EXPORT_FORMATS

__all__ = ["CONFIG_TEMPLATE", "ProviderOpt", "app"]

app = typer.Typer(
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


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
    theme: ThemeOpt = None,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_tokens: MaxTokensOpt = None,
    stop: StopOpt = None,
    seed: SeedOpt = None,
    reasoning_effort: EffortOpt = None,
    thinking_budget: BudgetOpt = None,
    debug: DebugOpt = False,
    continue_latest: ContinueOpt = False,
    conversation: ConversationOpt = None,
    all_tools: SessionToolsOpt = False,
    mcp: McpOpt = None,
    mcp_config: McpConfigOpt = None,
    attach: AttachOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Chat with a language model in a full-screen terminal session.

    Keys: Enter sends, Ctrl+J (or Shift+Enter) inserts a newline, Escape stops the reply,
    Ctrl+N starts a new conversation, Ctrl+O opens the history, Ctrl+P opens the command
    palette, Ctrl+G edits the prompt in $EDITOR, Up/Down recall earlier prompts, Ctrl+Q quits.
    Type /help in the prompt for the slash commands (/model, /system, /retry, /edit, /copy,
    /export, /theme, /new, /mcp).
    """
    choice = Choice(provider, model, system, theme, given_options(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
        reasoning_effort=reasoning_effort, thinking_budget=thinking_budget,
    ))
    if ctx.invoked_subcommand is not None:
        if attach:
            raise fail(f"-a/--attach goes after the command (llmchat {ctx.invoked_subcommand} -a PATH ...)")
        ctx.obj = choice
        return
    run_session(
        choice, debug=debug, continue_latest=continue_latest, conversation=conversation, all_tools=all_tools,
        mcp=mcp, mcp_config=mcp_config, attach=attach,
    )


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
    continue_latest: ContinueOpt = False,
    conversation: ConversationOpt = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not store this exchange.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the request's tokens and cost; send nothing.")
    ] = False,
    all_tools: Annotated[
        bool, typer.Option("--tools", help="Offer every tool (built-in, config, plugins).")
    ] = False,
    tool: Annotated[
        Optional[list[str]], typer.Option("-T", "--tool", help="Offer this tool (repeatable).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Run tools that are not read-only without asking.")
    ] = False,
    mcp: McpOpt = None,
    mcp_config: McpConfigOpt = None,
    attach: AttachOpt = None,
    template: Annotated[
        Optional[str], typer.Option("-t", "--template", help="Use [templates.NAME] of the config file.")
    ] = None,
    compare: Annotated[
        Optional[str], typer.Option(
            "--compare", metavar="M1,M2,...",
            help="Ask several models at once: a comma-separated list of MODEL or PROVIDER:MODEL.")
    ] = None,
    debug: DebugOpt = False,
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

        llmchat ask -c "And in French?"      # continue the latest conversation

        llmchat ask -T read_file "Summarize README.md"   # let the model read files here

        llmchat ask --mcp github "Open issues about the parser?"   # tools of an MCP server

        llmchat ask --dry-run -c "And in French?"   # tokens and cost, nothing sent

        llmchat ask -a screenshot.png -a app.log "What went wrong?"   # attach files

        llmchat ask --compare gpt-4o-mini,anthropic:claude-3-5-haiku "2+2?"   # several models
    """
    ask_command(
        ctx.obj or Choice(),
        prompt=prompt, provider=provider, model=model, system=system, json_output=json_output,
        reasoning=reasoning, complete=complete, continue_latest=continue_latest,
        conversation=conversation, no_log=no_log, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, stop=stop, seed=seed, reasoning_effort=reasoning_effort,
        thinking_budget=thinking_budget, all_tools=all_tools, tool=tool, yes=yes, debug=debug,
        mcp=mcp, mcp_config=mcp_config, dry_run=dry_run, attach=attach, template=template,
        compare=compare,
    )


app.add_typer(history_app, name="history")


@app.command("export")
def export(
    ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")],
    format: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",  # noqa: A002
) -> None:
    """Write a stored conversation to stdout, with finish reasons and usage."""
    if format not in EXPORT_FORMATS:
        raise fail(f"unknown format {format!r}: use {' or '.join(EXPORT_FORMATS)}")
    write_export(ref, format)


@app.command()
def templates(ctx: typer.Context) -> None:
    """List the reusable prompts ([templates.NAME] in the config file): name, then what it does."""
    settings = (ctx.obj or Choice()).settings()
    if not settings.templates:
        note(f"no templates: add [templates.NAME] to {settings.config_path} (see the README)")
        return
    for name, template in sorted(settings.templates.items()):
        print(for_stream(f"{name:<16} {one_line(template.summary(), 100)}", sys.stdout))


@app.command()
def models(
    ctx: typer.Context,
    provider: ProviderOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array of model ids.")] = False,
) -> None:
    """List the models the provider serves, one per line; "(images)" marks those that take
    images, where the provider's list says so (OpenRouter, Ollama)."""
    from llmchat.providers import make_client
    from llmchat.providers.errors import ProviderError

    settings = replace(Choice(provider).over(ctx.obj or Choice()), model=None).settings()
    settings = ensure_credentials(settings, interactive=False)

    async def fetch() -> tuple[list[str], set[str]]:
        async with make_client() as client:
            server = settings.provider.create(client)
            names = await server.list_models()
            images: set[str] = set()
            marker = getattr(server, "image_models", None)
            if marker is not None and not json_output:  # where the provider's list says so
                try:
                    images = await marker(names)
                except ProviderError:
                    pass
            return names, images

    try:
        names, images = asyncio.run(fetch())
    except ProviderError as exc:
        raise fail(exc.describe(), 1) from None
    # Model ids come from the server: one safe line each (a name with controls cannot be
    # meant); --json gives them exactly (escaped on a terminal).
    if json_output:
        print(json_text(names, sys.stdout))
    else:
        for name in names:
            print(one_line(name, 200) + ("  (images)" if name in images else ""))


app.add_typer(keys_app, name="keys")
app.add_typer(mcp_app, name="mcp")
app.add_typer(config_app, name="config")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. Not a loopback one: anyone who can "
                          "reach it and sees the token chats with your keys.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    public_url: Annotated[
        Optional[str], typer.Option("--public-url", help="URL the browser reaches the server at "
                                    "(behind a proxy); default: from --host and --port.")
    ] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    system: SystemOpt = None,
    theme: ThemeOpt = None,
    temperature: TemperatureOpt = None,
    top_p: TopPOpt = None,
    max_tokens: MaxTokensOpt = None,
    stop: StopOpt = None,
    seed: SeedOpt = None,
    reasoning_effort: EffortOpt = None,
    thinking_budget: BudgetOpt = None,
    debug: DebugOpt = False,
    continue_latest: ContinueOpt = False,
    conversation: ConversationOpt = None,
    all_tools: SessionToolsOpt = False,
) -> None:
    """Serve the full-screen session to a web browser (textual-serve).

    Each browser tab gets its own session, run with the options given here (or before
    `serve`) and this process's environment (API keys, base URLs). The page needs the
    secret token in the URL printed at start (a new one each time; set LLMCHAT_SERVE_TOKEN
    to fix it), and the default address is 127.0.0.1. Examples:

        llmchat serve                        # then open the printed http://127.0.0.1:8000/?token=...

        llmchat serve --port 9000 -m gpt-4o -s "Answer briefly."
    """
    from llmchat.serve import merge_params, serve_command

    # The session options given before `serve` (the callback's), then those given after it.
    params = merge_params(ctx.parent.params if ctx.parent is not None else {}, ctx.params)
    serve_command(params, host=host, port=port, url=public_url)
