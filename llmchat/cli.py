"""The command line: ``llmchat`` (full-screen session), ``llmchat ask`` (one-shot) and
``llmchat models``.

Contract: shared/DESIGN.md, "Command-line contract". The commands, their options and help
are defined with Typer in :mod:`llmchat.cli_app`; ``ask`` itself in :mod:`llmchat.cli_ask`,
and what the commands share in :mod:`llmchat.cli_shared`. This module holds the entry point
and the fast path; nothing in llmchat imports it (imports point one way).

Start-up (docs/performance.md): importing Typer and building its command costs more than
everything else ``llmchat ask`` does (Typer validates parameters with pydantic). So
:func:`main` parses a plain ``llmchat ask`` command line itself, with exactly Typer's
meaning, and only imports Typer for anything else: help, other commands, options before
``ask``, unusual spellings (``-mNAME``, ``--``, clustered flags) and every error, which so
keep Typer's messages. Textual is imported only inside the TUI command, so ``llmchat ask``
never loads it. A bare ``llmchat`` (the session with every option at its default) skips Typer
too (:mod:`llmchat.cli_session`).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from llmchat.cli_shared import Choice

__all__ = ["Choice", "main", "parse_ask"]


# -- the fast path for `llmchat ask` ---------------------------------------------------------

_NUMBER = re.compile(r"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")
_INTEGER = re.compile(r"0|[1-9][0-9]{0,17}")


def _float(value: str) -> float | None:
    return float(value) if _NUMBER.fullmatch(value) else None


def _int(value: str) -> int | None:
    return int(value) if _INTEGER.fullmatch(value) else None


_ASK_FLAGS = {
    "--json": "json_output",
    "--reasoning": "reasoning",
    "--complete": "complete",
    "-c": "continue_latest",
    "--continue": "continue_latest",
    "--no-log": "no_log",
    "--tools": "all_tools",
    "--yes": "yes",
    "--debug": "debug",
    "--dry-run": "dry_run",
}
"""Boolean options of ``ask`` (as in :func:`llmchat.cli_app.ask`)."""
_ASK_OPTIONS: dict[str, tuple[str, Any]] = {
    "-p": ("provider", str),
    "--provider": ("provider", str),
    "-m": ("model", str),
    "--model": ("model", str),
    "-s": ("system", str),
    "--system": ("system", str),
    "--conversation": ("conversation", str),
    "--temperature": ("temperature", _float),
    "--top-p": ("top_p", _float),
    "--max-tokens": ("max_tokens", _int),
    "--stop": ("stop", str),
    "--seed": ("seed", _int),
    "--reasoning-effort": ("reasoning_effort", str),
    "--thinking-budget": ("thinking_budget", _int),
    "-T": ("tool", str),
    "--tool": ("tool", str),
    "--mcp": ("mcp", str),
    "--mcp-config": ("mcp_config", str),
    "-t": ("template", str),
    "--template": ("template", str),
    "-a": ("attach", str),
    "--attach": ("attach", str),
    "--compare": ("compare", str),
}
"""Options of ``ask`` that take a value: its parameter name and how the value converts."""


def _plain(arg: str) -> bool:
    """True for an argument that is valid UTF-8 text (no undecodable bytes)."""
    if arg.isascii():
        return True
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_ask(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``llmchat ask ARGS`` as Typer would pass them to the command, or
    None when `args` use anything but the plain forms (``--opt value``, ``--opt=value``,
    ``-o value``, flags, one prompt) or would be a usage error: Typer handles those.

    Numbers are taken only in plain decimal spellings (``0.7``, ``512``), which Typer reads
    the same way; an option given twice (but ``--stop``) also goes to Typer.
    """
    values: dict[str, Any] = {}
    repeated: dict[str, list[str]] = {"stop": [], "tool": [], "mcp": [], "attach": []}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not _plain(arg):
            return None
        if arg[:1] != "-":
            if "prompt" in values:
                return None  # an extra argument: a usage error
            values["prompt"] = arg
            continue
        if arg in _ASK_FLAGS:
            values[_ASK_FLAGS[arg]] = True
            continue
        name, eq, value = arg.partition("=")
        spec = _ASK_OPTIONS.get(name)
        if spec is None or (eq and not name.startswith("--")):
            return None  # help, "--", "-", an unknown option, "-mNAME", "-m=NAME", a value for a flag...
        if not eq:
            if i == len(args):
                return None  # the value is missing
            value = args[i]
            i += 1
            if value[:1] == "-" or not _plain(value):
                return None
        dest, convert = spec
        converted = convert(value)
        if converted is None:
            return None
        if dest in repeated:
            repeated[dest].append(converted)
        elif dest in values:
            return None
        else:
            values[dest] = converted
    values.update({dest: items for dest, items in repeated.items() if items})
    return values


class _PacifyFlush:
    """Wraps a stream so that flushing into a closed pipe is quiet (as click does)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _standalone(run: Callable[[], object]) -> NoReturn:
    """Call `run` as Typer's standalone mode calls a command: Ctrl+D (EOFError) is
    ``Aborted!`` and exit 1, Ctrl+C exit 130, a closed stdout pipe a quiet exit 1."""
    try:
        run()
    except EOFError:
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _PacifyFlush(sys.stdout)
        sys.stderr = _PacifyFlush(sys.stderr)
        sys.exit(1)
    sys.exit(0)


def _run_ask_fast(values: dict[str, Any]) -> NoReturn:
    """Run ``ask`` as Typer's standalone mode would around the command."""

    def run() -> None:
        from llmchat.cli_ask import ask_command

        ask_command(Choice(), **values)

    _standalone(run)


def _run_session_fast() -> NoReturn:
    """Run a bare ``llmchat`` (the session, every option at its default) without Typer."""

    def run() -> None:
        from llmchat.cli_session import run_session

        run_session(Choice())

    _standalone(run)


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    completing = any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)
    if not args and not completing:
        _run_session_fast()
    if args[:1] == ["ask"] and not completing:
        values = parse_ask(args[1:])
        if values is not None:
            _run_ask_fast(values)
    from llmchat.cli_app import app

    app()


def __getattr__(name: str) -> Any:
    """``llmchat.cli.app``: the Typer application, built on first use."""
    if name == "app":
        from llmchat.cli_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
