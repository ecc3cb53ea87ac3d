"""The Typer application behind ``llmchat``: the full-screen session, ``ask``, ``models``,
``history`` and ``export``, with their help texts.

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
from llmchat.cli_ask import ask_command, mcp_servers_of, read_attachments
from llmchat.cli_shared import (
    Choice,
    confirm,
    ensure_credentials,
    fail,
    given_options,
    open_store,
    start_debug_log,
)
from llmchat.safety import for_stream, is_terminal, json_safe, json_text, note, one_line
from llmchat.cli_mcp import mcp_app
from llmchat.store import EXPORT_FORMATS, StoreError

app = typer.Typer(
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)



def _complete_providers(incomplete: str) -> list[str]:
    """Shell completion for -p: the built-in providers and the config file's profiles."""
    from llmchat.config import BUILTIN_PROFILES, read_toml
    from llmchat.errors import ConfigError
    from llmchat.paths import config_file

    try:
        table = read_toml(config_file())
    except ConfigError:  # a broken config file must not break completion
        table = {}
    names = set(BUILTIN_PROFILES)
    for key in ("providers", "profiles"):
        if isinstance(table.get(key), dict):
            names.update(table[key])
    return sorted(name for name in names if name.startswith(incomplete))


def _complete_themes(incomplete: str) -> list[str]:
    """Shell completion for --theme: every theme the session accepts: the shipped ones, the
    user's theme files and Textual's built-in themes."""
    from textual.theme import BUILTIN_THEMES

    from llmchat.paths import builtin_themes_dir, user_themes_dir

    names = {path.stem for folder in (builtin_themes_dir(), user_themes_dir())
             if folder.is_dir() for path in folder.glob("*.toml")} | set(BUILTIN_THEMES)
    return sorted(name for name in names if name.startswith(incomplete))


ProviderOpt = Annotated[
    Optional[str],
    typer.Option(
        "-p", "--provider",
        help="openai, openai-responses, anthropic, ollama, gemini, openrouter, groq, deepseek, "
        "mistral, together, fireworks, or a [providers.NAME] from the config file.",
        autocompletion=_complete_providers,
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
ThemeOpt = Annotated[
    Optional[str], typer.Option("--theme", help="Theme name: a shipped llmchat-* theme, one of yours, or "
                                "any Textual theme (textual-dark, nord, gruvbox...).", autocompletion=_complete_themes)
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Write a full log to the state directory.")]
ContinueOpt = Annotated[bool, typer.Option("-c", "--continue", help="Continue the latest conversation.")]
ConversationOpt = Annotated[
    Optional[str], typer.Option("--conversation", help="Continue this conversation (ID or 'latest').")
]
McpOpt = Annotated[
    Optional[list[str]],
    typer.Option("--mcp", help="Offer the tools of this MCP server from mcp.json (repeatable; 'all')."),
]
McpConfigOpt = Annotated[
    Optional[str], typer.Option("--mcp-config", help="Read MCP servers from this file instead of mcp.json.")
]
AttachOpt = Annotated[
    Optional[list[str]],
    typer.Option("-a", "--attach", help="Attach a file, directory or http(s) URL (repeatable)."),
]
SessionToolsOpt = Annotated[
    bool, typer.Option("--tools", help="Offer tools; those that are not read-only ask first.")
]


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
    settings = choice.settings()
    if debug:
        start_debug_log(settings)
    if mcp or mcp_config:
        mcp_servers_of(mcp, mcp_config)  # a broken mcp.json or an unknown name: exit 2 now
    attachments = read_attachments(settings, attach or ())  # a bad file: exit 2 now
    from llmchat.tui.app import LlmChatApp
    from llmchat.tui.widgets.image_view import detect_graphics

    detect_graphics()  # with the `images` extra: ask the terminal now, before Textual owns it

    session_app = LlmChatApp(
        settings, conversation="latest" if continue_latest else conversation, tools=all_tools,
        mcp=tuple(mcp or ()), mcp_config=mcp_config, attachments=attachments,
    )
    session_app.run()
    if session_app.return_code:  # e.g. 2: the first-run dialog was quit with nothing to chat with
        raise SystemExit(session_app.return_code)


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
    """
    ask_command(
        ctx.obj or Choice(),
        prompt=prompt, provider=provider, model=model, system=system, json_output=json_output,
        reasoning=reasoning, complete=complete, continue_latest=continue_latest,
        conversation=conversation, no_log=no_log, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, stop=stop, seed=seed, reasoning_effort=reasoning_effort,
        thinking_budget=thinking_budget, all_tools=all_tools, tool=tool, yes=yes, debug=debug,
        mcp=mcp, mcp_config=mcp_config, dry_run=dry_run, attach=attach, template=template,
    )


history_app = typer.Typer(help="List, show, search and delete stored conversations.")
app.add_typer(history_app, name="history")


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many, newest first.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List stored conversations, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    rows = store.list_conversations(limit=limit)
    if json_output:
        print(json_text([
            {"id": r.id, "title": r.display_title, "provider": r.provider, "model": r.model,
             "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
             "message_count": r.message_count}
            for r in rows
        ], sys.stdout))
        return
    for r in rows:
        title = one_line(r.display_title, 50)
        print(f"{r.id}  {r.updated_at:%Y-%m-%d %H:%M}  {r.message_count:>4} msgs  "
              f"{one_line(r.model or '-', 60):<24}  {title}")


@history_app.command("show")
def history_show(ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")]) -> None:
    """Print one conversation's current path as Markdown; a "⎇ N other branches here" line
    marks each message where other branches split off."""
    _export(ref, "md")


@history_app.command("search")
def history_search(
    text: Annotated[str, typer.Argument(help="Words to find.")],
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many conversations.")] = 20,
) -> None:
    """Search every stored message: one line per conversation (its best match); exits 1 with
    "no match" on stderr when nothing matches, as grep does."""
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    best: dict[str, tuple[object, int]] = {}  # conversation -> (its best hit, how many hits)
    for hit in store.search(text, limit=limit * 20):
        first, count = best.get(hit.conversation_id, (hit, 0))
        best[hit.conversation_id] = (first, count + 1)
    if not best:
        raise fail("no match", 1)
    for first, count in list(best.values())[:limit]:
        more = f"  (+{count - 1} more)" if count > 1 else ""
        print(f"{first.conversation_id}  {one_line(first.title or '', 40):<40}  "  # type: ignore[attr-defined]
              f"{one_line(first.snippet, 80)}{more}")  # type: ignore[attr-defined]


YesOpt = Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation on a terminal.")]


@history_app.command("rm")
def history_rm(ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")], yes: YesOpt = False) -> None:
    """Delete a conversation (asks first on a terminal, unless -y)."""
    store = open_store(required=True)
    assert store is not None
    try:
        summary, _ = store.load_conversation(ref)
        if not confirm(f"Delete conversation {summary.id} ({summary.display_title})?", yes=yes):
            raise fail("not deleted", 1)
        store.delete(summary.id)
    except StoreError as exc:
        raise fail(str(exc)) from None


@app.command("export")
def export(
    ref: Annotated[str, typer.Argument(help="Conversation ID or 'latest'.")],
    format: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",  # noqa: A002
) -> None:
    """Write a stored conversation to stdout, with finish reasons and usage."""
    if format not in EXPORT_FORMATS:
        raise fail(f"unknown format {format!r}: use {' or '.join(EXPORT_FORMATS)}")
    _export(ref, format)


def _export(ref: str, format: str) -> None:  # noqa: A002
    store = open_store(required=True, read_only_ok=True)
    assert store is not None
    try:
        text = store.export(ref, format)
    except StoreError as exc:
        raise fail(str(exc)) from None
    text = text if text.endswith("\n") else text + "\n"
    # A terminal gets the transcript made safe (it holds server text); a pipe or file, exactly.
    sys.stdout.write((json_safe if is_terminal(sys.stdout) else str)(text) if format == "json"
                     else for_stream(text, sys.stdout))



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


keys_app = typer.Typer(help="Keep API keys in an owner-only key file (used when the env variable is unset).")
app.add_typer(keys_app, name="keys")


@keys_app.command("set")
def keys_set(name: Annotated[str, typer.Argument(help="Provider or profile name, e.g. openai, groq.")]) -> None:
    """Store a key for NAME: typed at a hidden prompt, or piped on stdin."""
    from getpass import getpass

    from llmchat import paths
    from llmchat.errors import ConfigError
    from llmchat.keys import set_key

    value = getpass(f"API key for {name}: ") if sys.stdin.isatty() else sys.stdin.readline()
    if not value.strip():
        raise fail("no key given")
    try:
        set_key(paths.keys_file(), name, value)
    except (ConfigError, OSError) as exc:
        raise fail(str(exc)) from None
    note(f"key for {name} saved in {paths.keys_file()} (mode 600)")


@keys_app.command("list")
def keys_list() -> None:
    """List the names that have a stored key (never the keys)."""
    from llmchat import paths
    from llmchat.errors import ConfigError
    from llmchat.keys import read_keys

    try:
        names = sorted(read_keys(paths.keys_file()))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    for name in names:
        print(name)


@keys_app.command("rm")
def keys_rm(name: Annotated[str, typer.Argument(help="Provider or profile name.")], yes: YesOpt = False) -> None:
    """Forget the stored key of NAME (asks first on a terminal, unless -y)."""
    from llmchat import paths
    from llmchat.errors import ConfigError
    from llmchat.keys import delete_key, read_keys

    try:
        if name in read_keys(paths.keys_file()) and not confirm(f"Forget the stored key for {name}?", yes=yes):
            raise fail("not deleted", 1)
        found = delete_key(paths.keys_file(), name)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not found:
        raise fail(f"no stored key for {name!r}", 1)


app.add_typer(mcp_app, name="mcp")

config_app = typer.Typer(help="Show, locate or edit the configuration (API keys are never printed).")
app.add_typer(config_app, name="config")

CONFIG_TEMPLATE = """\
# llmchat configuration. Every key is optional; flags and LLMCHAT_* variables override them.
# Keys are never stored here: set the provider's variable (OPENAI_API_KEY ...) or use
# `llmchat keys set NAME`.

# provider = "openai"          # openai, openai-responses, anthropic, ollama, gemini, openrouter,
#                              # groq, deepseek, mistral, together, fireworks, or a [providers.NAME] below
# model = "gpt-4o-mini"
# system = "You are terse."
# theme = "llmchat-dark"       # leave unset to keep the theme last chosen in the app
# retries = 2
# idle_timeout = 120
# first_token_timeout = 300

# [options]
# temperature = 0.7

# [providers.work]
# kind = "openai"              # openai, anthropic or ollama
# base_url = "https://llm.example.com/v1"
# api_key_env = "WORK_API_KEY"
# model = "llama-3.3-70b"
"""


@config_app.command("path")
def config_path() -> None:
    """Print the config file's path (it may not exist yet)."""
    from llmchat import paths

    print(paths.config_file())


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the resolved settings (file, environment and flags); keys are redacted.

    Examples:

        llmchat config show

        llmchat -p groq config show --json
    """
    import os
    from dataclasses import asdict

    from llmchat import paths

    settings = (ctx.obj or Choice()).settings()
    p = settings.provider
    config_file = paths.config_file()
    key_state = "not set"
    if p.api_key:
        from_env = p.api_key_env and os.environ.get(p.api_key_env)
        key_state = f"set (from {p.api_key_env})" if from_env else "set (key file or api_key_cmd)"
    shown = {
        "config_file": str(config_file),
        "config_file_exists": config_file.exists(),
        "provider": p.name,
        "kind": p.kind,
        "base_url": p.base_url,
        "model": p.model,
        "api_key": key_state,
        "api_key_env": p.api_key_env,
        "headers": {name: "<redacted>" for name in p.headers},
        "system": settings.system,
        "theme": settings.theme if settings.theme_explicit else f"{settings.theme} (default; the app "
                 "uses the theme last chosen)",
        "options": dict(settings.options),
        "policy": asdict(settings.policy),
        "profiles": list(settings.profiles),
        "tools": sorted(settings.tools),
    }
    if json_output:
        print(json_text(shown, sys.stdout, indent=2))
        return
    for name, value in shown.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        elif value is None:
            value = "-"
        print(for_stream(f"{name:<20} {value}", sys.stdout))


@config_app.command("edit")
def config_edit() -> None:
    """Open the config file in $VISUAL / $EDITOR (created from a commented template if missing),
    then check it."""
    import os
    import shlex
    import subprocess

    from llmchat import paths
    from llmchat.errors import ConfigError

    path = paths.config_file()
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise fail(f"set $EDITOR (or $VISUAL) to edit {path}")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(CONFIG_TEMPLATE, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot create {path}: {exc.strerror}") from None
        note(f"created {path}")
    try:
        code = subprocess.call([*shlex.split(editor), str(path)])
    except OSError as exc:
        raise fail(f"cannot run {editor!r}: {exc.strerror}") from None
    if code != 0:
        raise fail(f"the editor exited with status {code}", 1)
    from llmchat.config import load_settings

    try:
        load_settings(path, os.environ, keys_path=paths.keys_file())
    except ConfigError as exc:
        raise fail(str(exc)) from None
    note(f"{path} is valid")


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
