"""Providers by name: the built-ins llmchat knows without any config, and how a name, its
config profile and the environment resolve to :class:`ProviderSettings`.

Built-in providers (:data:`BUILTIN_PROFILES`): openai, openai-responses, anthropic, ollama,
gemini, openrouter, groq, deepseek, mistral, together, fireworks. Environment:
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` (openai and openai-responses),
``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL``, ``OLLAMA_HOST``, and ``GEMINI_API_KEY`` (else
``GOOGLE_API_KEY``) / ``GEMINI_BASE_URL`` for the built-ins of those names (shared/DESIGN.md,
"Environment and files", "More wire formats").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmchat.config_values import optional_str
from llmchat.errors import ConfigError
from llmchat.providers import KINDS

if TYPE_CHECKING:
    import httpx

    from llmchat.providers.base import Provider
    from llmchat.providers.policy import StreamPolicy

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"


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


def resolve_provider(
    name: str, profile: Mapping[str, Any], model: str | None, env: Mapping[str, str], here: str
) -> ProviderSettings:
    """The settings of provider `name`: its built-in (:data:`BUILTIN_PROFILES`), overridden by
    its config `profile` (``[providers.NAME]``) and the built-in's environment variables
    (``OPENAI_BASE_URL``, ``OLLAMA_HOST``, ...); the key read from the environment.

    Args:
        model: the model chosen by flag, environment or config; None for the built-in's.
        here: where the profile is (``FILE: providers.NAME``), for messages.

    Raises:
        ConfigError: an unknown provider without a profile, an unknown ``kind``, headers
            that are not a table of strings, a profile without ``base_url``.
    """
    builtin = BUILTIN_PROFILES.get(name)
    if builtin is None and not profile:
        known = ", ".join(BUILTIN_PROFILES)
        raise ConfigError(
            f"unknown provider {name!r}: use one of {known}, or define [providers.{name}] in "
            f"the config file ({here.split(': ')[0]})"
        )
    kind = optional_str(profile, "kind", here) or (builtin.kind if builtin else "openai")
    if kind not in KINDS:
        raise ConfigError(f"{here}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    headers = profile.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError(f"{here}.headers: must be a table of strings")
    key_env = optional_str(profile, "api_key_env", here)
    file_url = optional_str(profile, "base_url", here)
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
