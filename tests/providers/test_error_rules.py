"""Error helpers row by row, written against the mutants of llmchat/providers/errors.py that
lived (`python tools/mutation.py providers.errors`): the error of an in-band error event (each
word that marks a rate limit, a context overflow, neither) and the hint of each kind of
connection failure, one cause per row."""

from __future__ import annotations

import pytest

from llmchat.providers.errors import (
    ConnectError,
    ContextLengthError,
    ProviderError,
    RateLimitError,
    ServerError,
    connect_error,
    in_band_error,
)


@pytest.mark.parametrize(
    ("message", "code", "kind", "status"),
    [
        ("Rate limit reached for gpt-4o", None, RateLimitError, 429),
        ("slow down", "rate_limit_exceeded", RateLimitError, 429),
        ("Too many", "RATE_LIMIT_ERROR", RateLimitError, 429),  # any case
        ("Quota exceeded.", "RESOURCE_EXHAUSTED", RateLimitError, 429),  # Gemini's status
        ("resource_exhausted: try later", None, RateLimitError, 429),
        ("Your input exceeds the context window of this model.", "context_length_exceeded", ContextLengthError, 400),
        ("prompt is too long: 210000 tokens > 200000 maximum", None, ContextLengthError, 400),
        ("This model's maximum context length is 8192 tokens", "RATE_LIMIT", ContextLengthError, 400),  # overflow first
        ("The model is overloaded.", "UNAVAILABLE", ServerError, None),
        ("The model is overloaded.", None, ServerError, None),
        ("limit", "rate", ServerError, None),  # neither word alone
    ],
)
def test_in_band_errors(message: str, code: str | None, kind: type[ProviderError], status: int | None) -> None:
    error = in_band_error(message, code, "gem")
    assert type(error) is kind
    assert (error.message, error.status, error.provider) == (message, status, "gem")


def test_an_in_band_code_alone_can_mark_an_overflow() -> None:
    assert type(in_band_error("Bad request.", "context_length_exceeded", "p")) is ContextLengthError
    assert type(in_band_error("Bad request.", None, "p")) is ServerError


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("certificate verify failed: unable to get local issuer", "TLS failed"),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "TLS failed"),
        ("TLS handshake timed out", "TLS failed"),
        ("[Errno -2] Name or service not known", "the host name does not resolve"),
        ("[Errno 8] nodename nor servname provided, or not known", "the host name does not resolve"),
        ("getaddrinfo failed", "the host name does not resolve"),
        ("[Errno 101] Network is unreachable", "the network is unreachable"),
        ("Request URL has an unsupported protocol 'ftp://'.", "the base URL must start with http"),
        ("unknown url scheme", "the base URL must start with http"),
        ("[Errno 111] Connection refused", None),
    ],
)
def test_each_connection_failure_has_its_hint(text: str, hint: str | None) -> None:
    error = connect_error("http://127.0.0.1:9/v1/chat/completions", OSError(text), "local")
    assert isinstance(error, ConnectError) and error.provider == "local" and error.status is None
    assert error.message == f"cannot reach http://127.0.0.1:9/v1/chat/completions: {text}"
    if hint is None:
        assert error.hint == ConnectError.hint_default
    else:
        assert error.hint is not None and error.hint.startswith(hint)


def test_a_connection_failure_without_text_is_named_by_its_type() -> None:
    error = connect_error("http://h/x", TimeoutError(), "p")
    assert error.message == "cannot reach http://h/x: TimeoutError"
