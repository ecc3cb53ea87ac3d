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


HTML_HINT = "a captive portal or login page"
PAGE = "the server answered with an HTML page"
JSON_DOC = "the server answered with a JSON document instead of an event stream"


@pytest.mark.parametrize(
    ("head", "content_type", "message"),
    [
        (b"<html><head><title>Sign in</title></head>", "text/html", f"{PAGE} titled 'Sign in' instead of an event stream"),
        (b"<html><body>no title</body></html>", "text/html; charset=utf-8", f"{PAGE} instead of an event stream"),
        (b"Welcome to the hotel network", "Text/HTML; charset=UTF-8", f"{PAGE} instead of an event stream"),
        (b"<html><title>Caf\xe9</title>", "", f"{PAGE} titled 'Caf\ufffd' instead of an event stream"),
        (b'{"detail": "Not Found"}', "application/json", f"{JSON_DOC}: Not Found"),
        (b'{"object": "list", "data": []}', "", JSON_DOC),  # no message in it
        (b"[1, 2]", "text/plain", JSON_DOC),
        (b"null", "application/json; charset=utf-8", JSON_DOC),
        (b"  ok  ", "Application/JSON", JSON_DOC),
        (b"data: not json", "text/event-stream", None),
        (b"plain words", "text/plain", None),
        (b"", "", None),
    ],
)
def test_a_2xx_body_that_is_not_a_stream(head: bytes, content_type: str, message: str | None) -> None:
    from llmchat.providers.errors import NotAStream, not_a_stream

    error = not_a_stream(head, content_type, "portal")
    if message is None:
        assert error is None
    else:
        assert type(error) is NotAStream and error.message == message
        assert (error.status, error.provider) == (200, "portal") and error.hint and HTML_HINT in error.hint


def test_a_title_is_read_from_the_first_64_kib_only() -> None:
    from llmchat.providers.errors import html_title

    page = "<html>" + " " * (65536 - 6) + "<title>late</title>"
    assert html_title(page) is None
    assert html_title("<html>" + " " * (65536 - 26) + "<title>in</title>") == "in"


def test_a_title_cut_by_the_64_kib_window_is_not_read() -> None:
    from llmchat.providers.errors import html_title

    prefix = "<html><title>x"
    page = prefix + " " * (65530 - len(prefix)) + "</title>"  # "</title" ends one past the window
    assert html_title(page) is None
    assert (html_title(page[1:]) or "").startswith("x")  # one character earlier: inside


def test_hints_name_the_setting_to_check() -> None:
    dns = connect_error("http://nohost/v1", OSError("[Errno -2] Name or service not known"), "p")
    assert dns.hint == "the host name does not resolve: check the base URL and your network"
