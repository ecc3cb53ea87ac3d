"""The MCP servers file, ``mcp.json``, in the format Claude Desktop and other MCP hosts use.

Contract: shared/DESIGN.md, "MCP servers". The file holds one object, ``mcpServers``, of
servers by name::

    {"mcpServers": {
       "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]},
       "remote": {"url": "https://host/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
       "legacy": {"url": "https://host/sse"}}}

A server with ``command`` runs over stdio; one with ``url`` over Streamable HTTP, or over the
legacy HTTP+SSE transport when ``"type": "sse"`` or the URL's path ends in ``/sse``.
``${VAR}`` and ``${VAR:-default}`` in ``command``, ``args``, ``env``, ``cwd``, ``url`` and
``headers`` are replaced from the environment (as Claude Code does), so tokens stay out of
the file. Keys other hosts add (``disabled``, ``autoApprove``, ``timeout`` ...) are accepted;
``disabled: true`` leaves a server out and ``timeout`` (seconds) bounds each tool call.

This module reads JSON only; it never imports the MCP SDK.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmchat.errors import ConfigError

Transport = Literal["stdio", "http", "sse"]
"""stdio (a subprocess), Streamable HTTP, or the legacy HTTP+SSE transport."""

DEFAULT_CALL_TIMEOUT = 300.0
"""Seconds one tool call may take unless the server's ``timeout`` says otherwise."""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TYPES: dict[str, Transport] = {
    "stdio": "stdio", "sse": "sse", "http": "http", "streamable-http": "http",
    "streamable_http": "http", "streamablehttp": "http", "streamableHttp": "http",
}


@dataclass(frozen=True)
class ServerConfig:
    """One server of ``mcp.json``, its ``${VAR}`` references expanded."""

    name: str
    transport: Transport
    command: str | None = None
    """stdio: the program to run."""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """stdio: variables set for the server, over the SDK's safe defaults (PATH, HOME ...)."""
    cwd: str | None = None
    url: str | None = None
    """http / sse: the endpoint."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """http / sse: sent with every request (e.g. ``Authorization``)."""
    timeout: float = DEFAULT_CALL_TIMEOUT
    """Seconds one tool call may take."""

    def describe(self) -> str:
        """The command line or URL, for listings (header values are never shown)."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args])
        return self.url or ""


@dataclass(frozen=True)
class McpConfig:
    """The servers of a file; `problems` holds a one-line reason per server that is unusable."""

    path: Path | None
    servers: Mapping[str, ServerConfig] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)
    """Server name -> why it cannot be used (a missing variable, a wrong type ...)."""
    disabled: tuple[str, ...] = ()
    """Servers marked ``"disabled": true``."""

    @property
    def names(self) -> list[str]:
        """Every server's name, usable or not, in file order."""
        return [*self.servers, *(n for n in self.problems if n not in self.servers)]

    def select(self, names: list[str] | tuple[str, ...]) -> list[ServerConfig]:
        """The servers for ``--mcp NAME`` (``all``: every usable, enabled one).

        Raises:
            ConfigError: a name is not in the file, is disabled or has a problem.
        """
        if not names:
            return []
        if "all" in names:
            return list(self.servers.values())
        chosen: list[ServerConfig] = []
        for name in dict.fromkeys(names):
            if name in self.problems:
                raise ConfigError(f"MCP server {name!r}: {self.problems[name]}")
            if name in self.disabled:
                raise ConfigError(f"MCP server {name!r} is disabled in {self.where}")
            if name not in self.servers:
                known = ", ".join(self.names) or "none"
                raise ConfigError(f"no MCP server named {name!r} in {self.where} (known: {known})")
            chosen.append(self.servers[name])
        return chosen

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "mcp.json"


def expand(text: str, env: Mapping[str, str], where: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in `text` from `env`.

    Raises:
        ConfigError: a variable without a default is not set (the message names it).
    """

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(f"{where}: the environment variable {name} is not set")
            return default
        return value

    return _VAR.sub(one, text)


def load_mcp_config(path: Path, env: Mapping[str, str] | None = None, *, required: bool = False) -> McpConfig:
    """Read `path` (``mcp.json``).

    Args:
        path: the file.
        env: the environment for ``${VAR}`` (default: ``os.environ``).
        required: a missing file is an error (``--mcp-config FILE``); else it means no servers.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or has no ``mcpServers`` object.
            A single broken server does not raise: it goes to :attr:`McpConfig.problems`.
    """
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such MCP config file") from None
        return McpConfig(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the MCP config: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with \"mcpServers\"")
    table = data.get("mcpServers", data.get("servers"))
    if table is None:
        raise ConfigError(f"{path}: no \"mcpServers\" object")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: \"mcpServers\" must be an object of servers by name")
    servers: dict[str, ServerConfig] = {}
    problems: dict[str, str] = {}
    disabled: list[str] = []
    for name, spec in table.items():
        if isinstance(spec, dict) and spec.get("disabled") is True:
            disabled.append(name)
            continue
        try:
            servers[name] = parse_server(name, spec, env, str(path))
        except ConfigError as exc:
            problems[name] = str(exc)
    return McpConfig(path, servers, problems, tuple(disabled))


def parse_server(name: str, spec: Any, env: Mapping[str, str], where: str = "mcp.json") -> ServerConfig:
    """One ``mcpServers`` entry.

    Raises:
        ConfigError: a wrong type, no ``command`` or ``url``, or a missing variable.
    """
    here = f"{where}: mcpServers.{name}"
    if not name or not isinstance(spec, dict):
        raise ConfigError(f"{here} must be an object")
    kind = spec.get("type", spec.get("transport"))
    if kind is not None and (not isinstance(kind, str) or kind not in _TYPES):
        raise ConfigError(f"{here}.type must be one of stdio, http, sse")
    timeout = spec.get("timeout", DEFAULT_CALL_TIMEOUT)
    if (  # (JSON as Python reads it accepts NaN and Infinity)
        isinstance(timeout, bool) or not isinstance(timeout, int | float)
        or not math.isfinite(timeout) or timeout <= 0
    ):
        raise ConfigError(f"{here}.timeout must be a positive number of seconds (got {timeout!r})")
    if timeout > 10_000:  # some hosts write milliseconds
        timeout = timeout / 1000
    if timeout > 86_400:
        raise ConfigError(f"{here}.timeout must be at most a day (86400 seconds or 86400000 ms)")
    command, url = spec.get("command"), spec.get("url", spec.get("serverUrl"))
    if isinstance(command, str) and command.strip() and kind in (None, "stdio"):
        args = spec.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{here}.args must be a list of strings")
        cwd = spec.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigError(f"{here}.cwd must be a string")
        return ServerConfig(
            name, "stdio", command=expand(command, env, here),
            args=tuple(expand(a, env, f"{here}.args") for a in args),
            env=_strings(spec.get("env"), env, f"{here}.env"),
            cwd=os.path.expanduser(expand(cwd, env, f"{here}.cwd")) if cwd else None,
            timeout=float(timeout),
        )
    if isinstance(url, str) and url.strip():
        url = expand(url.strip(), env, f"{here}.url")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{here}.url must start with http:// or https://")
        transport: Transport = _TYPES[kind] if kind and kind != "stdio" else (
            "sse" if url.split("?")[0].rstrip("/").endswith("/sse") else "http"
        )
        return ServerConfig(
            name, transport, url=url, headers=_strings(spec.get("headers"), env, f"{here}.headers"),
            timeout=float(timeout),
        )
    raise ConfigError(f"{here} needs a \"command\" (stdio) or a \"url\" (HTTP)")


def _strings(value: Any, env: Mapping[str, str], here: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{here} must be an object of strings")
    return {str(k): expand(v, env, f"{here}.{k}") for k, v in value.items()}
