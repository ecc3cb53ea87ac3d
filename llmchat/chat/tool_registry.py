"""The :class:`ToolRegistry`: the tools offered to the model, by name, and the one place a
call runs (timeout, errors turned into text for the model, long output cut).

Re-exported by :mod:`llmchat.chat.tools`, the import path the rest of llmchat uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from typing import Any

from llmchat.chat.tool_base import (
    DEFAULT_MAX_OUTPUT_CHARS,
    Tool,
    ToolError,
    ToolOutput,
    error_output,
    parse_arguments,
    truncate,
)


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
