"""The targets of a comparison (:mod:`llmchat.chat.compare`): which models to ask, read from a
list such as ``gpt-4o-mini,anthropic:claude-3-5-haiku,ollama:llama3:8b`` (``llmchat ask
--compare``, the session's ``/compare``)."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from llmchat.safety import BIDI, TAGS, VARIATION_SELECTORS_SUPPLEMENT, ZERO_WIDTH, one_line

__all__ = ["MAX_NAME", "MAX_TARGETS", "Target", "TargetError", "parse_targets"]

MAX_TARGETS = 8
"""The most targets one comparison runs."""
MAX_NAME = 200
"""The most characters of one target (provider, colon and model)."""

_INVISIBLE = BIDI | ZERO_WIDTH | TAGS | VARIATION_SELECTORS_SUPPLEMENT


# -- the targets ---------------------------------------------------------------------------


class TargetError(ValueError):
    """A list of targets that cannot be used; the message is one line, safe to print."""


@dataclass(frozen=True, slots=True)
class Target:
    """One model to ask: a provider (or config profile) name and a model name."""

    provider: str
    """The provider or profile name (``openai``, ``anthropic``, a ``[providers.NAME]``)."""
    model: str | None = None
    """The model; None: the provider's configured model (written ``PROVIDER:``)."""

    @property
    def label(self) -> str:
        """``provider/model`` (``provider`` alone when the model is the provider's default)."""
        return f"{self.provider}/{self.model}" if self.model else self.provider


def parse_targets(
    spec: str | Iterable[str], providers: Collection[str], default_provider: str
) -> list[Target]:
    """The targets of a list such as ``gpt-4o-mini,anthropic:claude-3-5-haiku,ollama:llama3:8b``.

    Items are separated by commas (several strings are items too, each may hold commas) and
    stripped of surrounding spaces. ``PREFIX:REST`` names provider PREFIX and model REST only
    when PREFIX is one of `providers` (the built-in providers and the config's profiles), so
    ``llama3:8b`` alone is a model of `default_provider`; ``PROVIDER:`` alone means that
    provider's configured model. A model whose name starts with a provider's name and a
    colon (Ollama's ``mistral:7b``) is written with its provider: ``ollama:mistral:7b``.

    Raises:
        TargetError: no target, an empty item, more than :data:`MAX_TARGETS`, a target given
            twice, a name with a control, invisible or space character, a name longer than
            :data:`MAX_NAME`, or a prefix that looks like a misspelt provider (``antropic:``,
            ``OpenAI:``; write ``PROVIDER:MODEL`` to mean a model of that name).
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [part.strip() for item in items for part in item.split(",")]
    if not any(names):
        raise TargetError("no model to compare: give a list such as gpt-4o-mini,anthropic:claude-3-5-haiku")
    targets: list[Target] = []
    for number, name in enumerate(names, 1):
        if not name:
            raise TargetError(f"model {number} of the list is empty (two commas, or one at an end)")
        _check_name(name, number)
        targets.append(_target(name, providers, default_provider))
        if targets[-1] in targets[:-1]:
            raise TargetError(f"{one_line(targets[-1].label, 80)} is in the list twice")
    if len(targets) > MAX_TARGETS:
        raise TargetError(f"{len(targets)} models: compare at most {MAX_TARGETS} at once")
    return targets


def _check_name(name: str, number: int) -> None:
    if len(name) > MAX_NAME:
        raise TargetError(f"model {number} of the list is longer than {MAX_NAME} characters")
    for char in name:
        if char in _INVISIBLE or unicodedata.category(char)[0] in "CZ":
            what = "a space" if unicodedata.category(char)[0] == "Z" else "a control or invisible character"
            raise TargetError(
                f"model {number} of the list ({one_line(name, 60)}) holds {what} (U+{ord(char):04X}); "
                "provider and model names are plain text"
            )


def _target(name: str, providers: Collection[str], default_provider: str) -> Target:
    prefix, colon, rest = name.partition(":")
    if colon and prefix in providers:
        return Target(prefix, rest or None)
    if colon:
        near = [p for p in providers if p.lower() == prefix.lower()] or difflib.get_close_matches(
            prefix, list(providers), n=1, cutoff=0.86)
        if near:
            raise TargetError(
                f"unknown provider {one_line(prefix, 40)!r} in {one_line(name, 80)!r} (did you mean "
                f"{near[0]!r}? for a model of that name write {default_provider}:{one_line(name, 80)})"
            )
    return Target(default_provider, name)
