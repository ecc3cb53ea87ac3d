"""How patient and how careful a stream is (:class:`StreamPolicy`), and the retry rules it
governs: which failures are retried and how long to wait before each retry."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from llmchat.providers.errors import ConnectError, ConnectTimeout, ProviderError
from llmchat.providers.vision import VISION_HINT


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How patient and how careful a stream is. Times in seconds, sizes in bytes."""

    retries: int = 2
    """Retries before the first token, for RETRY_STATUSES and connection failures."""
    backoff: float = 1.0
    """First retry delay; it doubles each time, with jitter (half to full)."""
    retry_after_cap: float = 60.0
    """A Retry-After longer than this is reported, not slept on."""
    connect_timeout: float = 10.0
    first_token_timeout: float = 300.0
    """From sending the request to the first token (reasoning models think first)."""
    idle_timeout: float = 120.0
    """Longest silence between tokens; keep-alive comments do not count as tokens."""
    total_timeout: float | None = None
    """Deadline for the whole reply, or None."""
    max_event_bytes: int = 8 * 1024 * 1024
    """Largest single SSE event or NDJSON line."""
    max_reply_bytes: int = 64 * 1024 * 1024
    """Largest whole response body."""


RETRY_STATUSES = frozenset({408, 409, 429, 529, *range(500, 600)})
"""HTTP statuses worth retrying: 408, 409, 429, 529 and every 5xx (DESIGN.md, resilience
settings; the OpenAI and Anthropic SDKs retry the same)."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date, RFC 9110)."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def retryable(error: ProviderError) -> bool:
    """True for a failure worth retrying: a connection failure (refused, reset, DNS, TLS, or no
    connection within the connect timeout) or a status of :data:`RETRY_STATUSES`, unless the
    model cannot take the request's images."""
    if error.hint == VISION_HINT:  # a model without vision: the same images fail again
        return False
    return isinstance(error, (ConnectError, ConnectTimeout)) or error.status in RETRY_STATUSES


def backoff_delay(policy: StreamPolicy, attempt: int, error: ProviderError) -> float:
    """The wait before retry number `attempt` (from 1): the server's Retry-After if it gave
    one, else exponential backoff with jitter."""
    if error.retry_after is not None:
        return error.retry_after
    return policy.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
