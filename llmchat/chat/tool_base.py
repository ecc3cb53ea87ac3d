"""What a tool is: :class:`Tool`, the :class:`ToolOutput` of a call, :class:`ToolError`, and
the helpers that parse a call's arguments and cut long output.

Re-exported by :mod:`llmchat.chat.tools`, the import path the rest of llmchat uses.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
        if not _NAME.fullmatch(self.name):  # not match: "$" also matches before a final newline
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
