"""First run: which providers the environment allows when none was chosen.

A user who never chose a provider (no ``-p``, no ``LLMCHAT_PROVIDER``, no ``provider`` in the
config file) gets ``openai`` by default. When that has no key, :func:`find_candidates` lists
what else can be used at once: every built-in provider (and config profile) whose key is set
in its environment variable or in the key file, and a local Ollama answering its native API
at ``OLLAMA_HOST`` (default ``127.0.0.1:11434``). One candidate is used as it is; several are
listed, and the user's pick is remembered in the config file (:func:`remember_provider`).

Used by the command line (:mod:`llmchat.cli_shared`) and the session (:mod:`llmchat.tui`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from llmchat.config import Settings, load_settings
from llmchat.config_profiles import BUILTIN_PROFILES, ProviderSettings, ollama_host
from llmchat.errors import ConfigError
from llmchat.providers.http_get import probe_json

MAX_TAGS_BODY = 4 * 1024 * 1024
"""Bytes of Ollama's model list read (decoded); a larger answer is no Ollama of ours."""

SAME_KEY_AS = {"openai-responses": "openai"}
"""Built-ins that share another's key: listed once, under the other's name."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A provider that can be used now, and why (for the list shown to the user)."""

    provider: ProviderSettings
    reason: str
    """E.g. ``ANTHROPIC_API_KEY is set``, ``key in the key file``, ``Ollama at http://...``."""

    @property
    def name(self) -> str:
        """The provider or profile name (what ``-p`` takes)."""
        return self.provider.name


def key_candidates(settings: Settings, env: Mapping[str, str], keys_path: Path | None) -> list[Candidate]:
    """Built-in providers and config profiles that have a key (environment or key file),
    built-ins first in :data:`~llmchat.config_profiles.BUILTIN_PROFILES` order. Never raises: a
    profile that does not load is skipped."""
    found: list[Candidate] = []
    for name in (*BUILTIN_PROFILES, *settings.profiles):
        if name in SAME_KEY_AS or any(c.name == name for c in found):
            continue
        try:
            loaded = load_settings(settings.config_path, env, provider=name, keys_path=keys_path).provider
        except ConfigError:
            continue
        if not loaded.api_key or loaded.missing_credentials() is not None:
            continue
        from_env = loaded.api_key_env and env.get(loaded.api_key_env)
        found.append(Candidate(loaded, f"{loaded.api_key_env} is set" if from_env else "key in the key file"))
    return found


async def find_ollama(env: Mapping[str, str], *, timeout: float = 0.5) -> Candidate | None:
    """A local Ollama at ``OLLAMA_HOST`` (default 127.0.0.1:11434) that has a model, as the
    built-in ``ollama`` provider (its native ``/api/chat``), with its first model; None when
    nothing answers ``GET /api/tags`` (Ollama API, "List Local Models") with a model. Only a
    loopback host is probed. Never raises."""
    host = ollama_host(env.get("OLLAMA_HOST", ""))
    hostname = httpx.URL(host).host
    if hostname not in ("127.0.0.1", "localhost", "::1") and not hostname.startswith("127."):
        return None
    async with httpx.AsyncClient(timeout=timeout) as client:
        data = await probe_json(client, f"{host}/api/tags", MAX_TAGS_BODY)
    items = data.get("models") if isinstance(data, dict) else None
    names = sorted(
        str(m.get("name") or m.get("model")) for m in (items if isinstance(items, list) else ())
        if isinstance(m, dict) and isinstance(m.get("name") or m.get("model"), str)
    )
    if not names:
        return None
    builtin = BUILTIN_PROFILES["ollama"]
    provider = ProviderSettings(name="ollama", kind=builtin.kind, base_url=host, model=names[0])
    return Candidate(provider, f"Ollama at {host}")


async def find_candidates(
    settings: Settings, env: Mapping[str, str], keys_path: Path | None
) -> list[Candidate]:
    """What can be used when `settings` chose no provider: :func:`key_candidates`, then a
    local Ollama (:func:`find_ollama`). Empty when the user chose a provider (``-p``,
    ``LLMCHAT_PROVIDER``, the config's ``provider``): their choice is never overridden."""
    if settings.provider_explicit:
        return []
    found = key_candidates(settings, env, keys_path)
    ollama = await find_ollama(env)
    if ollama is not None and not any(c.name == "ollama" for c in found):
        found.append(ollama)
    return found


def use_candidate(settings: Settings, candidate: Candidate) -> Settings:
    """`settings` with `candidate`'s provider (the model given with ``-m`` is kept)."""
    provider = candidate.provider
    if settings.model_explicit:
        provider = replace(provider, model=settings.provider.model)
    return settings.with_provider(provider)


def remember_provider(config_path: Path | None, name: str) -> str | None:
    """Write ``provider = "NAME"`` into the config file (created if missing; the line goes
    first, before any table, and nothing else in the file changes). Returns None, or a
    one-line reason when the file could not be written."""
    if config_path is None:
        return "no config file"
    line = f"provider = {json.dumps(name)}  # chosen at first run\n"
    try:
        text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(line + text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot write {config_path}: {getattr(exc, 'strerror', None) or exc}"
    return None
