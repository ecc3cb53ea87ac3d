"""Tools the model can call: :class:`Tool`, the :class:`ToolRegistry`, command tools from the
config file and tools from installed packages.

A tool's :meth:`Tool.run` takes the parsed JSON arguments and returns text; it raises
:class:`ToolError` to tell the model what went wrong. The registry turns every call into a
:class:`ToolOutput` for the model and never raises (but for cancellation): an unknown tool,
invalid JSON arguments, a timeout or a crash become error text the model can act on, and
long output is cut to the registry's limit with a note saying so.

The built-in tools (time, files, directories, URLs) live in :mod:`llmchat.chat.builtin_tools`;
the loop that runs calls between replies is :mod:`llmchat.chat.toolloop`.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import json
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmchat.chat.process import minimal_environment, run_command
from llmchat.errors import ConfigError

ENTRY_POINT_GROUP = "llmchat.tools"
"""The entry point group installed packages use to offer tools."""

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_OUTPUT_CHARS = 20_000

ToolHandler = Callable[[dict[str, Any]], Awaitable[Any] | Any]
"""A tool's implementation: parsed arguments in, a result out (str, or anything JSON)."""

ToolStatus = Literal["ok", "error", "denied", "cancelled", "skipped"]
"""How a call ended: ran fine, failed (or could not run), denied by the user, cancelled
while it ran, or not run at all (the round limit, or the loop was cancelled first)."""

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Tool names every provider accepts (OpenAI's rule is the strictest)."""

EMPTY_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


class ToolError(Exception):
    """A tool could not do what was asked; the message is sent to the model."""


class ToolText(str):
    """A tool's result text that also carries images, as (media type, base64 data) pairs.

    Return one from :meth:`Tool.run` to pass images on: they reach the model as image content
    where the provider takes images in tool results (Anthropic's ``tool_result``); the text
    should name them for the others.
    """

    images: tuple[tuple[str, str], ...] = ()

    def __new__(cls, text: str, images: Iterable[tuple[str, str]] = ()) -> ToolText:
        obj = super().__new__(cls, text)
        obj.images = tuple(images)
        return obj


@dataclass
class Tool:
    """A tool the model can call.

    Give a `handler`, or subclass and override :meth:`run`.
    """

    name: str
    """Letters, digits, ``_`` and ``-``, at most 64 (what every provider accepts)."""
    description: str
    """What the tool does and when to use it, for the model."""
    parameters: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY_PARAMETERS))
    """The JSON schema of the arguments object."""
    handler: ToolHandler | None = None
    """Called by :meth:`run` with the arguments; a plain function runs in a thread."""
    read_only: bool = False
    """True when the tool only reads: it then runs without asking the user."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds a call may take (None: no limit)."""
    source: str = "builtin"
    """Where the tool comes from: "builtin", "config" or "plugin:<entry point>"."""
    sensitive: Callable[[dict[str, Any]], str | None] | None = None
    """For a read-only tool: given a call's arguments, why that call needs the user's
    approval anyway (``read_file`` of ``~/.ssh/id_rsa``: "SSH keys (.ssh)"), or None."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"invalid tool name {self.name!r}: use 1 to 64 letters, digits, '_' or '-'"
            )

    async def run(self, arguments: dict[str, Any]) -> str:
        """Run the tool.

        Args:
            arguments: the call's arguments, parsed from the model's JSON.

        Returns:
            The result text for the model (a non-str result of the handler is sent as JSON).

        Raises:
            ToolError: the tool failed; the message tells the model why.
        """
        if self.handler is None:
            raise NotImplementedError(f"tool {self.name!r} has no handler")
        if inspect.iscoroutinefunction(self.handler):
            result = await self.handler(arguments)
        else:
            result = await asyncio.to_thread(self.handler, arguments)
            if inspect.isawaitable(result):
                result = await result
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)

    def approval_reason(self, arguments: dict[str, Any]) -> str | None:
        """Why this call may run only once the user approved it, or None when it runs unasked.

        A tool that is not read-only always asks; a read-only one asks when its
        :attr:`sensitive` hook names a reason (or fails: then the call cannot be judged).
        """
        if not self.read_only:
            return "it is not read-only"
        if self.sensitive is None:
            return None
        try:
            return self.sensitive(arguments)
        except Exception as exc:  # noqa: BLE001 - a call that cannot be judged is asked about
            return f"its arguments could not be checked ({type(exc).__name__}: {exc})"

    def definition(self) -> dict[str, Any]:
        """The Chat Completions tool definition:
        ``{"type": "function", "function": {"name", "description", "parameters"}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """The result of one call, as sent back to the model."""

    text: str
    """The tool message content (truncated; errors start with "Error:")."""
    status: ToolStatus = "ok"
    truncated: bool = False
    """True when the output was cut to the registry's limit."""
    duration: float | None = None
    """Seconds the tool ran; None when it did not run."""
    images: tuple[tuple[str, str], ...] = ()
    """Images of the result, (media type, base64 data) pairs (see :class:`ToolText`)."""

    @property
    def is_error(self) -> bool:
        """True for anything but a successful run."""
        return self.status != "ok"


def error_output(message: str, status: ToolStatus = "error") -> ToolOutput:
    """A ToolOutput telling the model what went wrong."""
    return ToolOutput(f"Error: {message}", status)


def parse_arguments(text: str) -> dict[str, Any]:
    """Parse a tool call's JSON arguments (empty text is ``{}``).

    Raises:
        ToolError: the text is not JSON, or not a JSON object.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ToolError(f"the arguments are not valid JSON ({exc}); send a JSON object") from None
    if not isinstance(value, dict):
        raise ToolError("the arguments must be a JSON object")
    return value


def truncate(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut `text` to `max_chars` characters, with a note saying how much was left out."""
    if len(text) <= max_chars:
        return text, False
    note = f"\n\n[output truncated: the first {max_chars} of {len(text)} characters are shown]"
    return text[:max_chars] + note, True


class ToolRegistry:
    """The tools offered to the model, by name.

    Args:
        tools: the tools; a second tool with a name already present raises ValueError.
        max_output_chars: tool output is cut to this many characters before it is sent back.
    """

    def __init__(
        self, tools: Iterable[Tool] = (), *, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    ) -> None:
        self.max_output_chars = max_output_chars
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    @classmethod
    def merge(
        cls, *sources: Iterable[Tool], max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    ) -> tuple[ToolRegistry, list[str]]:
        """A registry of the tools of every source; the first tool with a name wins.

        Returns:
            The registry, and one message per tool left out because its name was taken.
        """
        registry = cls(max_output_chars=max_output_chars)
        problems: list[str] = []
        for source in sources:
            for tool in source:
                if tool.name in registry:
                    kept = registry._tools[tool.name].source
                    problems.append(
                        f"tool {tool.name!r} from {tool.source} ignored: {kept} has one by that name"
                    )
                else:
                    registry.add(tool)
        return registry, problems

    def add(self, tool: Tool) -> None:
        """Add a tool.

        Raises:
            ValueError: a tool of that name is already registered.
        """
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        """The tool called `name`, or None."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def select(self, names: Iterable[str]) -> ToolRegistry:
        """A registry with only the named tools (for ``-T NAME``).

        Raises:
            KeyError: a name is not registered; the message lists the known ones.
        """
        chosen: dict[str, Tool] = {}
        for name in names:
            if name not in self._tools:
                raise KeyError(f"no tool named {name!r} (known: {', '.join(self._tools) or 'none'})")
            chosen[name] = self._tools[name]
        return ToolRegistry(chosen.values(), max_output_chars=self.max_output_chars)

    def read_only(self) -> ToolRegistry:
        """A registry with only the read-only tools."""
        return ToolRegistry(
            (t for t in self._tools.values() if t.read_only), max_output_chars=self.max_output_chars
        )

    def definitions(self) -> list[dict[str, Any]]:
        """Every tool's Chat Completions definition, for :attr:`ChatRequest.tools`."""
        return [tool.definition() for tool in self._tools.values()]

    async def invoke(self, tool: Tool, arguments: dict[str, Any]) -> ToolOutput:
        """Run `tool` with its timeout; errors become error output, long output is cut.

        Raises:
            asyncio.CancelledError: the caller was cancelled (the tool was stopped first).
        """
        started = time.monotonic()
        deadline = asyncio.timeout(tool.timeout)
        try:
            async with deadline:
                text = await tool.run(arguments)
        except TimeoutError as exc:
            if deadline.expired():
                message = f"the tool {tool.name!r} timed out after {tool.timeout:g} seconds"
            else:
                message = f"the tool {tool.name!r} failed: {type(exc).__name__}: {exc}"
            return ToolOutput(f"Error: {message}", "error", duration=time.monotonic() - started)
        except ToolError as exc:
            return ToolOutput(f"Error: {exc}", "error", duration=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a tool's bug must not end the conversation
            message = f"the tool {tool.name!r} failed: {type(exc).__name__}: {exc}"
            return ToolOutput(f"Error: {message}", "error", duration=time.monotonic() - started)
        images = getattr(text, "images", ())
        text, truncated = truncate(str(text), self.max_output_chars)
        return ToolOutput(text, "ok", truncated, time.monotonic() - started, images=images)

    def resolve(self, name: str, arguments: str) -> tuple[Tool, dict[str, Any]] | ToolOutput:
        """Find the tool and parse the arguments of a call, or say why it cannot run."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            return error_output(f"there is no tool named {name!r} (available: {known})")
        try:
            return tool, parse_arguments(arguments)
        except ToolError as exc:
            return error_output(f"{name}: {exc}")

    async def call(self, name: str, arguments: str) -> ToolOutput:
        """Run a call as the model sent it (no approval asked; the loop asks first).

        Args:
            name: the tool name.
            arguments: the JSON arguments text, as the model produced it.
        """
        resolved = self.resolve(name, arguments)
        if isinstance(resolved, ToolOutput):
            return resolved
        return await self.invoke(*resolved)


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
        if not isinstance(env, list) or not all(isinstance(v, str) and _ENV_NAME.match(v) for v in env):
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
