"""Reusable prompts: ``[templates.NAME]`` in the config file, as llm's templates and aichat's
roles keep them::

    [templates.commit]
    system = "You write terse, imperative git commit messages."
    model = "gpt-4o-mini"          # optional: provider, model, options as elsewhere
    options = { temperature = 0.2 }
    prompt = "Write a commit message for this diff:\\n\\n$input"

``llmchat ask -t commit`` (with the diff piped in), ``/template commit`` in the session, and
``llmchat templates`` lists them. ``$input`` in `prompt` is replaced by the user's text (the
prompt argument and piped stdin, joined as usual); a prompt without ``$input`` gets the text
after a blank line; ``$$`` is a literal dollar (Python's ``string.Template``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template as _StringTemplate
from typing import Any

from llmchat.errors import ConfigError

KEYS = {"system", "model", "provider", "options", "prompt", "description"}
"""The keys a ``[templates.NAME]`` table may hold."""


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """One ``[templates.NAME]``: what it sets, each None when it leaves the default."""

    name: str
    system: str | None = None
    model: str | None = None
    provider: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    description: str | None = None

    def render(self, text: str) -> str:
        """The message to send for the user's `text` (see the module's doc)."""
        if not self.prompt:
            return text
        if "$input" not in self.prompt and "${input}" not in self.prompt:
            return f"{self.prompt}\n\n{text}" if text else self.prompt
        return _StringTemplate(self.prompt).safe_substitute(input=text)

    def summary(self) -> str:
        """One line for ``llmchat templates``: the description, else what it sets."""
        if self.description:
            return self.description
        parts = [f"{k}={v}" for k, v in (("provider", self.provider), ("model", self.model)) if v]
        if self.system:
            parts.append(f"system: {self.system.splitlines()[0][:60]}")
        if self.prompt:
            parts.append(f"prompt: {self.prompt.splitlines()[0][:60]}")
        return "; ".join(parts) or "(empty)"


def parse_templates(table: Any, where: str) -> dict[str, PromptTemplate]:
    """The config's ``templates`` table, checked.

    Raises:
        ConfigError: not a table of tables, an unknown key, or a value of the wrong type;
            the message names the file and the key.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: 'templates' must be a table ([templates.NAME])")
    found: dict[str, PromptTemplate] = {}
    for name, body in table.items():
        here = f"{where}: templates.{name}"
        if not isinstance(body, Mapping):
            raise ConfigError(f"{here} must be a table")
        for key, value in body.items():
            if key not in KEYS:
                raise ConfigError(f"{here}: unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
            if key == "options":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{here}.options must be a table")
            elif not isinstance(value, str):
                raise ConfigError(f"{here}.{key} must be a string")
        found[name] = PromptTemplate(
            name, body.get("system"), body.get("model"), body.get("provider"), dict(body.get("options", {})),
            body.get("prompt"), body.get("description"),
        )
    return found
