"""Errors raised by providers. Each carries the provider's own message and the HTTP status.

Hierarchy::

    ProviderError                  any failure talking to a provider
    ├── AuthenticationError        401 / 403: bad or missing key, no access
    ├── NotFoundError              404: unknown model or wrong base URL
    ├── BadRequestError            400 / 422: the server rejected the request
    │   └── ContextLengthError     the conversation is longer than the model's context
    ├── RateLimitError             429
    ├── ServerError                5xx, or an error event inside a stream
    ├── RedirectError              3xx: never followed (the key must not travel)
    ├── NotAStream                 a 2xx answer that is a web page or JSON, not a stream
    ├── ConnectError               the server could not be reached (DNS, refused, TLS)
    ├── ProviderTimeout            no answer within a timeout
    │   ├── ConnectTimeout         no connection within the connect timeout
    │   ├── FirstTokenTimeout      connected, but no first token in time
    │   ├── IdleTimeout            the stream went silent (keep-alives do not count)
    │   └── DeadlineExceeded       the whole reply took longer than the total deadline
    ├── StreamTooLarge             an event or the whole reply passed its size cap
    └── StreamInterrupted          the stream ended before the provider's terminal signal
"""

from __future__ import annotations

import html
import http
import json
import re
from typing import Any
from urllib.parse import urljoin

from llmchat.providers.vision import VISION_HINT, is_vision_refusal

MAX_MESSAGE = 300
"""Most characters of an error message (a server's text is cut here, with "…")."""


class ProviderError(Exception):
    """A provider request failed.

    Attributes:
        message: the provider's own message (or ours, when it sent none).
        status: the HTTP status code, or None when there was no HTTP response.
        provider: the provider or profile name (e.g. "openai", "groq").
        hint: what the user can do about it, or None.
    """

    hint_default: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        hint: str | None = None,
    ) -> None:
        message = one_line(message, MAX_MESSAGE)
        super().__init__(message)
        self.message = message
        """One line: whitespace (newlines too) folded, cut to :data:`MAX_MESSAGE` characters."""
        self.status = status
        self.provider = provider
        self.hint = hint if hint is not None else self.hint_default
        self.retry_after: float | None = None
        """Seconds the server asked us to wait (``Retry-After`` / ``retry-after-ms``)."""

    def describe(self) -> str:
        """One line for the user: provider, status, the provider's message and a hint, e.g.
        ``openai: HTTP 429: Rate limit reached (wait a moment and try again)``; a message that
        is the status's own phrase follows it directly (``HTTP 500 Internal Server Error (an
        HTML page from the server)``)."""
        parts = [self.provider or "provider"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        phrase = status_phrase(self.status) if self.status is not None else ""
        own = bool(phrase) and (self.message == phrase or self.message.startswith(f"{phrase} ("))
        line = ": ".join(parts) + f"{' ' if own else ': '}{self.message}"
        if self.hint:
            line += f" ({self.hint})"
        return one_line(line, 2 * MAX_MESSAGE)


class AuthenticationError(ProviderError):
    hint_default = "check the API key for this provider"


class NotFoundError(ProviderError):
    hint_default = "check the model name (`llmchat models` lists them) and the base URL"


class BadRequestError(ProviderError):
    pass


class ContextLengthError(BadRequestError):
    hint_default = "start a new conversation or shorten the prompt"


class RateLimitError(ProviderError):
    hint_default = "wait a moment and try again"


class ServerError(ProviderError):
    hint_default = "the provider is having trouble; try again shortly"


class ConnectError(ProviderError):
    hint_default = "check the base URL and that the server is running"


class ProviderTimeout(ProviderError):
    hint_default = "the server is slow or stuck; try again, or raise the timeout in the config"


class ConnectTimeout(ProviderTimeout):
    hint_default = "check the base URL and your network"


class FirstTokenTimeout(ProviderTimeout):
    pass


class IdleTimeout(ProviderTimeout):
    pass


class DeadlineExceeded(ProviderTimeout):
    pass


class RedirectError(ProviderError):
    """A 3xx answer. Never followed: the request carries the API key, which must not travel
    to another address (the OpenAI and Anthropic SDKs do not follow either)."""

    hint_default = (
        "llmchat does not follow redirects, so the key is not sent elsewhere: "
        "if the new address is right, set the base URL to it"
    )


class NotAStream(ProviderError):
    """A 2xx answer whose body is a web page or a JSON object that is not a reply, where an
    event stream was expected (a captive portal, a login page, a wrong base URL)."""

    hint_default = "a captive portal or login page, or a base URL that points elsewhere: check the base URL and your network"


class StreamTooLarge(ProviderError):
    """An SSE event / NDJSON line or the whole reply passed its size cap (memory stays bounded)."""


class StreamInterrupted(ProviderError):
    """The stream ended before the provider's terminal signal; the partial reply is kept."""


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "maximum context",
    "too many tokens",
    "prompt is too long",  # Anthropic: "prompt is too long: 210000 tokens > 200000 maximum"
    "exceed context limit",  # Anthropic: "input length and `max_tokens` exceed context limit"
    "exceed_context_size_error",  # llama.cpp's llama-server: the error's `type`
    "exceeds the available context size",  # llama.cpp: "request (N tokens) exceeds the ..."
    "contextwindowexceedederror",  # LiteLLM: "litellm.ContextWindowExceededError: ..."
    "context_window_exceeded",
    "maximum model length",  # vLLM: "... is longer than the maximum model length of N"
    "is too long and exceeds limit",  # vLLM: "Input prompt (N tokens) is too long and exceeds limit of M"
    "exceeds the maximum number of tokens",  # Gemini: "The input token count (N) exceeds the maximum ..."
    "reduce the length of the messages",  # Groq, OpenAI: "Please reduce the length of the messages"
)
"""Lower-case pieces of the context-overflow messages (and error types or codes) of OpenAI,
Anthropic, llama.cpp, vLLM, LiteLLM, OpenRouter ("maximum context length"), Ollama ("the
input length exceeds the context length"), Groq and Gemini."""


def is_context_overflow(text: str) -> bool:
    """True when an error's text (message, code, type or whole body) says the conversation
    is longer than the model's context (:data:`_CONTEXT_MARKERS`)."""
    lowered = text.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


HTML_PAGE = "an HTML page from the server"
"""What an error body that is a web page is reported as (its markup is never shown)."""

_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def one_line(text: str, width: int) -> str:
    """`text` with its whitespace (newlines too) folded to single spaces, cut to `width`
    characters with "…". (Terminal safety is the front-ends' job: llmchat.safety.)"""
    limit = 8 * width + 1024  # an 8 MiB error event costs no more than what is kept of it
    cut = len(text) > limit
    line = " ".join((text[:limit] if cut else text).split())
    if len(line) > width or (cut and len(line) == width):
        return line[: max(width - 1, 0)] + "…"
    return line + "…" if cut else line


def is_html(text: str) -> bool:
    """True when a body is a web page (an nginx, proxy or captive-portal page), not a message."""
    head = text.lstrip()[:1024].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body", "<?xml")) or (
        head.startswith("<") and ("<html" in head or "<body" in head or "<title" in head)
    )


def html_title(text: str) -> str | None:
    """The ``<title>`` of a web page, unescaped and on one line (None when it has none)."""
    match = _TITLE.search(text[:65536])
    title = one_line(html.unescape(match.group(1)), 80) if match else ""
    return title or None


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status (RFC 9110), e.g. 500 -> "Internal Server Error";
    "" for a status without one."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_message(body: bytes | str) -> tuple[str, str | None]:
    """Extract (message, code) from an error body.

    Understands the OpenAI shape ``{"error": {"message": ..., "code": ..., "type": ...}}``,
    Anthropic's ``{"type": "error", "error": {"type": ..., "message": ...}}`` (code = the
    error type), Ollama's ``{"error": "text"}``, ``{"message": ...}``, ``{"detail": ...}``
    and plain text. A web page gives :data:`HTML_PAGE`, never its markup. The message is
    one line (whitespace folded) of at most :data:`MAX_MESSAGE` characters.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if text.startswith("data:"):  # an error sent as an SSE event (LiteLLM's streaming 500s)
        text = text.split("\n\n", 1)[0].removeprefix("data:").strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        if is_html(text):
            return HTML_PAGE, None
        return (one_line(text, MAX_MESSAGE) or "no message"), None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail") or err.get("error")
            code = err.get("code") or err.get("type")
            if isinstance(code, int):  # an HTTP status (llama.cpp, vLLM, Google): the name says more
                code = err.get("type") or err.get("status") or code
            if message:
                message = _inner_message(str(message))
                return one_line(message, MAX_MESSAGE), str(code) if code is not None else None
        elif isinstance(err, str) and err:
            return one_line(err, MAX_MESSAGE), None
        for key in ("message", "detail"):
            if data.get(key):
                return one_line(str(data[key]), MAX_MESSAGE), None
    return one_line(text, MAX_MESSAGE) or "no message", None


def _inner_message(message: str) -> str:
    """The text inside a message that is itself an error object printed as a Python dict or
    JSON (LiteLLM: ``"{'error': '/chat/completions: Invalid model name ...'}"``), else
    `message` unchanged."""
    stripped = message.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")) or len(stripped) > 20_000:
        return message
    import ast

    try:
        inner = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        try:
            inner = json.loads(stripped)
        except ValueError:
            return message
    if isinstance(inner, dict):
        value = inner.get("error", inner.get("message"))
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            return value
    return message


def error_for_status(status: int, body: bytes | str, provider: str) -> ProviderError:
    """Map an HTTP error status and body to the matching :class:`ProviderError` subclass,
    with a hint that says what to do (shown after the provider's own message)."""
    message, code = error_message(body)
    page = message == HTML_PAGE
    if page or message == "no message":  # "HTTP 500: Internal Server Error (an HTML page ...)"
        phrase = status_phrase(status)
        if phrase:
            message = f"{phrase} ({message})" if page else phrase
    kind: type[ProviderError]
    hint = None
    lowered = f"{message} {code or ''}".lower()
    if status in (401, 403) or (status == 400 and "api_key_invalid" in str(body).lower()):
        kind = AuthenticationError  # Google answers a bad key with 400 INVALID_ARGUMENT, API_KEY_INVALID
        if status == 403 or "permission" in lowered or "access" in lowered:
            hint = "the key is valid but has no access to this model or endpoint"
    elif (status < 500 and status != 429 and is_vision_refusal(f"{lowered} {str(body)[:4096]}")) or (
        status >= 500 and is_vision_refusal(message)
    ):
        kind, hint = BadRequestError, VISION_HINT  # not retried: the same images fail again
    elif status == 404:
        kind = NotFoundError
        if page or "not found" == message.strip().lower():
            hint = "nothing answers at this path: check the base URL (OpenAI-compatible ones end in /v1)"
    elif status == 429:
        kind = RateLimitError
        if any(word in lowered for word in ("insufficient_quota", "quota", "credit", "billing")):
            hint = "the account is out of quota or credits: check its billing"
    elif status in (400, 413, 422):
        # the whole body too: llama.cpp's numeric `code: 400` hides its `type` from `code`
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        overflow = is_context_overflow(lowered) or is_context_overflow(text[:4096])
        kind = ContextLengthError if overflow else BadRequestError
    elif status >= 500:
        kind = ServerError
    else:
        kind = ProviderError
    error = kind(message, status=status, provider=provider, hint=hint)
    error.retry_after = retry_info_delay(body)
    return error


def retry_info_delay(body: bytes | str) -> float | None:
    """Seconds from a Google API error's ``google.rpc.RetryInfo`` detail (``{"error":
    {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay":
    "46s"}]}}``, a protobuf Duration in seconds), or None when the body has none."""
    try:
        data = json.loads(body)
        details = data["error"]["details"]
    except (ValueError, TypeError, KeyError):
        return None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            try:
                return max(0.0, float(delay.removesuffix("s")))
            except ValueError:
                return None
    return None


def connect_error(url: str, exc: Exception, provider: str) -> ConnectError:
    """A ConnectError for `url` whose hint names the likely cause: TLS, DNS, a bad URL, or
    a server that is not running."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        hint = "TLS failed: check the base URL's https setup (a proxy may need SSL_CERT_FILE)"
    elif "name or service not known" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
        hint = "the host name does not resolve: check the base URL and your network"
    elif "unreachable" in lowered:
        hint = "the network is unreachable: check your connection"
    elif "protocol" in lowered or "scheme" in lowered:
        hint = "the base URL must start with http:// or https://"
    else:
        hint = None
    return ConnectError(f"cannot reach {url}: {text}", provider=provider, hint=hint)


def in_band_error(message: str, code: str | None, provider: str) -> ProviderError:
    """The error for an error event inside a stream (Responses ``error`` / ``response.failed``,
    a Gemini error chunk): a :class:`ContextLengthError` (status 400) for a context overflow, a
    :class:`RateLimitError` (status 429) for a rate limit or exhausted quota, else a
    :class:`ServerError` (no status). `code` is the event's error code or type, if any."""
    lowered = f"{message} {code or ''}".lower()
    if is_context_overflow(lowered):
        return ContextLengthError(message, status=400, provider=provider)
    if any(word in lowered for word in ("rate_limit", "rate limit", "resource_exhausted")):
        return RateLimitError(message, status=429, provider=provider)
    return ServerError(message, provider=provider)


def not_a_stream(head: bytes, content_type: str, provider: str) -> NotAStream | None:
    """The error for a 2xx body that is a web page or a JSON document where an event stream
    was expected (`head`: its first bytes), or None when it is neither.

    A captive portal or login page answers 200 with HTML; a base URL that points at another
    API answers with JSON. Both used to end as "the connection closed".
    """
    text = head.decode("utf-8", "replace").strip()
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/html" or is_html(text):
        title = html_title(text)
        page = f"an HTML page titled {title!r}" if title else "an HTML page"
        return NotAStream(f"the server answered with {page} instead of an event stream",
                          status=200, provider=provider)
    if kind == "application/json" or text.startswith(("{", "[")):
        message, _ = error_message(text) if text.startswith("{") else ("", None)
        said = f": {message}" if message and not message.startswith(("{", "[")) else ""
        return NotAStream(f"the server answered with a JSON document instead of an event stream{said}",
                          status=200, provider=provider)
    return None


def redirect_error(status: int, location: str | None, url: str, provider: str) -> RedirectError:
    """A :class:`RedirectError` for a 3xx answer to `url` that names where it points
    (`location` resolved against `url`). The redirect is never followed."""
    location = (location or "").strip()
    where = f"to {urljoin(url, location)}" if location else "without saying where (no Location header)"
    phrase = status_phrase(status)
    return RedirectError(f"the server redirected the request {where}{f' ({phrase})' if phrase else ''}",
                         status=status, provider=provider)
