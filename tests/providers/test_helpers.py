"""The providers' public helpers, each with a table of its own: error bodies to (message, code),
statuses to classes and hints, Retry-After forms, retry statuses and back-off, key redaction,
HTML pages. (Each is also reached through the wire tests, but only on their main path.)"""

from __future__ import annotations

import pytest

from llmchat.providers.errors import (
    MAX_MESSAGE,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ContextLengthError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    error_for_status,
    error_message,
    html_title,
    is_html,
    one_line,
    retry_info_delay,
    status_phrase,
)
from llmchat.providers.policy import RETRY_STATUSES, StreamPolicy, backoff_delay, retry_after
from llmchat.providers.redaction import without_keys

# --- error bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": {"message": "bad key", "code": "invalid_api_key", "type": "auth"}}', ("bad key", "invalid_api_key")),
        ('{"error": {"message": "bad key", "type": "invalid_request_error"}}', ("bad key", "invalid_request_error")),
        ('{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', ("Overloaded", "overloaded_error")),
        ('{"error": "model \\"x\\" not found"}', ('model "x" not found', None)),  # Ollama
        ('{"message": "plain message"}', ("plain message", None)),
        ('{"detail": "Not authenticated"}', ("Not authenticated", None)),  # FastAPI
        ('{"error": {"detail": "from detail"}}', ("from detail", None)),
        ('{"error": {"message": "llama", "code": 400, "type": "exceed_context_size_error"}}',
         ("llama", "exceed_context_size_error")),  # a numeric code: the type says more
        ('{"error": {"message": "google", "code": 429, "status": "RESOURCE_EXHAUSTED"}}', ("google", "RESOURCE_EXHAUSTED")),
        ('{"error": {"message": "only a number", "code": 500}}', ("only a number", "500")),
        ('data: {"error": {"message": "as an event"}}\n\n', ("as an event", None)),  # LiteLLM's streamed 500
        ("upstream connect error\n  or disconnect", ("upstream connect error or disconnect", None)),
        ("", ("no message", None)),
        ("   \n ", ("no message", None)),
        ('{"error": {}}', ('{"error": {}}', None)),
        ("[1, 2]", ("[1, 2]", None)),
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         ("an HTML page from the server", None)),
    ],
)
def test_error_bodies(body: str, expected: tuple[str, str | None]) -> None:
    assert error_message(body) == expected
    assert error_message(body.encode()) == expected


def test_error_messages_are_one_line_of_at_most_max_message() -> None:
    message, _ = error_message('{"error": {"message": "' + "word " * 500 + '"}}')
    assert len(message) == MAX_MESSAGE and message.endswith("…") and "\n" not in message


# --- statuses to classes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "hint"),
    [
        (400, '{"error": {"message": "x"}}', BadRequestError, None),
        (400, '{"error": {"message": "API key not valid", "details": [{"reason": "API_KEY_INVALID"}]}}',
         AuthenticationError, "check the API key for this provider"),  # Google
        (401, '{"error": {"message": "x"}}', AuthenticationError, "check the API key for this provider"),
        (403, '{"error": {"message": "x"}}', AuthenticationError, "the key is valid but has no access"),
        (401, '{"error": {"message": "no permission for this"}}', AuthenticationError, "the key is valid but has no access"),
        (404, '{"error": {"message": "no such model"}}', NotFoundError, "check the model name"),
        (404, "Not Found", NotFoundError, "nothing answers at this path"),
        (404, "<html><body>404</body></html>", NotFoundError, "nothing answers at this path"),
        (408, '{"error": {"message": "x"}}', ProviderError, None),
        (413, '{"error": {"message": "x"}}', BadRequestError, None),
        (422, '{"error": {"message": "x"}}', BadRequestError, None),
        (400, '{"error": {"message": "x", "code": 400, "type": "exceed_context_size_error"}}', ContextLengthError, None),
        (429, '{"error": {"message": "x"}}', RateLimitError, "wait a moment"),
        (429, '{"error": {"message": "You have no credits left"}}', RateLimitError, "billing"),
        (499, '{"error": {"message": "x"}}', ProviderError, None),
        (500, '{"error": {"message": "x"}}', ServerError, "try again shortly"),
        (599, '{"error": {"message": "x"}}', ServerError, "try again shortly"),
    ],
)
def test_statuses_to_classes_and_hints(status: int, body: str, kind: type[ProviderError], hint: str | None) -> None:
    error = error_for_status(status, body, "p")
    assert type(error) is kind and error.status == status and error.provider == "p"
    if hint is None:
        assert error.hint is None or type(error).hint_default == error.hint
    else:
        assert error.hint is not None and hint in error.hint


def test_an_empty_or_html_error_body_is_named_by_its_status_phrase() -> None:
    assert error_for_status(500, "", "p").message == "Internal Server Error"
    assert error_for_status(502, "<!DOCTYPE html><html>...</html>", "p").message == (
        "Bad Gateway (an HTML page from the server)")
    assert error_for_status(599, "", "p").message == "no message"  # no phrase for 599
    assert (status_phrase(429), status_phrase(529), status_phrase(299)) == ("Too Many Requests", "", "")


def test_describe_is_provider_status_message_and_hint_on_one_line() -> None:
    error = error_for_status(401, '{"error": {"message": "bad\\nkey"}}', "groq")
    assert error.describe() == "groq: HTTP 401: bad key (check the API key for this provider)"
    assert ConnectError("refused", provider="").describe().startswith("provider: refused (")
    assert ProviderError("m", provider="x", hint="").describe() == "x: m"


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "46s"}]}}', 46.0),
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]}}', 1.5),
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.Help"}]}}', None),
        ('{"error": {"details": "nope"}}', None),
        ('{"error": {}}', None),
        ("not json", None),
    ],
)
def test_google_retry_info(body: str, seconds: float | None) -> None:
    assert retry_info_delay(body) == seconds
    assert error_for_status(429, body, "gemini").retry_after == seconds


# --- HTML pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "page"),
    [
        ("<!DOCTYPE html><html></html>", True),
        ("  \n<html lang=en>", True),
        ("<HEAD><title>x</title>", True),
        ("<body>hi</body>", True),
        ('<?xml version="1.0"?><html>', True),
        ("<div><title>Portal</title></div>", True),
        ("<div>no page markers</div>", False),
        ('{"error": "<html> inside json"}', False),
        ("plain text with <html> later", False),
    ],
)
def test_is_html(text: str, page: bool) -> None:
    assert is_html(text) is page


def test_html_title() -> None:
    assert html_title("<html><head><TITLE lang=en>  502 &amp; \n Bad Gateway </TITLE>") == "502 & Bad Gateway"
    assert html_title("<html><title></title></html>") is None
    assert html_title("<html><body>none</body></html>") is None
    assert len(html_title("<title>" + "t" * 200 + "</title>") or "") == 80


@pytest.mark.parametrize(("width", "expected"), [(5, "a b c"), (4, "a b…"), (1, "…")])
def test_error_one_line_folds_and_cuts(width: int, expected: str) -> None:
    assert one_line(" a\n b\t c ", width) == expected


# --- Retry-After and back-off ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "-5"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one wins
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": ""}, None),
        ({}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers) == seconds


def test_retry_after_as_an_http_date_in_the_future() -> None:
    seconds = retry_after({"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert seconds is not None and seconds > 365 * 24 * 3600  # decades ahead, counted from now


def test_which_statuses_are_retried() -> None:
    assert RETRY_STATUSES == {408, 409, 429, 529} | set(range(500, 600))  # DESIGN: 408/409/429/5xx/529


def test_backoff_doubles_with_jitter_unless_the_server_said() -> None:
    policy = StreamPolicy(backoff=1.0)
    error = ServerError("x", status=503)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delays = [backoff_delay(policy, attempt, error) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays) and len(set(delays)) > 1
    error.retry_after = 3.0
    assert backoff_delay(policy, 3, error) == 3.0
    error.retry_after = 0.0
    assert backoff_delay(policy, 2, error) == 0.0  # zero is a given value, not "none"


# --- keys never echoed ------------------------------------------------------------------------


def test_without_keys_redacts_each_sensitive_header_value_and_bearer_token() -> None:
    headers = {"Authorization": "Bearer sk-abcdefgh123", "x-api-key": "ant-key-12345678", "x-goog-api-key": "AIzaSy-0000",
               "api-key": "azure-key-999", "Content-Type": "application/json-long-value", "X-Short": "short"}
    text = ("echo Bearer sk-abcdefgh123 and sk-abcdefgh123, ant-key-12345678, AIzaSy-0000, azure-key-999, "
            "application/json-long-value")
    out = without_keys(text, headers)
    for secret in ("sk-abcdefgh123", "ant-key-12345678", "AIzaSy-0000", "azure-key-999"):
        assert secret not in out
    assert out.count("[REDACTED]") == 5 and out.endswith(", application/json-long-value")  # other headers kept
    assert without_keys("key k1234567", {"x-api-key": "k1234567"}) == "key [REDACTED]"
    assert without_keys("key k123456", {"x-api-key": "k123456"}) == "key k123456"  # under 8: too short to match safely
