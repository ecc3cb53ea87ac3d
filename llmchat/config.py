"""Settings: built-in defaults < config file (TOML) < environment variables < command-line flags.

The config file lives at ``paths.config_file()``::

    provider = "openai"            # default provider or profile name
    model = "gpt-4o-mini"          # default model
    system = "You are terse."      # default system prompt
    theme = "llmchat-dark"
    timeout = 600                  # seconds a stream may stay silent

    [profiles.groq]                # any OpenAI-compatible server, selected with -p groq
    base_url = "https://api.groq.com/openai/v1"
    api_key_env = "GROQ_API_KEY"   # the key is read from this variable, never from the file
    model = "llama-3.3-70b-versatile"

Environment: ``LLMCHAT_PROVIDER``, ``LLMCHAT_MODEL``, ``LLMCHAT_SYSTEM``, ``LLMCHAT_THEME``;
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` for the built-in ``openai`` provider and
``OLLAMA_HOST`` for ``ollama`` (shared/DESIGN.md, "Environment and files").
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmchat.errors import ConfigError

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
OLLAMA_DEFAULT_MODEL = "llama3.2"
DEFAULT_THEME = "llmchat-dark"

_TOP_KEYS = {"provider", "model", "system", "theme", "timeout", "profiles"}
_PROFILE_KEYS = {"kind", "base_url", "api_key_env", "model", "headers"}
_NOT_YET = {"anthropic": "Anthropic Messages"}


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to reach one provider. The key is held in memory only and never shown."""

    name: str
    """The provider or profile name (``openai``, ``ollama``, or a ``[profiles.NAME]``)."""
    kind: str
    """The wire protocol (``openai``: Chat Completions)."""
    base_url: str
    """API root; for ``openai`` it includes ``/v1``."""
    model: str
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    """The environment variable the key comes from."""
    headers: Mapping[str, str] = field(default_factory=dict)

    def missing_credentials(self) -> str | None:
        """Why this provider cannot be used as configured, and how to fix it; None if it can."""
        if self.api_key:
            return None
        if self.api_key_env and self.name != "openai":
            return f"no API key for {self.name!r}: set {self.api_key_env} in the environment"
        if self.kind == "openai" and urlsplit(self.base_url).hostname == "api.openai.com":
            return (
                "no OpenAI API key: set OPENAI_API_KEY, or point OPENAI_BASE_URL at an "
                "OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )
        return None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything llmchat reads at start, resolved and validated."""

    provider: ProviderSettings
    system: str | None = None
    """The system prompt sent with every request, or None."""
    theme: str = DEFAULT_THEME
    timeout: float = 600.0
    """Seconds a stream may stay silent before it fails."""
    config_path: Path | None = None
    profiles: tuple[str, ...] = ()
    """Profile names defined in the config file."""

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
) -> Settings:
    """Read the config file (if it exists) and apply env variables, then flags.

    Args:
        config_path: the TOML file; a missing file means all defaults.
        env: the environment (``os.environ`` in the CLI, a dict in tests).
        provider, model, system, theme: command-line flags; None when not given.

    Raises:
        ConfigError: unreadable TOML, an unknown key, a value of the wrong type, or an
            unknown provider; the message names the file and the key.
    """
    data = _read_toml(config_path)
    where = str(config_path) if config_path else "config"
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("provider", "model", "system", "theme"):
        _str(data, key, where)  # a wrong type is an error even when a flag or env overrides it
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{where}: 'profiles' must be a table ([profiles.NAME])")

    name = provider or env.get("LLMCHAT_PROVIDER") or _str(data, "provider", where) or "openai"
    profile = profiles.get(name, {})
    if not isinstance(profile, dict):
        raise ConfigError(f"{where}: 'profiles.{name}' must be a table")
    for key in profile:
        if key not in _PROFILE_KEYS:
            raise ConfigError(f"{where}: unknown key 'profiles.{name}.{key}'")
    chosen_model = (
        model
        or env.get("LLMCHAT_MODEL")
        or _str(profile, "model", f"{where}: profiles.{name}")
        or _str(data, "model", where)
    )
    provider_settings = _provider(name, profile, chosen_model, env, where)

    timeout = data.get("timeout", 600.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}: 'timeout' must be a positive number of seconds")
    return Settings(
        provider=provider_settings,
        system=system if system is not None else env.get("LLMCHAT_SYSTEM") or _str(data, "system", where),
        theme=theme or env.get("LLMCHAT_THEME") or _str(data, "theme", where) or DEFAULT_THEME,
        timeout=float(timeout),
        config_path=config_path,
        profiles=tuple(profiles),
    )


def _provider(
    name: str, profile: Mapping[str, Any], model: str | None, env: Mapping[str, str], where: str
) -> ProviderSettings:
    here = f"{where}: profiles.{name}"
    kind = _str(profile, "kind", here) or ("openai" if name not in _NOT_YET else name)
    if kind in _NOT_YET:
        raise ConfigError(
            f"the {_NOT_YET[kind]} provider ({kind!r}) is not available in this version yet; "
            "use an OpenAI-compatible server or a profile"
        )
    if kind != "openai":
        raise ConfigError(f"{here}: unknown kind {kind!r} (known: openai)")
    headers = profile.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{here}.headers: must be a table of strings")
    key_env = _str(profile, "api_key_env", here)
    base_url = _str(profile, "base_url", here)
    if name == "openai":
        base_url = env.get("OPENAI_BASE_URL") or base_url or OPENAI_DEFAULT_BASE_URL
        key_env = key_env or "OPENAI_API_KEY"
    elif name == "ollama":
        base_url = base_url or ollama_host(env.get("OLLAMA_HOST", "")) + "/v1"
        model = model or OLLAMA_DEFAULT_MODEL
    elif not profile:
        raise ConfigError(
            f"unknown provider {name!r}: use openai or ollama, or define [profiles.{name}] in {where}"
        )
    elif not base_url:
        raise ConfigError(f"{here}: 'base_url' is required")
    return ProviderSettings(
        name=name,
        kind=kind,
        base_url=base_url.rstrip("/"),
        model=model or OPENAI_DEFAULT_MODEL,
        api_key=env.get(key_env) if key_env else None,
        api_key_env=key_env,
        headers=dict(headers),
    )


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


def _read_toml(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
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
