"""A model's context window, as its server tells it (one request, read bounded).

Where each server says it:

- OpenRouter (and any OpenAI-compatible list that carries it): ``GET {base}/models``,
  ``data[].context_length`` (vLLM: ``max_model_len``) of the entry whose ``id`` is the model;
- llama.cpp's ``llama-server``: ``GET {root}/props``, ``default_generation_settings.n_ctx``
  (the context it was started with), tried when the list says nothing;
- Ollama: ``POST {host}/api/show`` ``{"model": NAME}``: ``parameters`` ``num_ctx`` when the
  model sets one, else ``model_info["<architecture>.context_length"]``;
- Gemini: ``GET {base}/v1beta/models/{model}``, ``inputTokenLimit``.

Anthropic's and OpenAI's own lists give no window: None (the caller falls back to the price
database). Any failure (network, status, shape) is None too: a window is a display figure,
never a reason to fail.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from llmchat.providers.errors import ProviderError
from llmchat.providers.http_get import MAX_JSON_BODY, get_json

TIMEOUT = 10.0
"""Seconds one lookup may take in all."""


async def server_context_window(
    client: httpx.AsyncClient, kind: str, base_url: str, model: str, headers: Mapping[str, str] | None = None
) -> int | None:
    """The context window (tokens) the server at `base_url` gives for `model`, or None.

    Args:
        client: the shared HTTP client.
        kind: the wire format (``openai``, ``openai-responses``, ``ollama``, ``gemini``,
            ``anthropic``).
        base_url: as the provider takes it (``/v1`` included for the OpenAI formats).
        model: the model name.
        headers: the provider's request headers (its key), sent with the lookup.
    """
    headers = dict(headers or {})
    try:
        return await asyncio.wait_for(_lookup(client, kind, base_url.rstrip("/"), model, headers), TIMEOUT)
    except (ProviderError, httpx.HTTPError, asyncio.TimeoutError, ValueError, TypeError, KeyError,
            AttributeError):  # a body of another shape (a list where an object was expected)
        return None


async def _lookup(client: httpx.AsyncClient, kind: str, base: str, model: str, headers: dict[str, str]) -> int | None:
    if kind in ("openai", "openai-responses"):
        window = _from_list(await get_json(client, f"{base}/models", headers, "context window"), model)
        if window is None and base.endswith("/v1"):
            props = await get_json(client, f"{base[:-3]}/props", headers, "context window")
            window = _positive((props.get("default_generation_settings") or {}).get("n_ctx"))
        return window
    if kind == "ollama":
        return await _ollama(client, base, model, headers)
    if kind == "gemini":
        name = model if model.startswith("models/") else f"models/{model}"
        data = await get_json(client, f"{base}/v1beta/{quote(name, safe='/')}", headers, "context window")
        return _positive(data.get("inputTokenLimit"))
    return None


def _from_list(data: Any, model: str) -> int | None:
    entries = data.get("data") if isinstance(data, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("id") == model:
            for key in ("context_length", "max_model_len", "context_window"):
                window = _positive(entry.get(key))
                if window is not None:
                    return window
    return None


async def _ollama(client: httpx.AsyncClient, base: str, model: str, headers: dict[str, str]) -> int | None:
    async with client.stream("POST", f"{base}/api/show", json={"model": model}, headers=headers) as response:
        if response.status_code != 200:
            return None
        body = bytearray()
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) > MAX_JSON_BODY:
                return None
    data = json.loads(body)
    match = re.search(r"^num_ctx\s+(\d+)", str(data.get("parameters") or ""), re.MULTILINE)
    if match:
        return _positive(int(match.group(1)))
    info = data.get("model_info") or {}
    architecture = info.get("general.architecture")
    return _positive(info.get(f"{architecture}.context_length")) if architecture else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
