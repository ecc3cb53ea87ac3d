"""``--debug``: a full log of one run in the state directory, with every secret redacted.

The log records llmchat's own steps and httpx/httpcore's request lifecycle (method, URL,
status, timings). Header values of :data:`~llmchat.providers.redaction.SENSITIVE_HEADERS` and
every known key value are replaced by ``[REDACTED]`` before a line is written.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from llmchat.providers.redaction import SENSITIVE_HEADERS

LOGGER = logging.getLogger("llmchat")

_HEADER_VALUE = re.compile(
    r"(?i)((?:" + "|".join(re.escape(h) for h in sorted(SENSITIVE_HEADERS)) + r")['\"]?\s*[:=,]\s*['\"]?)"
    r"(?:b['\"])?(?!\[REDACTED\])([^'\"\s,)}\]]+(?:\s+[^'\"\s,)}\]]+)?)"
)


class RedactingFilter(logging.Filter):
    """Replaces secrets in every record's final message: known key values anywhere, and the
    value after any sensitive header name."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return _HEADER_VALUE.sub(lambda m: m.group(1) + "[REDACTED]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


def enable(directory: Path, secrets: Iterable[str]) -> Path:
    """Start logging everything (DEBUG) to a new file in `directory`; return its path.

    The directory is created owner-only and the file is 0600.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"debug-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    for name in ("llmchat", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    LOGGER.debug("debug log started: %s", path)
    return path
