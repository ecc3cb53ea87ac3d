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


# --- status + body -> class and exact hint, one branch per row ----------------------------------

from llmchat.providers.errors import (  # noqa: E402
    MAX_MESSAGE,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    error_for_status,
    error_message,
    is_context_overflow,
    is_html,
    one_line,
    redirect_error,
    retry_info_delay,
)
from llmchat.providers.vision import VISION_HINT  # noqa: E402

NO_ACCESS = "the key is valid but has no access to this model or endpoint"
NO_PATH = "nothing answers at this path: check the base URL (OpenAI-compatible ones end in /v1)"
BILLING = "the account is out of quota or credits: check its billing"
VISION = '{"error": {"message": "This model does not support image input"}}'


def body(message: str, code: str | None = None, **more: str) -> str:
    import json

    return json.dumps({"error": {"message": message, **({"code": code} if code else {}), **more}})


@pytest.mark.parametrize(
    ("status", "text", "kind", "hint"),
    [
        (401, body("bad key"), AuthenticationError, AuthenticationError.hint_default),
        (403, body("bad key"), AuthenticationError, NO_ACCESS),
        (401, body("No permission"), AuthenticationError, NO_ACCESS),
        (401, body("denied", "PERMISSION_DENIED"), AuthenticationError, NO_ACCESS),  # the code counts too
        (401, body("Access to this model is restricted"), AuthenticationError, NO_ACCESS),
        (400, body("API key not valid.", details="API_KEY_INVALID"), AuthenticationError, AuthenticationError.hint_default),
        (400, body("API key not valid."), BadRequestError, None),
        (404, body("model not found"), NotFoundError, NotFoundError.hint_default),
        (404, "Not Found", NotFoundError, NO_PATH),
        (404, "  NOT FOUND \n", NotFoundError, NO_PATH),
        (404, "<html><body>gone</body></html>", NotFoundError, NO_PATH),
        (429, body("Too many requests"), RateLimitError, RateLimitError.hint_default),
        (429, body("Too many requests", "insufficient_quota"), RateLimitError, BILLING),  # the code alone
        (429, body("Quota exceeded for this month"), RateLimitError, BILLING),
        (429, body("Out of credit"), RateLimitError, BILLING),
        (429, body("Check your billing details"), RateLimitError, BILLING),
        (400, body("x", "context_length_exceeded"), ContextLengthError, ContextLengthError.hint_default),
        (413, body("prompt is too long: 210000 tokens > 200000 maximum"), ContextLengthError, None),
        (422, body("Input prompt (9000 tokens) is too long and exceeds limit of 8192"), ContextLengthError, None),
        (400, body("invalid", param="context_length_exceeded"), ContextLengthError, None),  # elsewhere in the body
        (413, body("Payload Too Large"), BadRequestError, None),
        (408, body("x"), ProviderError, None),
        (409, body("x"), ProviderError, None),
        (410, body("x"), ProviderError, None),
        (499, body("x"), ProviderError, None),
        (500, body("x"), ServerError, ServerError.hint_default),
        (503, body("x"), ServerError, ServerError.hint_default),
        # a model that takes no images: a bad request, not retried, whatever the 4xx (but 429) or 5xx
        (400, VISION, BadRequestError, VISION_HINT),
        (404, VISION, BadRequestError, VISION_HINT),
        (422, VISION, BadRequestError, VISION_HINT),
        (500, VISION, BadRequestError, VISION_HINT),
        (503, VISION, BadRequestError, VISION_HINT),
        (429, VISION, RateLimitError, RateLimitError.hint_default),
        (401, VISION, AuthenticationError, AuthenticationError.hint_default),
        (400, body("invalid", param="does not support image input"), BadRequestError, VISION_HINT),  # 4xx: the body
        (500, body("invalid", param="does not support image input"), ServerError, ServerError.hint_default),  # 5xx: the message
    ],
)
def test_each_status_and_body_to_its_class_and_hint(status: int, text: str, kind: type[ProviderError],
                                                    hint: str | None) -> None:
    for given in (text, text.encode()):
        error = error_for_status(status, given, "p")
        assert type(error) is kind and error.status == status and error.provider == "p"
        assert error.hint == (hint if hint is not None else kind.hint_default)


@pytest.mark.parametrize(("pad", "overflow"), [(0, True), (1, False)])
def test_an_overflow_marker_is_looked_for_in_the_bodys_first_4096_characters(pad: int, overflow: bool) -> None:
    head = '{"error": {"message": "x", "pad": "'
    tail = '", "param": "too many tokens"}}'
    filler = 4096 - len(head) - len('", "param": "too many tokens')  # the marker ends at 4096
    text = head + "p" * (filler + pad) + tail
    assert text.index("too many tokens") + len("too many tokens") == 4096 + pad
    assert (type(error_for_status(400, text, "p")) is ContextLengthError) is overflow


@pytest.mark.parametrize(("pad", "refusal"), [(0, True), (1, False)])
def test_a_vision_refusal_is_looked_for_in_the_bodys_first_4096_characters(pad: int, refusal: bool) -> None:
    head = '{"error": {"message": "x", "pad": "'
    marker = "no vision"
    filler = 4096 - len(head) - len('", "param": "') - len(marker)
    text = head + "p" * (filler + pad) + '", "param": "' + marker + '"}}'
    assert text.index(marker) + len(marker) == 4096 + pad
    assert (error_for_status(400, text, "p").hint == VISION_HINT) is refusal


@pytest.mark.parametrize(
    "message",
    [
        "Error code: context_length_exceeded",  # OpenAI's code
        "the input length exceeds the context length",  # Ollama
        "This endpoint's maximum context is 131072",  # OpenRouter
        "Too many tokens in the request",
        "prompt is too long: 210000 tokens > 200000 maximum",  # Anthropic
        "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000",  # Anthropic
        "exceed_context_size_error",  # llama.cpp's type
        "request (5120 tokens) exceeds the available context size (4096 tokens)",  # llama.cpp
        "litellm.ContextWindowExceededError: ...",  # LiteLLM
        "context_window_exceeded",
        "is longer than the maximum model length of 4096",  # vLLM
        "Input prompt (9000 tokens) is too long and exceeds limit of 8192",  # vLLM
        "The input token count (1200000) exceeds the maximum number of tokens allowed",  # Gemini
        "Please reduce the length of the messages or completion.",  # Groq
    ],
)
def test_each_servers_overflow_wording_is_an_overflow(message: str) -> None:
    assert is_context_overflow(message) and is_context_overflow(message.upper())
    assert type(error_for_status(400, body(message), "p")) is ContextLengthError
    assert type(in_band_error(message, None, "p")) is ContextLengthError


@pytest.mark.parametrize("message", ["context is fine", "too many requests", "the prompt is short", "maximum tokens"])
def test_other_bad_requests_are_not_overflows(message: str) -> None:
    assert not is_context_overflow(message)


# --- error bodies: the less common shapes --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('data: {"error": {"message": "first"}}\n\ndata: [DONE]\n\n', ("first", None)),  # only the first event
        ("data: oops", ("oops", None)),
        ('{"error": null, "detail": "from the top level"}', ("from the top level", None)),
        ('{"error": 5, "message": "top message"}', ("top message", None)),
        ('{"error": {}, "detail": "beside an empty error"}', ("beside an empty error", None)),
        ('{"error": ""}', ('{"error": ""}', None)),
        ('{"error": {"error": "nested text"}}', ("nested text", None)),
        ('{"error": {"message": "{\'message\': \'inner text\'}"}}', ("inner text", None)),
        ('{"error": {"message": "{\'error\': {\'message\': \'deep\'}}"}}', ("deep", None)),
        ('{"error": {"message": "{\\"error\\": \\"json inner\\", \\"ok\\": true}"}}', ("json inner", None)),
        ('{"error": {"message": "{\'error\': \'in\'} # note"}}', ("{'error': 'in'} # note", None)),  # not only a dict
        ('{"error": {"message": "see {\'error\': \'in\'}"}}', ("see {'error': 'in'}", None)),
        ('{"error": {"message": "{\'error\': \'   \'}"}}', ("{'error': ' '}", None)),  # a blank inner text
        ('{"error": {"message": "{\'error\': 5}"}}', ("{'error': 5}", None)),
        ('{"error": {"message": "{not a dict}"}}', ("{not a dict}", None)),
    ],
)
def test_less_common_error_bodies(text: str, expected: tuple[str, str | None]) -> None:
    assert error_message(text) == expected


@pytest.mark.parametrize(("size", "inner"), [(20_000, True), (20_001, False)])
def test_an_inner_error_object_is_read_up_to_20000_characters(size: int, inner: bool) -> None:
    import json

    start = "{'error': 'inner', 'pad': '"
    printed = start + "p" * (size - len(start) - 2) + "'}"
    assert len(printed) == size
    message, _ = error_message(json.dumps({"error": {"message": printed}}))
    assert (message == "inner") is inner
    if not inner:
        assert message.startswith("{'error': 'inner'") and len(message) == MAX_MESSAGE


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "-5s"}]}}', 0.0),
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}}', None),
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo"}]}}', None),
        ('{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": 3}]}}', 3.0),
        ('{"error": {"details": [{"@type": "google.rpc.RetryInfoX", "retryDelay": "3s"}]}}', None),
        ('{"error": {"details": [{"retryDelay": "3s"}]}}', None),  # no type: not a RetryInfo
        ('{"error": {"details": [5, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}, '
         '{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}]}}', 7.0),  # the first one
        ('{"error": "text"}', None),
        ("[1]", None),
    ],
)
def test_more_retry_info_forms(text: str, seconds: float | None) -> None:
    assert retry_info_delay(text) == seconds


# --- one line, HTML, redirects, describe ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("abcdefghij", 10, "abcdefghij"),  # exactly the width
        ("abcdefghijk", 10, "abcdefghi…"),  # one more
        ("abc", 0, "…"),
        ("abc" + " " * 1101, 10, "abc"),  # exactly 8 * width + 1024 characters: read whole
        ("abc" + " " * 1102, 10, "abc…"),  # one more: cut, and the cut is marked
        ("abcdefghij" + " " * 1095, 10, "abcdefghi…"),  # cut, and exactly the width left
    ],
)
def test_one_line_at_its_limits(text: str, width: int, expected: str) -> None:
    assert one_line(text, width) == expected


@pytest.mark.parametrize(
    ("text", "page"),
    [
        ("<p>x</p><HTML lang=en>", True),
        ("<p>x</p><Body>", True),
        ("<p>x</p><TITLE>t</TITLE>", True),
        ("<HEAD>", True),
        ("<?XML version='1.0'?>", True),
        ("<!doctype HTML>", True),
        ("<p>" + "x" * (1024 - 3 - 5) + "<html", True),  # "<html" ends at the 1024th character
        ("<p>" + "x" * (1024 - 3 - 4) + "<html", False),  # one past it
        ("<p>just a paragraph</p>", False),
        ("x <html>", False),
    ],
)
def test_is_html_markers_and_window(text: str, page: bool) -> None:
    assert is_html(text) is page


@pytest.mark.parametrize(
    ("status", "location", "message"),
    [
        (301, "/v2", "the server redirected the request to http://h/v2 (Moved Permanently)"),
        (308, "https://other.example/v1/x", "the server redirected the request to https://other.example/v1/x (Permanent Redirect)"),
        (302, "  ", "the server redirected the request without saying where (no Location header) (Found)"),
        (399, None, "the server redirected the request without saying where (no Location header)"),  # no phrase
        (399, "next", "the server redirected the request to http://h/v1/next"),
    ],
)
def test_redirect_messages(status: int, location: str | None, message: str) -> None:
    error = redirect_error(status, location, "http://h/v1/chat", "p")
    assert error.message == message and error.status == status and error.provider == "p"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ProviderError("Internal Server Error", status=500, provider="p"), "p: HTTP 500 Internal Server Error"),
        (ProviderError("Internal Server Error (an HTML page from the server)", status=500, provider="p"),
         "p: HTTP 500 Internal Server Error (an HTML page from the server)"),
        (ProviderError("Internal Server Errors", status=500, provider="p"), "p: HTTP 500: Internal Server Errors"),
        (ProviderError("Bad Gateway", status=500, provider="p"), "p: HTTP 500: Bad Gateway"),  # another's phrase
        (ProviderError("x", status=599, provider="p"), "p: HTTP 599: x"),
        (ProviderError("x"), "provider: x"),
        (ServerError("x"), "provider: x (the provider is having trouble; try again shortly)"),
        (ServerError("x", hint="do this"), "provider: x (do this)"),
    ],
)
def test_describe(error: ProviderError, line: str) -> None:
    assert error.describe() == line


def test_a_message_and_a_description_are_cut_at_their_widths() -> None:
    assert len(ProviderError("m" * MAX_MESSAGE).message) == MAX_MESSAGE
    assert ProviderError("m" * MAX_MESSAGE).message == "m" * MAX_MESSAGE
    assert ProviderError("m" * (MAX_MESSAGE + 1)).message == "m" * (MAX_MESSAGE - 1) + "…"
    line = ProviderError("m" * MAX_MESSAGE, provider="p", hint="h" * 400).describe()
    assert len(line) == 2 * MAX_MESSAGE and line.endswith("h…")
    fresh = ProviderError("m")
    assert (fresh.provider, fresh.status, fresh.hint, fresh.retry_after) == ("", None, None, None)
