"""Find OpenAI-compatible servers answering on their usual local ports (loopback only)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from llmchat.config_profiles import ProviderSettings
from llmchat.providers.http_get import probe_json

MAX_MODELS_BODY = 4 * 1024 * 1024
"""Bytes of a model list read (decoded); a larger answer is no server of ours."""

CANDIDATES: tuple[tuple[str, int], ...] = (
    ("LM Studio", 1234),
    ("llama.cpp", 8080),
    ("vLLM", 8000),
)
"""(label, port) of local servers that speak Chat Completions under ``/v1``. Ollama is
found on its native API instead (:func:`llmchat.first_run.find_ollama`)."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A server that answered ``GET {base_url}/models``."""

    label: str
    base_url: str
    models: tuple[str, ...]

    def provider_settings(self) -> ProviderSettings:
        """Settings to use this keyless server with its first model."""
        return ProviderSettings(name="openai", kind="openai", base_url=self.base_url, model=self.models[0])


async def find_local_servers(
    candidates: tuple[tuple[str, int], ...] = CANDIDATES,
    *,
    host: str = "127.0.0.1",
    timeout: float = 0.5,
) -> list[LocalServer]:
    """Probe each candidate port at once; return those that list models, in candidate order.

    Never raises: a port that refuses, times out or answers oddly is skipped.
    """
    async with httpx.AsyncClient(timeout=timeout) as client:

        async def probe(label: str, port: int) -> LocalServer | None:
            base_url = f"http://{host}:{port}/v1"
            data = await probe_json(client, f"{base_url}/models", MAX_MODELS_BODY)
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                return None
            models = tuple(
                str(m["id"]) for m in data["data"] if isinstance(m, dict) and m.get("id")
            )
            return LocalServer(label, base_url, models)

        found = await asyncio.gather(*(probe(label, port) for label, port in candidates))
    return [server for server in found if server is not None]
