"""Settings: built-in defaults < config file (TOML) < environment variables < command-line flags.

The config file lives at ``paths.config_file()``::

    provider = "openai"            # default provider or profile name
    model = "gpt-4o-mini"          # default model
    system = "You are terse."      # default system prompt
    theme = "llmchat-dark"
    retries = 2                    # retries before the first token (429, 5xx, no connection)
    idle_timeout = 120             # seconds a stream may stay silent ("timeout" works too)
    first_token_timeout = 300      # seconds to the first token
    max_input_bytes = 16777216     # most bytes `ask` reads from piped stdin
    max_attachment_bytes = 20971520   # most bytes of one attached file (-a, /attach)
    max_attachments_bytes = 52428800  # most bytes of one message's attachments together

    [options]                      # generation options for every request
    temperature = 0.7

    [providers.work]               # any server, selected with -p work ([profiles.NAME] works too)
    kind = "openai"                # openai (Chat Completions), openai-responses, anthropic, ollama or gemini
    base_url = "https://llm.example.com/v1"
    api_key_env = "WORK_API_KEY"   # the key is read from this variable, never from the file
    model = "llama-3.3-70b"
    options = { max_tokens = 2048 }

    [prices."llama-3.3-70b"]       # USD per million tokens (else the price database's)
    input = 0.5
    output = 1.5

    [budget]
    conversation = 2.0             # USD one conversation may cost (ask: exit 2; session: asks first)
    day = 10.0                     # USD all replies of a day (local time) may cost

Environment: ``LLMCHAT_PROVIDER``, ``LLMCHAT_MODEL``, ``LLMCHAT_SYSTEM``, ``LLMCHAT_THEME``
(shared/DESIGN.md, "Environment and files"); the built-in providers and their variables are in
:mod:`llmchat.config_profiles`, the checks of single values in :mod:`llmchat.config_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmchat.config_profiles import BUILTIN_PROFILES, ProviderSettings, resolve_provider
from llmchat.config_values import check_options, optional_str, read_toml, seconds, table_of, whole_number
from llmchat.errors import ConfigError
from llmchat.keys import read_keys, run_key_command
from llmchat.providers.policy import StreamPolicy

if TYPE_CHECKING:
    from llmchat.chat.pricing import ModelPrice
    from llmchat.templates import PromptTemplate

__all__ = ["BUILTIN_PROFILES", "DEFAULT_MAX_INPUT_BYTES", "DEFAULT_THEME", "TOOL_FLAGS", "Settings", "load_settings"]
"""What this module offers. ``BUILTIN_PROFILES`` lives in :mod:`llmchat.config_profiles`; it is
named here too because ``llmchat/tui`` imports it from this module."""

DEFAULT_THEME = "llmchat-dark"
DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024
"""Piped input ``ask`` takes by default: 16 MiB, some four million tokens, more than any
model's context window (config key ``max_input_bytes``)."""

_POLICY_KEYS = {
    "retries": "retries",
    "timeout": "idle_timeout",  # the first name of the idle timeout
    "idle_timeout": "idle_timeout",
    "connect_timeout": "connect_timeout",
    "first_token_timeout": "first_token_timeout",
    "total_timeout": "total_timeout",
    "retry_after_cap": "retry_after_cap",
}
"""Config keys that tune :class:`~llmchat.providers.policy.StreamPolicy` (seconds; retries a count)."""
_TOP_KEYS = {
    "provider", "model", "system", "theme", "options", "profiles", "providers", "tools",
    "tool_output_chars", "max_tool_rounds", "max_input_bytes", "prices", "budget", "max_tool_calls",
    "tool_results_chars", "max_attachment_bytes", "max_attachments_bytes", "keys", "templates", *_POLICY_KEYS
}
_PROFILE_KEYS = {"kind", "base_url", "api_key_env", "api_key_cmd", "model", "headers", "options"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything llmchat reads at start, resolved and validated."""

    provider: ProviderSettings
    system: str | None = None
    """The system prompt sent with every request, or None."""
    theme: str = DEFAULT_THEME
    theme_explicit: bool = False
    """True when `theme` came from a flag, ``LLMCHAT_THEME`` or the config file (not the
    default): the remembered theme of the last session is used only when this is False."""
    policy: StreamPolicy = field(default_factory=StreamPolicy)
    """Retries, timeouts and size caps of every stream."""
    tools: Mapping[str, Any] = field(default_factory=dict)
    """The config file's ``[tools.NAME]`` tables (validated by llmchat.chat.tools)."""
    allow_private_addresses: bool = False
    """``[tools] allow_private_addresses``: let ``fetch_url`` reach loopback, private,
    link-local (cloud metadata) and reserved addresses; by default only public ones."""
    tool_output_chars: int = 20_000
    """Tool output is cut to this many characters before it is sent to the model."""
    max_tool_rounds: int = 8
    """The most requests one turn with tools may send."""
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    """The most bytes ``ask`` reads from piped stdin; more is an error and nothing is sent."""
    max_attachment_bytes: int = 20 * 1024 * 1024
    """The most bytes of one attached file (``-a``, ``/attach``); more is an error."""
    max_attachments_bytes: int = 50 * 1024 * 1024
    """The most bytes of one message's attachments together; more is an error."""
    max_tool_calls: int = 32
    """The most tool calls of one reply that run; the rest are answered "not run"."""
    tool_results_chars: int = 100_000
    """Characters of tool results one reply gets back in all; past it they are cut."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Generation options sent with every request (temperature, max_tokens, ...)."""
    config_path: Path | None = None
    profiles: tuple[str, ...] = ()
    """Profile names defined in the config file."""
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    """The config's ``[prices."MODEL"]`` (USD per million tokens), before the price database."""
    budget_conversation: float | None = None
    """``[budget] conversation``: USD one conversation may cost; None: no cap."""
    budget_day: float | None = None
    """``[budget] day``: USD all replies of a day (local time) may cost; None: no cap."""
    provider_explicit: bool = True
    """False when no provider was chosen (no flag, ``LLMCHAT_PROVIDER`` or config ``provider``):
    the default ``openai`` may then give way to one the environment has a key for
    (:mod:`llmchat.first_run`)."""
    model_explicit: bool = False
    """True when the model came from a flag or ``LLMCHAT_MODEL``."""
    templates: Mapping[str, PromptTemplate] = field(default_factory=dict)
    """The config's ``[templates.NAME]`` (:mod:`llmchat.templates`)."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """The config's ``[keys]``: binding id -> keys (``"chat.new" = "ctrl+t"``), as Textual's
    ``App.update_keymap`` takes them; the README's key table lists the ids."""

    def with_provider(self, provider: ProviderSettings) -> Settings:
        """A copy using another provider."""
        return replace(self, provider=provider)


def load_settings(
    config_path: Path | None,
    env: Mapping[str, str],
    *,
    provider: str | None = None,
    model: str | None = None,
    system: str | None = None,
    theme: str | None = None,
    options: Mapping[str, Any] | None = None,
    keys_path: Path | None = None,
) -> Settings:
    """Read the config file (if it exists) and apply env variables, then flags.

    Args:
        config_path: the TOML file; a missing file means all defaults.
        env: the environment (``os.environ`` in the CLI, a dict in tests).
        provider, model, system, theme: command-line flags; None when not given.
        options: generation options from flags (None values are ignored).
        keys_path: the key file (:mod:`llmchat.keys`); keys there are used when the
            provider's environment variable is not set.

    Raises:
        ConfigError: unreadable TOML, an unknown key, a value of the wrong type, or an
            unknown provider; the message names the file and the key.
    """
    data = read_toml(config_path)
    where = str(config_path) if config_path else "config"
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("provider", "model", "system", "theme"):
        optional_str(data, key, where)  # a wrong type is an error even when a flag or env overrides it
    profiles: dict[str, Any] = {}
    table_of: dict[str, str] = {}
    for table in ("profiles", "providers"):  # [providers.NAME] and [profiles.NAME] are the same
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {table!r} must be a table ([{table}.NAME])")
        profiles.update(section)
        table_of.update(dict.fromkeys(section, table))

    chosen_name = provider or env.get("LLMCHAT_PROVIDER") or optional_str(data, "provider", where)
    name = chosen_name or "openai"
    profile = profiles.get(name, {})
    here = f"{where}: {table_of.get(name, 'providers')}.{name}"
    if not isinstance(profile, dict):
        raise ConfigError(f"{here} must be a table")
    for key in profile:
        if key not in _PROFILE_KEYS:
            raise ConfigError(f"{here}: unknown key '{table_of[name]}.{name}.{key}'")
    chosen_model = (
        model or env.get("LLMCHAT_MODEL") or optional_str(profile, "model", here) or optional_str(data, "model", where)
    )
    provider_settings = resolve_provider(name, profile, chosen_model, env, here)
    if not provider_settings.api_key:
        key = read_keys(keys_path).get(name) if keys_path else None
        command = optional_str(profile, "api_key_cmd", here)
        if not key and command:
            key = run_key_command(command, here)
        if key:
            provider_settings = replace(provider_settings, api_key=key)

    policy: dict[str, Any] = {}
    for key, attribute in _POLICY_KEYS.items():
        if key not in data:
            continue
        value = data[key]
        if key == "retries":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                raise ConfigError(f"{where}: 'retries' must be a whole number from 0 to 10")
        else:
            value = seconds(value, f"{where}: {key!r}")
        policy[attribute] = value
    merged_options = {
        **check_options(data.get("options", {}), f"{where}: options"),
        **check_options(profile.get("options", {}), f"{here}.options"),
        **check_options({k: v for k, v in (options or {}).items() if v not in (None, [], ())}, "option"),
    }
    chosen_theme = theme or env.get("LLMCHAT_THEME") or optional_str(data, "theme", where)
    budget = _budget(data.get("budget", {}), where)
    return Settings(
        provider=provider_settings,
        system=system if system is not None else env.get("LLMCHAT_SYSTEM") or optional_str(data, "system", where),
        theme=chosen_theme or DEFAULT_THEME,
        theme_explicit=bool(chosen_theme),
        policy=StreamPolicy(**policy),
        tools=_tools(data.get("tools", {}), where),
        allow_private_addresses=_tool_flag(data.get("tools", {}), "allow_private_addresses", where),
        tool_output_chars=whole_number(data, "tool_output_chars", where, 20_000),
        max_tool_rounds=whole_number(data, "max_tool_rounds", where, 8),
        max_input_bytes=whole_number(data, "max_input_bytes", where, DEFAULT_MAX_INPUT_BYTES),
        max_attachment_bytes=whole_number(data, "max_attachment_bytes", where, 20 * 1024 * 1024),
        max_attachments_bytes=whole_number(data, "max_attachments_bytes", where, 50 * 1024 * 1024),
        max_tool_calls=whole_number(data, "max_tool_calls", where, 32),
        tool_results_chars=whole_number(data, "tool_results_chars", where, 100_000),
        options=merged_options,
        config_path=config_path,
        profiles=tuple(profiles),
        prices=_prices(data.get("prices", {}), where),
        budget_conversation=budget.get("conversation"),
        budget_day=budget.get("day"),
        provider_explicit=bool(chosen_name),
        model_explicit=bool(model or env.get("LLMCHAT_MODEL")),
        keymap=_keymap(data.get("keys", {}), where),
        templates=_templates(data.get("templates", {}), where),
    )


def _templates(table: Any, where: str) -> dict[str, PromptTemplate]:
    if not table and isinstance(table, Mapping):
        return {}
    from llmchat.templates import parse_templates  # only when the file has templates

    found = parse_templates(table, where)
    for name, template in found.items():
        check_options(template.options, f"{where}: templates.{name}.options")
    return found


def _keymap(table: Any, where: str) -> dict[str, str]:
    """The ``[keys]`` table: binding ids to comma-separated key names (``"ctrl+t,f5"``)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: 'keys' must be a table ([keys] with \"binding.id\" = \"ctrl+x\")")
    for name, keys in table.items():
        if not isinstance(keys, str) or not keys.strip() or any(not k.strip() for k in keys.split(",")):
            raise ConfigError(f"{where}: keys.{name} must be key names such as \"ctrl+t\" or \"ctrl+t,f5\"")
    return {name: ",".join(k.strip() for k in keys.split(",")) for name, keys in table.items()}


def _tools(value: Any, where: str) -> dict[str, Any]:
    """The ``[tools.NAME]`` tables, checked now (so a bad one is a config error at start,
    naming the file and key, not a failure when ``--tools`` first builds them)."""
    table = {k: v for k, v in table_of(value, f"{where}: tools").items() if k not in TOOL_FLAGS}
    if table:
        from llmchat.chat.tools import tools_from_config  # only when the file has tools

        tools_from_config(table, where=where)
    return table


TOOL_FLAGS = frozenset({"allow_private_addresses"})
"""Settings of the ``[tools]`` table itself (beside the ``[tools.NAME]`` tables)."""


def _tool_flag(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False) if isinstance(table, Mapping) else False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: 'tools.{key}' must be true or false")
    return value


def _budget(value: Any, where: str) -> dict[str, float]:
    if not value and isinstance(value, Mapping):
        return {}
    from llmchat.chat.pricing import parse_budget  # only when the file has a budget

    return parse_budget(value, where)


def _prices(value: Any, where: str) -> dict[str, ModelPrice]:
    if not value and isinstance(value, Mapping):
        return {}
    from llmchat.chat.pricing import parse_prices  # only when the file has prices

    return parse_prices(value, where)
