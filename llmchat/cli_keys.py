"""``llmchat keys`` (set, list, rm): API keys in the owner-only key file, never printed."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from llmchat.cli_options import YesOpt
from llmchat.cli_shared import confirm, fail
from llmchat.safety import note

keys_app = typer.Typer(help="Keep API keys in an owner-only key file (used when the env variable is unset).")


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
    """List the names that have a stored key (never the keys), one per line on stdout; with
    none stored, stdout stays empty and stderr says so (exit 0)."""
    from llmchat import paths
    from llmchat.errors import ConfigError
    from llmchat.keys import read_keys

    try:
        names = sorted(read_keys(paths.keys_file()))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not names:
        note(f"no stored keys in {paths.keys_file()} (llmchat keys set NAME stores one)")
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
