"""How much one reply's tool calls may do: a flood of calls, a flood of output (issue 20).

A prompt injection can make a model ask for 1,000 ``read_file`` calls in one reply (a 20 MB
next request) or 300 ``fetch_url`` calls (300 GETs in seconds). :class:`ToolLimits` caps the
calls of one reply that run (the rest are answered "not run", so the conversation stays
valid) and the characters of tool results the reply gets back in all (past it a result is cut
with a note, and later calls are not run).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from llmchat.chat.tools import ToolOutput


@dataclass(frozen=True, slots=True)
class ToolLimits:
    """The limits of one reply's tool calls (config: ``max_tool_calls``, ``tool_results_chars``)."""

    max_calls: int = 32
    """Calls of one reply that run; the rest are answered "not run"."""
    max_results_chars: int = 100_000
    """Characters of tool results one reply gets back in all (each result is also cut to the
    registry's ``max_output_chars``)."""

    def refusal(self, index: int, count: int, used: int) -> str | None:
        """Why call `index` (from 0) of a reply's `count` is not run, given `used` characters
        of results so far; None when it runs."""
        if index >= self.max_calls:
            return (
                f"not run: at most {self.max_calls} tool calls of one reply are run and this "
                f"reply made {count}; make fewer calls, the most needed first"
            )
        if used >= self.max_results_chars:
            return (
                f"not run: the tool results of this reply reached the limit of "
                f"{self.max_results_chars} characters; use what you have or ask for less at a time"
            )
        return None

    def fit(self, output: ToolOutput, used: int) -> tuple[ToolOutput, int]:
        """`output` cut to what is left after `used` characters, and the characters used then."""
        room = self.max_results_chars - used
        if len(output.text) <= room:
            return output, used + len(output.text)
        note = (
            f"\n\n[tool results truncated: the results of this reply reached the limit of "
            f"{self.max_results_chars} characters; {len(output.text) - room} of this result's "
            "characters were left out]"
        )
        cut = dataclasses.replace(output, text=output.text[: max(room, 0)] + note, truncated=True)
        return cut, self.max_results_chars
