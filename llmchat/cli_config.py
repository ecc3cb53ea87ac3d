"""``llmchat config`` (path, show, edit): where the configuration lives, what it resolves
to (API keys redacted), and editing it from a commented template."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from llmchat.cli_shared import Choice, fail
from llmchat.safety import for_stream, json_text, note

config_app = typer.Typer(help="Show, locate or edit the configuration (API keys are never printed).")

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
