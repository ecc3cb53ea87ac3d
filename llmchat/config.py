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

Built-in providers (:data:`BUILTIN_PROFILES`): openai, openai-responses, anthropic, ollama,
gemini, openrouter, groq, deepseek, mistral, together, fireworks. Environment:
``LLMCHAT_PROVIDER``, ``LLMCHAT_MODEL``, ``LLMCHAT_SYSTEM``, ``LLMCHAT_THEME``;
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` (openai and openai-responses),
``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``, ``OLLAMA_HOST``, and ``GEMINI_API_KEY`` (else
``GOOGLE_API_KEY``) / ``GEMINI_BASE_URL`` for the built-ins of those names (shared/DESIGN.md,
"Environment and files", "More wire formats").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmchat.errors import ConfigError
from llmchat.keys import read_keys, run_key_command
from llmchat.providers import KINDS
from llmchat.providers.policy import StreamPolicy

if TYPE_CHECKING:
    import httpx

    from llmchat.chat.pricing import ModelPrice
    from llmchat.templates import PromptTemplate

    from llmchat.providers.base import Provider

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_THEME = "llmchat-dark"
DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024
"""Piped input ``ask`` takes by default: 16 MiB, some four million tokens, more than any
model's context window (config key ``max_input_bytes``)."""


@dataclass(frozen=True, slots=True)
class Builtin:
    """A provider llmchat knows without any config: its protocol, endpoint, key and model."""

    kind: str
    base_url: str
    api_key_env: str | None
    model: str
    base_url_env: str | None = None
    """An environment variable that overrides `base_url`."""
    fallback_key_env: str | None = None
    """A second variable for the key, read when `api_key_env` is not set (``GOOGLE_API_KEY``)."""


BUILTIN_PROFILES: dict[str, Builtin] = {
    "openai": Builtin("openai", OPENAI_DEFAULT_BASE_URL, "OPENAI_API_KEY", OPENAI_DEFAULT_MODEL, "OPENAI_BASE_URL"),
    "anthropic": Builtin(
        "anthropic", ANTHROPIC_DEFAULT_BASE_URL, "ANTHROPIC_API_KEY", "claude-sonnet-4-5", "ANTHROPIC_BASE_URL"
    ),
    "ollama": Builtin("ollama", "http://127.0.0.1:11434", None, "llama3.2", "OLLAMA_HOST"),
    "gemini": Builtin(
        "gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", "gemini-2.5-flash",
        "GEMINI_BASE_URL", "GOOGLE_API_KEY",
    ),
    "openai-responses": Builtin(
        "openai-responses", OPENAI_DEFAULT_BASE_URL, "OPENAI_API_KEY", OPENAI_DEFAULT_MODEL, "OPENAI_BASE_URL"
    ),
    "openrouter": Builtin("openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openai/gpt-4o-mini"),
    "groq": Builtin("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "llama-3.3-70b-versatile"),
    "deepseek": Builtin("openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek-chat"),
    "mistral": Builtin("openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral-small-latest"),
    "together": Builtin(
        "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ),
    "fireworks": Builtin(
        "openai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY",
        "accounts/fireworks/models/llama-v3p3-70b-instruct",
    ),
}
"""Providers usable by name with no config (``-p groq``); a config profile of the same name
overrides any of their fields."""

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
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
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
_INT_MAX = 2**31 - 1
_OPTION_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_k": (1, _INT_MAX),
    "max_tokens": (1, _INT_MAX),
    "seed": (-(2**63), 2**63 - 1),
    "thinking_budget": (0, _INT_MAX),
}
"""The accepted range of each numeric option, both ends included (the widest any supported
API takes: OpenAI's temperature goes to 2, Anthropic's to 1; seeds are 64-bit)."""
MAX_SECONDS = 86_400
"""The longest timeout the config accepts (one day): longer ones overflow the socket layer."""


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to reach one provider. The key is held in memory only and never shown."""

    name: str
    """The provider or profile name (``openai``, ``groq``, or a ``[providers.NAME]``)."""
    kind: str
    """The wire protocol: ``openai`` (Chat Completions), ``openai-responses``, ``anthropic``,
    ``ollama`` or ``gemini``."""
    base_url: str
    """API root; for ``openai`` it includes ``/v1``."""
    model: str
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    """The environment variable the key comes from."""
    headers: Mapping[str, str] = field(default_factory=dict)
    requires_key: bool = False
    """True for hosted endpoints that refuse requests without a key."""

    def missing_credentials(self) -> str | None:
        """Why this provider cannot be used as configured, and how to fix it; None if it can."""
        if self.api_key or not self.requires_key:
            return None
        if self.name in ("openai", "openai-responses"):
            return (
                "no OpenAI API key: set OPENAI_API_KEY, or point OPENAI_BASE_URL at an "
                "OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )
        if self.name == "gemini" and self.api_key_env == "GEMINI_API_KEY":
            return "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment"
        return f"no API key for {self.name!r}: set {self.api_key_env} in the environment"

    def create(self, client: httpx.AsyncClient, policy: StreamPolicy | None = None) -> Provider:
        """The provider for these settings, on the shared `client`, streaming under `policy`."""
        from llmchat.providers import create_provider

        return create_provider(
            self.kind,
            client=client,
            name=self.name,
            base_url=self.base_url,
            api_key=self.api_key,
            headers=dict(self.headers),
            policy=policy,
        )


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
        _str(data, key, where)  # a wrong type is an error even when a flag or env overrides it
    profiles: dict[str, Any] = {}
    table_of: dict[str, str] = {}
    for table in ("profiles", "providers"):  # [providers.NAME] and [profiles.NAME] are the same
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: {table!r} must be a table ([{table}.NAME])")
        profiles.update(section)
        table_of.update(dict.fromkeys(section, table))

    chosen_name = provider or env.get("LLMCHAT_PROVIDER") or _str(data, "provider", where)
    name = chosen_name or "openai"
    profile = profiles.get(name, {})
    here = f"{where}: {table_of.get(name, 'providers')}.{name}"
    if not isinstance(profile, dict):
        raise ConfigError(f"{here} must be a table")
    for key in profile:
        if key not in _PROFILE_KEYS:
            raise ConfigError(f"{here}: unknown key '{table_of[name]}.{name}.{key}'")
    chosen_model = (
        model or env.get("LLMCHAT_MODEL") or _str(profile, "model", here) or _str(data, "model", where)
    )
    provider_settings = _provider(name, profile, chosen_model, env, here)
    if not provider_settings.api_key:
        key = read_keys(keys_path).get(name) if keys_path else None
        command = _str(profile, "api_key_cmd", here)
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
        **_options(data.get("options", {}), f"{where}: options"),
        **_options(profile.get("options", {}), f"{here}.options"),
        **_options({k: v for k, v in (options or {}).items() if v not in (None, [], ())}, "option"),
    }
    chosen_theme = theme or env.get("LLMCHAT_THEME") or _str(data, "theme", where)
    budget = _budget(data.get("budget", {}), where)
    return Settings(
        provider=provider_settings,
        system=system if system is not None else env.get("LLMCHAT_SYSTEM") or _str(data, "system", where),
        theme=chosen_theme or DEFAULT_THEME,
        theme_explicit=bool(chosen_theme),
        policy=StreamPolicy(**policy),
        tools=_tools(data.get("tools", {}), where),
        allow_private_addresses=_tool_flag(data.get("tools", {}), "allow_private_addresses", where),
        tool_output_chars=_count(data, "tool_output_chars", where, 20_000),
        max_tool_rounds=_count(data, "max_tool_rounds", where, 8),
        max_input_bytes=_count(data, "max_input_bytes", where, DEFAULT_MAX_INPUT_BYTES),
        max_attachment_bytes=_count(data, "max_attachment_bytes", where, 20 * 1024 * 1024),
        max_attachments_bytes=_count(data, "max_attachments_bytes", where, 50 * 1024 * 1024),
        max_tool_calls=_count(data, "max_tool_calls", where, 32),
        tool_results_chars=_count(data, "tool_results_chars", where, 100_000),
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
        _options(template.options, f"{where}: templates.{name}.options")
    return found


def _keymap(table: Any, where: str) -> dict[str, str]:
    """The ``[keys]`` table: binding ids to comma-separated key names (``"ctrl+t,f5"``)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: 'keys' must be a table ([keys] with \"binding.id\" = \"ctrl+x\")")
    for name, keys in table.items():
        if not isinstance(keys, str) or not keys.strip() or any(not k.strip() for k in keys.split(",")):
            raise ConfigError(f"{where}: keys.{name} must be key names such as \"ctrl+t\" or \"ctrl+t,f5\"")
    return {name: ",".join(k.strip() for k in keys.split(",")) for name, keys in table.items()}


def _provider(
    name: str, profile: Mapping[str, Any], model: str | None, env: Mapping[str, str], here: str
) -> ProviderSettings:
    builtin = BUILTIN_PROFILES.get(name)
    if builtin is None and not profile:
        known = ", ".join(BUILTIN_PROFILES)
        raise ConfigError(
            f"unknown provider {name!r}: use one of {known}, or define [providers.{name}] in "
            f"the config file ({here.split(': ')[0]})"
        )
    kind = _str(profile, "kind", here) or (builtin.kind if builtin else "openai")
    if kind not in KINDS:
        raise ConfigError(f"{here}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    headers = profile.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{here}.headers: must be a table of strings")
    key_env = _str(profile, "api_key_env", here)
    file_url = _str(profile, "base_url", here)
    requires_key = key_env is not None
    if builtin is not None:
        env_url = env.get(builtin.base_url_env, "") if builtin.base_url_env else ""
        if builtin.kind == "ollama":
            env_url = ollama_host(env_url) if env_url.strip() else ""
        base_url = env_url or file_url or builtin.base_url
        # A profile with its own base_url uses its own key, never the built-in's variable.
        if key_env is None and (not file_url or env_url):
            key_env = builtin.api_key_env
            requires_key = key_env is not None and base_url == builtin.base_url
            if key_env and not env.get(key_env) and builtin.fallback_key_env:
                if env.get(builtin.fallback_key_env):  # GEMINI_API_KEY, else GOOGLE_API_KEY
                    key_env = builtin.fallback_key_env
        model = model or builtin.model
    elif file_url:
        base_url = file_url
    else:
        raise ConfigError(f"{here}: 'base_url' is required")
    if kind == "anthropic" and base_url.rstrip("/").endswith("/v1"):
        base_url = base_url.rstrip("/")[:-3]  # ANTHROPIC_BASE_URL may end in /v1: not doubled
    if kind == "gemini" and base_url.rstrip("/").endswith("/v1beta"):
        base_url = base_url.rstrip("/")[: -len("/v1beta")]  # GEMINI_BASE_URL may name the version
    return ProviderSettings(
        name=name,
        kind=kind,
        base_url=base_url.rstrip("/"),
        model=model or BUILTIN_PROFILES[kind].model,  # a server that ignores the name is fine
        api_key=env.get(key_env) if key_env else None,
        api_key_env=key_env,
        headers=dict(headers),
        requires_key=requires_key,
    )


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


def _count(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _INT_MAX:
        raise ConfigError(f"{where}: {key!r} must be a whole number from 1 to {_INT_MAX}")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table")
    return dict(value)


def _tools(value: Any, where: str) -> dict[str, Any]:
    """The ``[tools.NAME]`` tables, checked now (so a bad one is a config error at start,
    naming the file and key, not a failure when ``--tools`` first builds them)."""
    table = {k: v for k, v in _table(value, f"{where}: tools").items() if k not in TOOL_FLAGS}
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


def _options(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table")
    for key, value in table.items():
        types = _OPTION_TYPES.get(key)
        if types is None:
            raise ConfigError(f"{where}: unknown option {key!r} (known: {', '.join(_OPTION_TYPES)})")
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
        low, high = _OPTION_RANGES.get(key, (-math.inf, math.inf))
        if isinstance(value, int | float) and not (math.isfinite(value) and low <= value <= high):
            label = f"--{key.replace('_', '-')}" if where == "option" else f"{where}: {key!r}"
            whole = "whole " if types == (int,) else ""
            raise ConfigError(f"{label} must be a {whole}number from {low} to {high} (got {value!r})")
        if key == "stop" and isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: 'stop' must be a string or a list of strings")
    return dict(table)


def ollama_host(value: str) -> str:
    """Parse ``OLLAMA_HOST`` as Ollama's client does: bare host, ``host:port``, or a URL.

    Returns ``scheme://host:port`` (default ``http``, host 127.0.0.1, port 11434). As in
    Ollama's clients, an explicit scheme without a port means that scheme's port: 80 for
    ``http://``, 443 for ``https://``.
    """
    value = value.strip() or "127.0.0.1"
    explicit_scheme = "://" in value
    if not explicit_scheme:
        value = "http://" + value
    parts = urlsplit(value)
    host = parts.hostname or "127.0.0.1"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80 if explicit_scheme else 11434
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}:{port}{path}"


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


def _str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return value
