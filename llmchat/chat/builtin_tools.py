"""The built-in tools, safe by default: all read-only, confined and size-limited.

- ``current_time``: the date and time (local, or in an IANA time zone).
- ``read_file``: a text file under the working directory given at construction.
- ``list_directory``: a directory under that working directory.
- ``fetch_url``: the text of an http(s) URL on the public internet, through an injected httpx
  client (:mod:`llmchat.chat.fetch`).

Paths are resolved (symlinks followed) before they are checked, so neither ``..`` nor a
symlink can reach outside the working directory. llmchat's own directories are never read,
and secret locations (``~/.ssh``, ``.env``, private keys ...) need the user's approval
(:mod:`llmchat.chat.sensitive`).
"""

from __future__ import annotations

import asyncio
import codecs
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from llmchat import paths
from llmchat.chat.fetch import MAX_URL_BYTES, fetch_url_tool, html_to_text
from llmchat.chat.netguard import AddressGuard
from llmchat.chat.sensitive import protected_dir, resolved_dirs, secret_reason
from llmchat.chat.tools import (
    DEFAULT_MAX_OUTPUT_CHARS,
    Tool,
    ToolError,
    ToolRegistry,
    tools_from_config,
    tools_from_entry_points,
)

MAX_FILE_BYTES = 256 * 1024
MAX_ENTRIES = 500

__all__ = [
    "MAX_URL_BYTES", "builtin_tools", "current_time_tool", "default_registry", "fetch_url_tool",
    "html_to_text", "list_directory_tool", "read_file_tool",
]


def builtin_tools(
    root: str | Path,
    client: httpx.AsyncClient | None = None,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_url_bytes: int = MAX_URL_BYTES,
    allow_private_addresses: bool = False,
) -> list[Tool]:
    """The built-in tools.

    Args:
        root: the working directory ``read_file`` and ``list_directory`` are confined to.
        client: the httpx client ``fetch_url`` uses; without one there is no ``fetch_url``.
            Give it a client that carries no provider credentials.
        max_file_bytes: how much of a file ``read_file`` reads.
        max_url_bytes: how much of a response ``fetch_url`` reads.
        allow_private_addresses: let ``fetch_url`` reach loopback, private, link-local and
            reserved addresses (``[tools] allow_private_addresses``); default: public only.
    """
    tools = [
        current_time_tool(),
        read_file_tool(root, max_bytes=max_file_bytes),
        list_directory_tool(root),
    ]
    if client is not None:
        guard = AddressGuard(allow_private=allow_private_addresses)
        tools.append(fetch_url_tool(client, max_bytes=max_url_bytes, guard=guard))
    return tools


def default_registry(
    root: str | Path,
    client: httpx.AsyncClient | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    config_where: str = "config",
    plugins: bool = True,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    allow_private_addresses: bool = False,
) -> tuple[ToolRegistry, list[str]]:
    """Every available tool: the config file's first, then the built-ins, then plugins'.

    A name already taken is reported and the later tool left out (so a ``[tools.NAME]``
    table replaces a built-in of that name).

    Args:
        root: the working directory of the file tools.
        client: the httpx client of ``fetch_url`` (None: no ``fetch_url``).
        config: the config file's ``tools`` table.
        config_where: the config file name, for error messages.
        plugins: load tools from the ``llmchat.tools`` entry point group.
        max_output_chars: tool output is cut to this many characters.
        allow_private_addresses: let ``fetch_url`` reach non-public addresses.

    Returns:
        The registry and the problems to show the user (plugins that failed, names taken).

    Raises:
        ConfigError: a ``[tools.NAME]`` table is invalid.
    """
    sources = [tools_from_config(config or {}, where=config_where), builtin_tools(
        root, client, allow_private_addresses=allow_private_addresses
    )]
    problems: list[str] = []
    if plugins:
        plugin_tools, problems = tools_from_entry_points()
        sources.append(plugin_tools)
    registry, taken = ToolRegistry.merge(*sources, max_output_chars=max_output_chars)
    return registry, problems + taken


# --- current_time --------------------------------------------------------------------------


def current_time_tool(now: Callable[[ZoneInfo | None], datetime] | None = None) -> Tool:
    """``current_time``: the date, time, weekday and time zone.

    Args:
        now: the clock, given a zone or None for local time (tests pass a fixed one).
    """
    clock = now or (lambda zone: datetime.now(zone) if zone else datetime.now().astimezone())

    async def run(arguments: dict[str, Any]) -> str:
        name = arguments.get("timezone")
        zone = None
        if name:
            try:
                zone = ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                raise ToolError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None
        moment = clock(zone)
        return f"{moment.isoformat(timespec='seconds')} ({moment:%A}, {moment.tzname()})"

    return Tool(
        name="current_time",
        description="The current date and time (ISO 8601), weekday and time zone.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "An IANA time zone such as Europe/Paris; default: the user's.",
                }
            },
        },
        handler=run,
        read_only=True,
        timeout=5,
    )


# --- files -----------------------------------------------------------------------------------


def confine(root: Path, path: str) -> Path:
    """`path` (relative to `root`, or absolute) resolved, if it stays under `root`.

    Raises:
        ToolError: the path does not exist or resolves outside `root` (``..``, a symlink,
            an absolute path elsewhere).
    """
    try:
        target = (root / path).resolve(strict=True)
    except FileNotFoundError:
        raise ToolError(f"{path!r} does not exist") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise ToolError(f"{path!r} cannot be opened: {exc}") from None
    if not target.is_relative_to(root):
        raise ToolError(f"{path!r} is outside the working directory; only files under it can be read")
    return target


def _path_argument(arguments: Mapping[str, Any], default: str | None = None) -> str:
    path = arguments.get("path", default)
    if not isinstance(path, str) or not path:
        raise ToolError("'path' must be a non-empty string")
    return path


class FileGuard:
    """What the file tools may read under `root` (see :mod:`llmchat.chat.sensitive`).

    Args:
        root: the working directory the tools are confined to.
        protected: directories never read (default: llmchat's own, ``paths.private_dirs()``).
        default: the path used when the call gives none (``"."`` for a listing).
    """

    def __init__(
        self, root: str | Path, protected: Iterable[str | Path] | None = None, default: str | None = None
    ) -> None:
        self.base = Path(root).resolve()
        self.protected = resolved_dirs(paths.private_dirs() if protected is None else protected)
        self.default = default

    def _forms(self, path: str) -> tuple[Path, Path]:
        """The path as written (normalized, symlinks kept) and with symlinks resolved."""
        lexical = Path(os.path.normpath(self.base / path))
        return lexical, lexical.resolve()

    def target(self, arguments: Mapping[str, Any]) -> tuple[str, Path]:
        """The call's path and its resolved target, confined and not in llmchat's own files.

        Raises:
            ToolError: outside the working directory, missing, or in llmchat's own files.
        """
        path = _path_argument(arguments, self.default)
        target = confine(self.base, path)
        for form in (*self._forms(path), target):
            where = protected_dir(form, self.protected)
            if where is not None:
                raise ToolError(
                    f"{path!r} is in llmchat's own files ({where}: keys, history, logs); "
                    "the file tools never read them"
                )
        return path, target

    def secret(self, arguments: dict[str, Any]) -> str | None:
        """Why reading this call's path needs the user's approval (a secret location), or None."""
        path = arguments.get("path", self.default)
        if not isinstance(path, str) or not path:
            return None  # the tool answers with the error itself
        for form in self._forms(path):
            reason = secret_reason(form)
            if reason:
                return reason
        return None


def read_file_tool(
    root: str | Path, *, max_bytes: int = MAX_FILE_BYTES, protected: Iterable[str | Path] | None = None
) -> Tool:
    """``read_file``: a UTF-8 text file under `root`, at most `max_bytes` of it.

    Files in `protected` (default: llmchat's own directories) are refused; a secret location
    (``.ssh``, ``.env``, ``*.pem`` ...) needs the user's approval (:attr:`Tool.sensitive`).
    """
    guard = FileGuard(root, protected)

    def read(arguments: dict[str, Any]) -> str:
        path, target = guard.target(arguments)
        if not target.is_file():  # checked before open(): opening a FIFO would block
            raise ToolError(f"{path!r} is not a regular file")
        with open(target, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):  # replaced in between
                raise ToolError(f"{path!r} is not a regular file")
            data = file.read(max_bytes + 1)
        truncated = len(data) > max_bytes
        data = data[:max_bytes]
        if b"\0" in data:
            raise ToolError(f"{path!r} is a binary file; only text files can be read")
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
        except UnicodeDecodeError:
            raise ToolError(f"{path!r} is not UTF-8 text; only text files can be read") from None
        if truncated:
            text += f"\n\n[file truncated: the first {max_bytes} of {info.st_size} bytes are shown]"
        return text

    async def run(arguments: dict[str, Any]) -> str:
        return await asyncio.to_thread(read, arguments)

    return Tool(
        name="read_file",
        description=(
            "Read a UTF-8 text file under the working directory. The path is relative to the "
            f"working directory; files larger than {max_bytes} bytes are cut."
        ),
        parameters={
            "type": "object",
            "properties": {"path": {"type": "string", "description": "The file's path."}},
            "required": ["path"],
        },
        handler=run,
        read_only=True,
        timeout=10,
        sensitive=guard.secret,
    )


def list_directory_tool(
    root: str | Path, *, max_entries: int = MAX_ENTRIES, protected: Iterable[str | Path] | None = None
) -> Tool:
    """``list_directory``: the entries of a directory under `root` (dirs end in ``/``);
    `protected` and secret locations as for :func:`read_file_tool`."""
    guard = FileGuard(root, protected, default=".")
    base = guard.base

    def listing(arguments: dict[str, Any]) -> str:
        path, target = guard.target(arguments)
        if not target.is_dir():
            raise ToolError(f"{path!r} is not a directory")
        lines: list[str] = []
        entries = sorted(os.scandir(target), key=lambda e: e.name)
        for entry in entries[:max_entries]:
            if entry.is_symlink():
                lines.append(f"{entry.name}@")
            elif entry.is_dir():
                lines.append(f"{entry.name}/")
            elif entry.is_file():
                lines.append(f"{entry.name}  ({entry.stat().st_size} bytes)")
            else:
                lines.append(entry.name)
        if len(entries) > max_entries:
            lines.append(f"[listing truncated: {max_entries} of {len(entries)} entries are shown]")
        shown = target.relative_to(base).as_posix()
        return f"{shown}/ ({len(entries)} entries)\n" + "\n".join(lines)

    async def run(arguments: dict[str, Any]) -> str:
        return await asyncio.to_thread(listing, arguments)

    return Tool(
        name="list_directory",
        description=(
            "List a directory under the working directory: directories end in '/', "
            "symlinks in '@', files show their size."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The directory, relative to the working directory; default '.'.",
                }
            },
        },
        handler=run,
        read_only=True,
        timeout=10,
        sensitive=guard.secret,
    )
