"""The options several ``llmchat`` commands share (Typer ``Annotated`` types), with their help
texts and shell completion.

Used by :mod:`llmchat.cli_app` and the command groups beside it; Textual is imported only
inside the theme completion.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def _complete_providers(incomplete: str) -> list[str]:
    """Shell completion for -p: the built-in providers and the config file's profiles."""
    from llmchat.config_profiles import BUILTIN_PROFILES
    from llmchat.config_values import read_toml
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
YesOpt = Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation on a terminal.")]
