"""Checks of config values: each returns the value in the type the settings keep, or raises
:class:`~llmchat.errors.ConfigError` with a message that starts with where the value was
(the file and the key) and says what is accepted."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmchat.errors import ConfigError

INT_MAX = 2**31 - 1
"""The largest whole number a count in the config may be."""
MAX_SECONDS = 86_400
"""The longest timeout the config accepts (one day): longer ones overflow the socket layer."""

OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "top_k": (int,),
    "max_tokens": (int,),
    "stop": (str, list),
    "seed": (int,),
    "reasoning_effort": (str,),
    "thinking_budget": (int,),
}
"""Generation options (provider-neutral names; each provider maps them onto its own fields)."""
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_k": (1, INT_MAX),
    "max_tokens": (1, INT_MAX),
    "seed": (-(2**63), 2**63 - 1),
    "thinking_budget": (0, INT_MAX),
}
"""The accepted range of each numeric option, both ends included (the widest any supported
API takes: OpenAI's temperature goes to 2, Anthropic's to 1; seeds are 64-bit)."""


def seconds(value: Any, what: str) -> float:
    """`value` as a timeout in seconds: a finite number above 0 and at most :data:`MAX_SECONDS`.

    Raises:
        ConfigError: anything else (``nan``, ``inf``, 0, a negative number, a string);
            the message starts with `what` (the file and the key).
    """
    if (
        isinstance(value, bool) or not isinstance(value, int | float)
        or not math.isfinite(value) or not 0 < value <= MAX_SECONDS
    ):
        raise ConfigError(f"{what} must be a number of seconds above 0 and at most {MAX_SECONDS} (got {value!r})")
    return float(value)


def whole_number(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    """``table[key]`` (else `default`) as a whole number from 1 to :data:`INT_MAX`.

    Raises:
        ConfigError: a value of another type (``true`` too) or out of that range.
    """
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT_MAX:
        raise ConfigError(f"{where}: {key!r} must be a whole number from 1 to {INT_MAX}")
    return value


def table_of(value: Any, where: str) -> dict[str, Any]:
    """`value` as a dict. Raises ConfigError (``where: must be a table``) when it is not one."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table")
    return dict(value)


def check_options(table: Any, where: str) -> dict[str, Any]:
    """The generation options of `table` (``[options]``, a profile's ``options``, flags), checked
    against :data:`OPTION_TYPES` and :data:`OPTION_RANGES`; `where` ``"option"`` means flags
    (the message then names ``--the-flag``).

    Raises:
        ConfigError: not a table, an unknown option, a wrong type, a number out of range or
            not finite, a ``stop`` list with a non-string.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table")
    for key, value in table.items():
        types = OPTION_TYPES.get(key)
        if types is None:
            raise ConfigError(f"{where}: unknown option {key!r} (known: {', '.join(OPTION_TYPES)})")
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
        low, high = OPTION_RANGES.get(key, (-math.inf, math.inf))
        if isinstance(value, int | float) and not (math.isfinite(value) and low <= value <= high):
            label = f"--{key.replace('_', '-')}" if where == "option" else f"{where}: {key!r}"
            whole = "whole " if types == (int,) else ""
            raise ConfigError(f"{label} must be a {whole}number from {low} to {high} (got {value!r})")
        if key == "stop" and isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: 'stop' must be a string or a list of strings")
    return dict(table)


def optional_str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    """``table[key]`` as a string, or None when absent. Raises ConfigError when it is not a string."""
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return value


def read_toml(path: Path | None) -> dict[str, Any]:
    """The TOML file at `path` as a table ({} when there is none). Raises ConfigError naming
    the file when it cannot be read or parsed."""
    if path is None or not path.exists():
        return {}
    import tomllib  # only when there is a file (start-up: docs/performance.md)

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
