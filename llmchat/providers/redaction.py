"""Keys kept out of reprs, logs and error messages: which request headers carry them, and how
an echoed key is taken out of a text."""

from __future__ import annotations

from collections.abc import Mapping

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)
"""Headers that carry keys; httpx masks only the first two in its reprs."""


def without_keys(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the values of `headers`' :data:`SENSITIVE_HEADERS` (and the token after a
    scheme such as ``Bearer``) replaced by ``[REDACTED]``: an error body that echoes the
    request's key must not reach a message, the history or a log."""
    for name, value in headers.items():
        if name.lower() not in SENSITIVE_HEADERS:
            continue
        # the whole value first (then "Bearer [REDACTED]" cannot happen), then its last token
        for secret in (value, value.split()[-1] if value.split() else ""):
            if len(secret) >= 8:
                text = text.replace(secret, "[REDACTED]")
    return text


class SecretHeaders(dict[str, str]):
    """Request headers whose repr hides the values of :data:`SENSITIVE_HEADERS`, so a
    traceback that shows local variables, or a debug log, cannot print a key."""

    def __repr__(self) -> str:
        return repr(
            {k: "[REDACTED]" if k.lower() in SENSITIVE_HEADERS else v for k, v in self.items()}
        )
