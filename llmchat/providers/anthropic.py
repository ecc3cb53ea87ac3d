"""Anthropic Messages API streaming (``POST /v1/messages`` with ``stream: true``).

Wire format: Anthropic API reference, "Messages" (request body) and "Streaming Messages"
(https://docs.anthropic.com/en/docs/build-with-claude/streaming): the SSE events
``message_start``, ``content_block_start`` / ``content_block_delta`` / ``content_block_stop``,
``message_delta``, ``message_stop`` (the terminal signal), ``ping`` and ``error``. Errors
follow "Errors" (https://docs.anthropic.com/en/api/errors): ``{"type": "error", "error":
{"type": ..., "message": ...}}``, also sent as an in-band ``error`` event mid-stream.

Requests are built from Chat Completions shaped messages by
:mod:`llmchat.providers.anthropic_request`. Extended thinking ("Building with extended
thinking", "Preserving thinking blocks"): a ``thinking`` block's ``signature`` arrives as a
``signature_delta`` just before ``content_block_stop``; the block is given whole then, so that
the request of the next round can send it back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, NoReturn

import httpx

from llmchat import __version__
from llmchat.providers.anthropic_request import build_body, replayable
from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    ServerError,
    error_message,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.http import interrupted, post_stream
from llmchat.providers.http_get import get_json
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.redaction import SecretHeaders
from llmchat.providers.sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_IN_BAND_STATUS = {"overloaded_error": 529, "rate_limit_error": 429}
"""HTTP status implied by an in-band ``error`` event's type (Anthropic "Errors")."""


def normalize_stop_reason(raw: str) -> FinishReason:
    """Map a Messages API ``stop_reason`` to a normalized finish reason (unknown -> "stop")."""
    return _STOP_REASONS.get(raw, "stop")


# --- response ----------------------------------------------------------------------------


class EventParser:
    """Turns Messages API SSE events into stream events; keeps the stop reason and usage.

    Usage and the stop reason are held back and given by :meth:`end`, so a stream always
    ends ``..., Usage, Finish``; ``message_stop`` sets :attr:`done`. A ``thinking`` block is
    streamed as ReasoningDelta events and, at its ``content_block_stop``, given whole with
    its signature as a :class:`~llmchat.providers.events.ThinkingBlock`; so is a
    ``redacted_thinking`` block (with its ``data``, nothing to show).
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.stop_raw: str | None = None
        self.done = False
        """True once ``message_stop`` arrived."""
        self.model: str | None = None
        """``message_start``'s ``message.model`` (the model that answered)."""
        self._usage: dict[str, int] = {}
        self._tool_blocks: dict[int, tuple[dict[str, Any], bool]] = {}  # index -> (block, got args)
        # index -> (block, thinking pieces, signature pieces) of open thinking blocks
        self._thinking: dict[int, tuple[dict[str, Any], list[str], list[str]]] = {}
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[StreamEvent]]] = {
            "message_start": self._on_message_start,
            "content_block_start": self._on_content_block_start,
            "content_block_delta": self._on_content_block_delta,
            "content_block_stop": self._on_content_block_stop,
            "message_delta": self._on_message_delta,
            "message_stop": self._on_message_stop,
        }

    def feed_sse(self, sse: SSEEvent) -> list[StreamEvent]:
        """Parse one SSE event.

        Raises:
            ServerError: on an ``error`` event or data that is not a JSON object.
        """
        try:
            data: Any = json.loads(sse.data)
        except ValueError:
            if sse.event == "error":
                message = sse.data.strip() or "error event"
                raise ServerError(message, provider=self.provider) from None
            raise ServerError(
                f"malformed stream event: {sse.data[:200]!r}", provider=self.provider
            ) from None
        if not isinstance(data, dict):
            raise ServerError(
                f"unexpected stream event: {sse.data[:200]!r}", provider=self.provider
            )
        kind = data.get("type") or sse.event
        if kind == "error" or sse.event == "error":
            self.raise_in_band(data)
        handler = self._handlers.get(str(kind))
        return handler(data) if handler is not None else []  # ping and unknown events

    def raise_in_band(self, data: Mapping[str, Any]) -> NoReturn:
        """Raise the error an in-band ``error`` event carries.

        Raises:
            ServerError: always, with Anthropic's message; status 529 for
                ``overloaded_error``, 429 for ``rate_limit_error``, else None.
        """
        message, code = error_message(json.dumps(data))
        raise ServerError(message, status=_IN_BAND_STATUS.get(code or ""), provider=self.provider)

    def _on_message_start(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        message = data.get("message") or {}
        if message.get("model"):
            self.model = str(message["model"])
        self._add_usage(message.get("usage"))
        if message.get("stop_reason"):
            self.stop_raw = str(message["stop_reason"])
        return []

    def _on_content_block_start(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        index = int(data.get("index", 0))
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [ContentDelta(str(block["text"]))]
        if kind in ("thinking", "redacted_thinking"):
            text = str(block.get("thinking") or "") if kind == "thinking" else ""
            self._thinking[index] = (dict(block), [text], [str(block.get("signature") or "")])
            return [ReasoningDelta(text)] if text else []
        if kind == "tool_use":
            self._tool_blocks[index] = (dict(block), False)
            # a null or absent id / name is "" (unknown), never the text "None"
            return [ToolCallDelta(index, str(block.get("id") or ""), str(block.get("name") or ""), "")]
        return []  # server tool blocks: nothing to show

    def _on_content_block_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        index = int(data.get("index", 0))
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [ContentDelta(str(delta["text"]))]
        if kind == "thinking_delta" and delta.get("thinking"):
            text = str(delta["thinking"])
            if index in self._thinking:
                self._thinking[index][1].append(text)
            return [ReasoningDelta(text)]
        if kind == "signature_delta" and index in self._thinking:
            self._thinking[index][2].append(str(delta.get("signature") or ""))
            return []
        if kind == "input_json_delta" and index in self._tool_blocks:
            fragment = str(delta.get("partial_json") or "")
            if not fragment:
                return []
            self._tool_blocks[index] = (self._tool_blocks[index][0], True)
            return [ToolCallDelta(index, None, None, fragment)]
        return []  # citations_delta

    def _on_content_block_stop(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        index = int(data.get("index", 0))
        if index in self._thinking:
            thought, texts, signatures = self._thinking.pop(index)
            if thought.get("type") == "thinking":
                thought["thinking"] = "".join(texts)
                thought["signature"] = "".join(signatures)
            return [ThinkingBlock(thought)] if replayable(thought) else []
        block, got_arguments = self._tool_blocks.pop(index, ({}, True))
        if got_arguments:
            return []
        # No input_json_delta at all (a tool without parameters): the input is the block's
        # own `input`, as the Messages API reference describes, and {} when that is empty.
        arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
        return [ToolCallDelta(index, None, None, arguments)]

    def _on_message_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        if delta.get("stop_reason"):
            self.stop_raw = str(delta["stop_reason"])
        self._add_usage(data.get("usage"))  # cumulative counts: the last ones win
        return []

    def _on_message_stop(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        self.done = True
        return []

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            for key, value in usage.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    self._usage[key] = value

    @property
    def usage(self) -> Usage | None:
        """The usage reported so far, or None when the server sent no token counts."""
        counts = self._usage
        if "input_tokens" not in counts and "output_tokens" not in counts:
            return None
        # Cached input is input: the API's input_tokens counts only what came after the last
        # cache breakpoint (llama-server: 1 + 85 cache_read for an 86-token prompt).
        read = counts.get("cache_read_input_tokens")
        written = counts.get("cache_creation_input_tokens")
        inp = counts.get("input_tokens", 0) + (read or 0) + (written or 0)
        out = counts.get("output_tokens", 0)
        return Usage(input_tokens=inp, output_tokens=out, total_tokens=inp + out, cached_tokens=read,
                     cache_write_tokens=written or None)

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """The closing events when the body ended; `complete` is False on a dropped connection.

        Raises:
            StreamInterrupted: the stream ended before ``message_stop``.
        """
        if not self.done:
            raise interrupted(self.provider, complete=complete)
        usage = self.usage
        out: list[StreamEvent] = [usage] if usage else []
        raw = self.stop_raw
        out.append(Finish(normalize_stop_reason(raw) if raw else "stop", raw, model=self.model))
        return out

    def feed_message(self, message: Mapping[str, Any]) -> list[StreamEvent]:
        """Parse a whole (non-streaming) Message object, for servers that ignore ``stream``."""
        if message.get("type") == "error":
            self.raise_in_band(message)
        if message.get("type") != "message" and "content" not in message:
            return []  # not a reply (a wrong base URL?): the end says what the body was
        out: list[StreamEvent] = []
        self._on_message_start({"message": message})
        for index, block in enumerate(message.get("content") or ()):
            if block.get("type") == "tool_use":
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
                out.append(ToolCallDelta(index, block.get("id"), block.get("name"), arguments))
            else:
                out += self._on_content_block_start({"index": index, "content_block": block})
                out += self._on_content_block_stop({"index": index})
        self.done = True
        return out


# --- provider ----------------------------------------------------------------------------


class AnthropicProvider:
    """Streams replies from the Anthropic Messages API.

    Follows the Anthropic API reference, "Messages" and "Streaming Messages".

    Args:
        client: the shared httpx client (its timeouts apply).
        base_url: API root without ``/v1`` (a trailing ``/v1`` is accepted and not doubled);
            requests go to ``{base_url}/v1/messages``.
        api_key: sent as ``x-api-key``; None for a proxy that adds it.
        name: the provider or profile name used in messages.
        headers: extra headers (e.g. ``anthropic-beta``).
        policy: retries, timeouts and size caps (:class:`~llmchat.providers.policy.StreamPolicy`).
        version: the ``anthropic-version`` header.
        default_max_tokens: ``max_tokens`` when the request options give none (the Messages
            API requires it).
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        name: str = "anthropic",
        headers: Mapping[str, str] | None = None,
        version: str = DEFAULT_VERSION,
        default_max_tokens: int = 4096,
        policy: StreamPolicy | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or StreamPolicy()
        root = base_url.rstrip("/")
        self.base_url = root[: -len("/v1")] if root.endswith("/v1") else root
        self.name = name
        self.default_max_tokens = default_max_tokens
        self._headers = SecretHeaders({
            "anthropic-version": version,
            "content-type": "application/json",
            "accept": "text/event-stream",
            "user-agent": f"llmchat/{__version__}",
            **(headers or {}),
        })
        if api_key:
            self._headers["x-api-key"] = api_key

    def __repr__(self) -> str:
        return f"AnthropicProvider(name={self.name!r}, base_url={self.base_url!r})"

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming Messages request
        (:func:`~llmchat.providers.anthropic_request.build_body`, with `default_max_tokens`)."""
        return build_body(request, default_max_tokens=self.default_max_tokens)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base_url}/v1/models`` (Anthropic "List Models"), sorted.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        data = await get_json(
            self.client, f"{self.base_url}/v1/models?limit=1000", self._headers, self.name
        )
        items = data.get("data") if isinstance(data, dict) else None
        return sorted(str(m["id"]) for m in items or () if isinstance(m, dict) and m.get("id"))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """POST ``{base_url}/v1/messages`` and yield the reply's events (Finish last).

        Raises:
            AuthenticationError, NotFoundError, BadRequestError, RateLimitError, ServerError:
                on an HTTP error status (529 "overloaded" is a ServerError), with Anthropic's
                own message.
            ConnectError, ProviderTimeout: when the server cannot be reached or is silent.
            StreamInterrupted: the stream ended before ``message_stop``.
            ServerError: an in-band ``error`` event (after the events before it were
                yielded) or a malformed event.
        """
        url = f"{self.base_url}/v1/messages"
        async for event in post_stream(
            self.client,
            url,
            body=self.build_body(request),
            headers=self._headers,
            provider=self.name,
            decoder_factory=SSEDecoder,
            parser_factory=lambda: EventParser(self.name),
            parse=EventParser.feed_sse,
            whole_json=lambda parser, text: parser.feed_message(_json_object(text, self.name)),
            policy=self.policy,
        ):
            yield event


def _json_object(text: str, provider: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ServerError(f"malformed response: {text[:200]!r}", provider=provider) from None
    if not isinstance(data, dict):
        raise ServerError(f"unexpected response: {text[:200]!r}", provider=provider)
    return data
