"""Tools from outside llmchat's code: :class:`CommandTool` and the config file's
``[tools.NAME]`` tables (:func:`tools_from_config`), and tools offered by installed packages
(:func:`tools_from_entry_points`).

Re-exported by :mod:`llmchat.chat.tools`, the import path the rest of llmchat uses.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmchat.chat.process import minimal_environment, run_command
from llmchat.chat.tool_base import DEFAULT_TIMEOUT, EMPTY_PARAMETERS, ENTRY_POINT_GROUP, Tool, ToolError
from llmchat.errors import ConfigError


# --- command tools (the config file) -------------------------------------------------------


@dataclass
class CommandTool(Tool):
    """A tool that runs a command: the arguments as JSON on stdin, its stdout is the result.

    A non-zero exit status is an error (with the start of stderr). The command and everything
    it started are killed on timeout and on cancellation.
    """

    command: str | Sequence[str] = ""
    """A shell command line, or an argument vector run without a shell."""
    cwd: str | Path | None = None
    """The working directory; None keeps llmchat's."""
    max_output_bytes: int = 1_000_000
    """Stdout cap; past it the command is stopped and the output marked truncated."""
    env: tuple[str, ...] = ()
    """Variables passed beside the minimal environment (``env = ["GITHUB_TOKEN"]``)."""
    inherit_env: bool = False
    """Pass llmchat's whole environment, API keys included (``inherit_env = true``)."""

    def environment(self) -> dict[str, str]:
        """The command's environment: :func:`~llmchat.chat.process.minimal_environment` with
        :attr:`env` (or all of ours with :attr:`inherit_env`), and ``LLMCHAT_TOOL``."""
        chosen = dict(os.environ) if self.inherit_env else minimal_environment(self.env)
        chosen["LLMCHAT_TOOL"] = self.name
        return chosen

    async def run(self, arguments: dict[str, Any]) -> str:
        """Run the command with `arguments` as JSON on stdin.

        Raises:
            ToolError: the command could not start or exited with a non-zero status.
        """
        payload = json.dumps(arguments, ensure_ascii=False).encode()
        try:
            result = await run_command(
                self.command, payload, cwd=self.cwd, max_output=self.max_output_bytes,
                env=self.environment(),
            )
        except OSError as exc:
            raise ToolError(f"the command of tool {self.name!r} could not start: {exc}") from None
        stdout = result.stdout.decode("utf-8", errors="replace")
        if result.returncode != 0 and not result.truncated:
            stderr = result.stderr.decode("utf-8", errors="replace").strip()
            detail = stderr or stdout.strip() or "no output"
            raise ToolError(f"the command exited with status {result.returncode}: {detail}")
        if result.truncated:
            stdout += f"\n\n[output truncated: the command was stopped after {self.max_output_bytes} bytes]"
        return stdout


MAX_TOOL_TIMEOUT = 86_400
"""The longest tool timeout the config accepts, in seconds (one day)."""
_CONFIG_KEYS = frozenset(
    {"description", "parameters", "command", "read_only", "timeout", "cwd", "env", "inherit_env"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def tools_from_config(table: Mapping[str, Any], *, where: str = "config") -> list[Tool]:
    """Command tools from the config file's ``[tools.NAME]`` tables.

    Example::

        [tools.weather]
        description = "The weather forecast for a city"
        parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }
        command = "weather-cli --json"    # or an argument list: ["weather-cli", "--json"]
        read_only = false                 # default: false (the user is asked first)
        timeout = 30                      # seconds; default 30
        env = ["WEATHER_TOKEN"]           # passed beside the minimal environment (PATH, HOME,
                                          # LANG, LC_*, TERM, TMPDIR, USER ...); no API keys
        inherit_env = false               # true: llmchat's whole environment, keys included

    Args:
        table: the ``tools`` table (tool name -> settings).
        where: the file name, for error messages.

    Raises:
        ConfigError: a setting is missing or has the wrong type; the message names the key.
    """
    tools: list[Tool] = []
    for name, spec in table.items():
        here = f"{where}: tools.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{here} must be a table ([tools.{name}])")
        unknown = set(spec) - _CONFIG_KEYS
        if unknown:
            raise ConfigError(
                f"{here}: unknown key {min(unknown)!r} (known: {', '.join(sorted(_CONFIG_KEYS))})"
            )
        command = spec.get("command")
        if not (
            (isinstance(command, str) and command.strip())
            or (
                isinstance(command, list)
                and command
                and all(isinstance(part, str) for part in command)
            )
        ):
            raise ConfigError(f"{here}: 'command' must be a command line or a list of strings")
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{here}: 'description' must be a string")
        parameters = spec.get("parameters", EMPTY_PARAMETERS)
        if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
            raise ConfigError(f"{here}: 'parameters' must be a JSON schema of type \"object\"")
        read_only = spec.get("read_only", False)
        if not isinstance(read_only, bool):
            raise ConfigError(f"{here}: 'read_only' must be true or false")
        timeout = spec.get("timeout", DEFAULT_TIMEOUT)
        if (
            isinstance(timeout, bool) or not isinstance(timeout, int | float)
            or not math.isfinite(timeout) or not 0 < timeout <= MAX_TOOL_TIMEOUT
        ):
            raise ConfigError(
                f"{here}: 'timeout' must be a number of seconds above 0 and at most {MAX_TOOL_TIMEOUT} (got {timeout!r})"
            )
        cwd = spec.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigError(f"{here}: 'cwd' must be a directory path")
        env = spec.get("env", [])
        if not isinstance(env, list) or not all(isinstance(v, str) and _ENV_NAME.fullmatch(v) for v in env):
            raise ConfigError(f"{here}: 'env' must be a list of environment variable names")
        inherit_env = spec.get("inherit_env", False)
        if not isinstance(inherit_env, bool):
            raise ConfigError(f"{here}: 'inherit_env' must be true or false")
        try:
            tool = CommandTool(
                name=str(name),
                description=description or f"Runs the command {command!r}.",
                parameters=dict(parameters),
                read_only=read_only,
                timeout=float(timeout),
                source="config",
                command=command if isinstance(command, str) else tuple(command),
                cwd=Path(cwd).expanduser() if cwd else None,
                env=tuple(env),
                inherit_env=inherit_env,
            )
        except ValueError as exc:
            raise ConfigError(f"{here}: {exc}") from None
        tools.append(tool)
    return tools


# --- tools from installed packages ---------------------------------------------------------


def tools_from_entry_points(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> tuple[list[Tool], list[str]]:
    """Tools offered by installed packages through the ``llmchat.tools`` entry point group.

    Each entry point names a :class:`Tool`, a list of them, or a callable (called with no
    arguments) that returns either. A package that fails to load is reported, not raised::

        [project.entry-points."llmchat.tools"]
        mytools = "mypackage.tools:get_tools"

    Args:
        entry_points: the entry points to load; None reads the installed packages' ones.

    Returns:
        The tools, and one message per entry point that failed.
    """
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    tools: list[Tool] = []
    problems: list[str] = []
    for entry_point in entry_points:
        where = f"plugin:{entry_point.name}"
        try:
            loaded = entry_point.load()
            if callable(loaded) and not isinstance(loaded, Tool):
                loaded = loaded()
            found = [loaded] if isinstance(loaded, Tool) else list(loaded)
            for tool in found:
                if not isinstance(tool, Tool):
                    raise TypeError(f"{tool!r} is not a llmchat Tool")
        except Exception as exc:  # noqa: BLE001 - a broken package must not stop llmchat
            problems.append(
                f"tools of {entry_point.name!r} ({entry_point.value}) not loaded: "
                f"{type(exc).__name__}: {exc}"
            )
            continue
        for tool in found:
            if tool.source == "builtin":
                tool.source = where
            tools.append(tool)
    return tools, problems
