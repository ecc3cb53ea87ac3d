"""llmchat: a fast, safe terminal chat client for large language models."""

from __future__ import annotations

import sys as _sys

__version__ = "0.1.0"

# `import httpx` also imports httpx's own command-line client (click, rich, pygments: tens of
# milliseconds) whenever click is installed, as it is with the `mcp` dependency. llmchat never
# uses that client; marking the module absent makes httpx skip it (httpx/__init__.py catches
# the ImportError), so `llmchat ask` starts as fast as without click.
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
