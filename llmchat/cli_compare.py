"""``llmchat ask --compare m1,PROVIDER:m2,...``: from the command line's values to the settings
of each target (:func:`compare_settings`); the run itself is :mod:`llmchat.ask_compare`.

Imported only when ``--compare`` is given, so a plain ``llmchat ask`` loads none of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from llmchat.cli_shared import Choice, fail

if TYPE_CHECKING:
    from llmchat.config import Settings

INCOMPATIBLE = {
    "model": "-m/--model (the list names the models)",
    "complete": "--complete",
    "tools": "--tools, -T and --mcp (several models running tools at once)",
    "reasoning": "--reasoning (several reasoning streams on one stderr; --json holds each reply's)",
}
"""Options ``--compare`` refuses (exit 2), and how the error names them."""


def check_options(**given: bool) -> None:
    """Exit 2 (one line) when an option ``--compare`` cannot be combined with was given;
    `given` maps the keys of :data:`INCOMPATIBLE` to whether each was given."""
    bad = [INCOMPATIBLE[name] for name, on in given.items() if on]
    if bad:
        raise fail(f"--compare cannot be combined with {' or '.join(bad)}")


def compare_settings(choice: Choice, settings: Settings, spec: str) -> list[Settings]:
    """The settings of each target of `spec` (:func:`llmchat.chat.targets.parse_targets`),
    in its order: `choice` (system prompt, options, the parent's choices) with the target's
    provider and model on top; a bare model uses `settings`' provider.

    Raises:
        SystemExit: (exit 2, one line) a bad list, an unknown provider, two targets that
            resolve to the same provider and model, or a target whose provider has no key.
    """
    from llmchat.chat.targets import TargetError, parse_targets
    from llmchat.config import BUILTIN_PROFILES

    known = {*BUILTIN_PROFILES, *settings.profiles}
    try:
        targets = parse_targets(spec, known, settings.provider.name)
    except TargetError as exc:
        raise fail(f"--compare: {exc}") from None
    resolved: list[Settings] = []
    seen: dict[tuple[str, str], str] = {}
    for target in targets:
        if target.provider == settings.provider.name and target.model is None:
            chosen = settings
        else:
            chosen = replace(choice, provider=target.provider, model=target.model).settings()
        key = (chosen.provider.name, chosen.provider.model)
        label = f"{key[0]}/{key[1]}"
        if key in seen:
            raise fail(f"--compare: {seen[key]} and {target.label} are the same model ({label})")
        seen[key] = target.label
        problem = chosen.provider.missing_credentials()
        if problem is not None:
            raise fail(f"--compare: {label}: {problem}")
        resolved.append(chosen)
    return resolved
