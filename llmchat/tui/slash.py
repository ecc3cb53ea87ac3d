"""Slash commands typed in the prompt: a message that starts with ``/`` runs a command.

``//text`` sends ``/text`` as an ordinary message. The chat screen runs the commands
(:meth:`llmchat.tui.screens.chat_actions.ChatActions.run_slash`); this module only knows their names.
"""

from __future__ import annotations

from typing import NamedTuple


class SlashCommand(NamedTuple):
    """One command: its name (without the slash), its argument and what it does."""

    name: str
    argument: str
    help: str


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("new", "", "start a new conversation"),
    SlashCommand("model", "[NAME]", "switch the model (no NAME: choose from the provider's list)"),
    SlashCommand("provider", "[NAME]", "switch the provider or profile (no NAME: choose from a list)"),
    SlashCommand("attach", "PATH|URL", "attach a file, a directory or a URL to the next message"),
    SlashCommand("system", "[TEXT]", "set the system prompt (no TEXT: edit it in a dialog)"),
    SlashCommand("retry", "", "regenerate the last answer (the old one stays, as another branch)"),
    SlashCommand("continue", "", "ask the model to go on where its last answer stopped"),
    SlashCommand("edit", "", "put the last message back in the prompt; sending makes a new branch"),
    SlashCommand("compare", "[MODEL...|off]", "send the next message to several models at once (PROVIDER:MODEL "
                 "for another provider or profile), replies side by side; pick one to go on with"),
    SlashCommand("fork", "", "go on in a copy of this conversation (the original stays in the history)"),
    SlashCommand("compact", "", "summarise older messages (you correct the summary); the original stays in the history"),
    SlashCommand("copy", "[N] [> FILE]", "copy the last answer to the clipboard (N: only its code block N; "
                 "> FILE: write it to FILE instead)"),
    SlashCommand("save", "FILE", "write the last answer to FILE (works on every terminal)"),
    SlashCommand("export", "", "write the conversation to llmchat-<id>.md here"),
    SlashCommand("template", "NAME [TEXT]", "use [templates.NAME] of the config: its provider, model, "
                 "system prompt and options; with TEXT send its prompt filled in, else put it in the prompt"),
    SlashCommand("tab", "[new|close|next|prev|N|list]", "tabs: open a new one, close this one, go to "
                 "another (no argument: list them)"),
    SlashCommand("theme", "[NAME]", "switch the theme (no NAME: choose from a list)"),
    SlashCommand("mcp", "", "MCP servers: switch servers and tools on or off, read their logs"),
    SlashCommand("help", "", "list these commands"),
)
NAMES = tuple(c.name for c in COMMANDS)


def is_command(text: str) -> bool:
    """True when `text` is a slash command (``//`` escapes a leading slash)."""
    stripped = text.lstrip()
    return stripped.startswith("/") and not stripped.startswith("//")


def unescape(text: str) -> str:
    """``//text`` -> ``/text``: what is sent for an escaped slash."""
    stripped = text.lstrip()
    return stripped[1:] if stripped.startswith("//") else text


def parse(text: str) -> tuple[str, str]:
    """``"/model gpt-4o"`` -> ``("model", "gpt-4o")``; the name is lower-cased."""
    name, _, argument = text.strip()[1:].partition(" ")
    return name.lower(), argument.strip()


def resolve(name: str) -> str:
    """A command's full name from `name` or an unambiguous beginning of it (``"hel"`` ->
    ``"help"``), so that Enter on a prefix whose completion was not yet applied runs the
    command; `name` itself when it is a command, ambiguous (``"e"``) or unknown."""
    if name in NAMES or not name:
        return name
    matches = [n for n in NAMES if n.startswith(name)]
    return matches[0] if len(matches) == 1 else name


def help_text() -> str:
    """One line per command, for /help."""
    return "\n".join(
        f"/{c.name}{' ' + c.argument if c.argument else ''} — {c.help}" for c in COMMANDS
    ) + "\n//text sends a message that starts with /"


def completions(themes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Whole command lines the prompt may suggest (commands, then ``/theme NAME``)."""
    lines = [f"/{name}" for name in NAMES]
    lines += [f"/theme {theme}" for theme in sorted(themes)]
    return lines
