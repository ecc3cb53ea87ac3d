"""The TLS context of the shared httpx client, made at the first TLS connection."""

from __future__ import annotations

import ssl
import threading
from typing import Any, Self

import httpx


class LazySSLContext(ssl.SSLContext):
    """httpx's default TLS context (certifi's CA bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), built at the first TLS connection instead of with the client.

    Loading the CA bundle takes some 40 ms, a fifth of ``llmchat ask``'s start-up, and a
    plain-HTTP server (Ollama, llama.cpp, LM Studio, a loopback test) never needs it. The
    real context is made by ``httpx.create_ssl_context()``, exactly as httpx would have made
    it; this object only forwards the ALPN setting httpcore makes and the wrapping.
    """

    def __new__(cls) -> Self:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self) -> None:
        self._real: ssl.SSLContext | None = None
        self._alpn: list[str] | None = None
        self._lock = threading.Lock()  # anyio wraps in a worker thread (not a plain SSLContext)

    def real(self) -> ssl.SSLContext:
        """The context that does the work (made on first use)."""
        with self._lock:
            if self._real is None:
                context = httpx.create_ssl_context()
                if self._alpn is not None:
                    context.set_alpn_protocols(self._alpn)
                self._real = context
            return self._real

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        with self._lock:
            self._alpn = list(alpn_protocols)
            if self._real is not None:
                self._real.set_alpn_protocols(self._alpn)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # type: ignore[override]
        return self.real().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        return self.real().wrap_socket(*args, **kwargs)
