"""llmchat: a fast, safe terminal chat client for large language models."""

from __future__ import annotations

__version__ = "0.1.0"
