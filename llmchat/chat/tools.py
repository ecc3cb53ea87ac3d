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

from llmchat.chat.tool_base import (
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_TIMEOUT,
    EMPTY_PARAMETERS,
    ENTRY_POINT_GROUP,
    Tool,
    ToolError,
    ToolHandler,
    ToolOutput,
    ToolStatus,
    ToolText,
    error_output,
    parse_arguments,
    truncate,
)
from llmchat.chat.tool_registry import ToolRegistry
from llmchat.chat.tool_sources import (
    MAX_TOOL_TIMEOUT,
    CommandTool,
    tools_from_config,
    tools_from_entry_points,
)

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "DEFAULT_TIMEOUT",
    "EMPTY_PARAMETERS",
    "ENTRY_POINT_GROUP",
    "MAX_TOOL_TIMEOUT",
    "CommandTool",
    "Tool",
    "ToolError",
    "ToolHandler",
    "ToolOutput",
    "ToolRegistry",
    "ToolStatus",
    "ToolText",
    "error_output",
    "parse_arguments",
    "tools_from_config",
    "tools_from_entry_points",
    "truncate",
]
