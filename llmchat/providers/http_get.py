"""GET a JSON body (model lists), capped and with the same error mapping as the streams."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from llmchat.providers.decoding import ACCEPT_ENCODING, MAX_ERROR_BODY, read_capped, read_limited
from llmchat.providers.errors import (
    NotAStream,
    ServerError,
    connect_error,
    error_for_status,
    html_title,
    is_html,
    redirect_error,
)
from llmchat.providers.redaction import SecretHeaders, without_keys

MAX_JSON_BODY = 16 * 1024 * 1024
"""Largest JSON body read whole (model lists)."""


async def get_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], provider: str
) -> Any:
    """GET `url` and return its JSON (model lists), at most `MAX_JSON_BODY` bytes of it.

    Raises:
        ProviderError: the matching subclass for an HTTP error status or a network failure;
            a ServerError for a body that is not JSON or passes the cap.
    """
    sent = SecretHeaders(headers)
    sent["Accept-Encoding"] = ACCEPT_ENCODING
    try:
        async with client.stream("GET", url, headers=sent) as response:
            if response.status_code >= 400:
                text = without_keys(await read_limited(response), headers)
                raise error_for_status(response.status_code, text, provider)
            if response.status_code >= 300:
                raise redirect_error(response.status_code, response.headers.get("location"), url, provider)
            data, truncated = await read_capped(response, MAX_JSON_BODY)
    except httpx.HTTPError as exc:
        raise connect_error(url, exc, provider) from exc
    if truncated:
        raise ServerError(f"{url} answered with more than {MAX_JSON_BODY // 2**20} MiB", provider=provider)
    try:
        return json.loads(data)
    except ValueError:
        what = ""
        text = data[:MAX_ERROR_BODY].decode("utf-8", "replace")
        if is_html(text):
            title = html_title(text)
            what = f" but with an HTML page{f' titled {title!r}' if title else ''}"
        raise ServerError(f"{url} did not answer with JSON{what}", provider=provider,
                          hint=NotAStream.hint_default if what else None) from None


async def probe_json(client: httpx.AsyncClient, url: str, limit: int) -> Any:
    """The JSON document at `url` when it answers 200 with at most `limit` decoded bytes of
    valid JSON, else None (refused, timed out, another status, too large, not JSON): for
    probing local servers, where any failure just means "not there". Never raises an HTTP or
    JSON error."""
    try:
        async with client.stream("GET", url, headers={"Accept-Encoding": ACCEPT_ENCODING}) as response:
            if response.status_code != 200:
                return None
            body, truncated = await read_capped(response, limit)
        return None if truncated else json.loads(body)
    except (httpx.HTTPError, ValueError):
        return None
