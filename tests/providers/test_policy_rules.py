"""The stream policy's defaults (README, "Resilience settings"), which failures are retried, the
forms of Retry-After, and which headers' values are kept out of messages and reprs: one row per
case, written against the mutants of policy.py and redaction.py."""

from __future__ import annotations

import pytest

from llmchat.providers.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ConnectTimeout,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.policy import StreamPolicy, backoff_delay, retry_after, retryable
from llmchat.providers.redaction import SENSITIVE_HEADERS, SecretHeaders, without_keys
from llmchat.providers.vision import VISION_HINT

MIB = 2**20


def test_the_defaults_are_the_documented_ones() -> None:
    """README: retries = 2, connect_timeout = 10, first_token_timeout = 300, idle_timeout = 120,
    no total_timeout, retry_after_cap = 60; a reply is capped at 64 MiB, one event at 8 MiB."""
    policy = StreamPolicy()
    assert (policy.retries, policy.backoff, policy.retry_after_cap) == (2, 1.0, 60.0)
    assert (policy.connect_timeout, policy.first_token_timeout, policy.idle_timeout) == (10.0, 300.0, 120.0)
    assert policy.total_timeout is None
    assert (policy.max_event_bytes, policy.max_reply_bytes) == (8 * MIB, 64 * MIB)


# --- which failures are retried ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServerError("x", status=500), True),
        (ServerError("x", status=502), True),
        (ServerError("x", status=503), True),
        (ServerError("x", status=504), True),
        (ServerError("x", status=529), True),  # Anthropic's "overloaded"
        (RateLimitError("x", status=429), True),
        (ProviderError("x", status=408), True),
        (ProviderError("x", status=409), True),
        (ServerError("x", status=501), True),  # DESIGN: every 5xx
        (ServerError("x", status=505), True),
        (ServerError("x", status=599), True),
        (ProviderError("x", status=499), False),
        (ProviderError("x", status=600), False),
        (BadRequestError("x", status=400), False),
        (AuthenticationError("x", status=401), False),
        (ProviderError("x", status=410), False),
        (ConnectError("refused"), True),
        (ConnectTimeout("no connection in 10 s"), True),  # a connection failure too
        (ProviderTimeout("slow"), False),
        (ServerError("in-band error"), False),  # no status: an error event inside a stream
        (StreamInterrupted("cut", status=None), False),
        (ServerError("no vision", status=500, hint=VISION_HINT), False),  # the same images fail again
        (RateLimitError("no vision", status=429, hint=VISION_HINT), False),
        (ConnectError("x", hint=VISION_HINT), False),
    ],
)
def test_which_failures_are_retried(error: ProviderError, expected: bool) -> None:
    assert retryable(error) is expected


def test_the_first_retry_waits_between_half_and_all_of_the_backoff() -> None:
    policy = StreamPolicy(backoff=8.0)
    delays = {backoff_delay(policy, 1, ServerError("x", status=503)) for _ in range(200)}
    assert min(delays) >= 4.0 and max(delays) <= 8.0
    assert min(delays) < 5.0 and max(delays) > 7.0  # the jitter spans the range
    assert 16.0 <= backoff_delay(policy, 3, ServerError("x", status=503)) <= 32.0  # 8 s doubled twice


# --- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "0"}, 0.0),  # zero is a given value
        ({"retry-after-ms": "999"}, 0.999),
        ({"retry-after-ms": "", "retry-after": "4"}, 4.0),  # an empty ms header: the other one
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": " 12 "}, 12.0),
        ({"retry-after": "1.5.2"}, None),
        ({"retry-after": "-3"}, None),  # neither delay-seconds nor a date
        ({"retry-after": "Sun, 06 Nov 1994 08:49:37 GMT"}, 0.0),  # RFC 9110's example: the past
        ({"retry-after": "Mon, 99 Nov 1994 08:49:37 GMT"}, None),
        ({"retry-after-ms": "nan-ish"}, None),
    ],
)
def test_more_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers) == seconds


# --- keys kept out of messages and reprs ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Authorization", "Proxy-Authorization", "X-Api-Key", "api-key", "X-GOOG-API-KEY", "x-goog-api-key"]
)
def test_each_key_header_is_redacted_in_any_case(name: str) -> None:
    secret = "s3cr3t-value-42"
    assert name.lower() in SENSITIVE_HEADERS
    assert without_keys(f"echo {secret}!", {name: secret}) == "echo [REDACTED]!"
    shown = repr(SecretHeaders({name: secret, "Accept": "text/event-stream"}))
    assert secret not in shown and "[REDACTED]" in shown and "text/event-stream" in shown


@pytest.mark.parametrize("name", ["Content-Type", "X-Api-Version", "anthropic-version", "Authorization-Info", "Cookie2"])
def test_other_headers_are_left_alone(name: str) -> None:
    value = "visible-value-42"
    assert without_keys(f"echo {value}", {name: value}) == f"echo {value}"
    assert repr(SecretHeaders({name: value})) == repr({name: value})


def test_a_scheme_and_its_token_are_each_redacted() -> None:
    headers = {"Authorization": "Bearer tok-12345678"}
    assert without_keys("a Bearer tok-12345678 b tok-12345678 c", headers) == "a [REDACTED] b [REDACTED] c"
    # A token under 8 characters is not taken out alone, but the whole value is.
    assert without_keys("Basic abc and abc", {"Proxy-Authorization": "Basic abc"}) == "[REDACTED] and abc"


@pytest.mark.parametrize("value", ["", " ", "       "])
def test_an_empty_key_header_redacts_nothing(value: str) -> None:
    assert without_keys("nothing to hide", {"x-api-key": value}) == "nothing to hide"


def test_secret_headers_still_send_the_real_values() -> None:
    headers = SecretHeaders({"x-api-key": "k-12345678"})
    headers["Accept-Encoding"] = "gzip"
    assert dict(headers) == {"x-api-key": "k-12345678", "Accept-Encoding": "gzip"}
    assert repr(headers) == repr({"x-api-key": "[REDACTED]", "Accept-Encoding": "gzip"})


def test_every_key_header_is_redacted_whatever_comes_before_it() -> None:
    headers = {"Accept": "text/event-stream", "X-Api-Key": "first-key-123", "Content-Type": "application/json",
               "Authorization": "Bearer second-key-456"}
    assert without_keys("first-key-123 second-key-456", headers) == "[REDACTED] [REDACTED]"
