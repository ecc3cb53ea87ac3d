"""Gemini API streaming (``POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse``).

Wire format: Gemini API reference, "Generating content" (``streamGenerateContent`` with
``alt=sse``: each SSE ``data`` is a ``GenerateContentResponse``; there is no end marker),
"Function calling" and "Thought signatures". Read here:

- ``candidates[0].content.parts``: ``text`` (a part with ``thought: true`` is reasoning, a
  thought summary), ``functionCall`` (``name``, ``args`` object, optional ``id``; sent whole),
  ``thoughtSignature`` on any part;
- ``candidates[0].finishReason`` (see :data:`FINISH_REASONS`), the terminal signal: a stream
  that ends before a candidate carried one is :class:`~llmchat.providers.errors.StreamInterrupted`;
- ``promptFeedback.blockReason``: the prompt was blocked (``content_filter``);
- ``usageMetadata``: ``promptTokenCount`` (cached content included), ``candidatesTokenCount``
  + ``thoughtsTokenCount`` as output, ``totalTokenCount``, ``cachedContentTokenCount``;
- ``modelVersion``: the model that answered; an ``error`` object: an in-band error.

Errors use Google's shape (``{"error": {"code", "message", "status", "details"}}``; a 429
``RESOURCE_EXHAUSTED`` may carry a ``google.rpc.RetryInfo`` ``retryDelay``, which the retry
honours; see :func:`llmchat.providers.errors.error_for_status`).

A model turn whose parts carry a ``thoughtSignature`` is given, at the end, as one
:class:`ThinkingBlock` of type :data:`~llmchat.providers.gemini_request.CONTENT_BLOCK` with the
turn's parts as they came (texts joined), so a tool loop sends it back unchanged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from llmchat.providers.base import ChatRequest, provider_headers
from llmchat.providers.errors import ServerError, in_band_error
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
from llmchat.providers.gemini_request import CONTENT_BLOCK, build_body
from llmchat.providers.http import interrupted, post_stream
from llmchat.providers.http_get import get_json
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

FINISH_REASONS: dict[str, FinishReason] = {
    "FINISH_REASON_UNSPECIFIED": "stop",
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "OTHER": "error",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "MALFORMED_RESPONSE": "error",
    "IMAGE_OTHER": "error",
    "NO_IMAGE": "error",
}
"""Every documented ``Candidate.FinishReason`` -> normalized finish reason (``STOP`` becomes
``tool_calls`` when the turn called functions; unknown values: ``stop``). A reply that ends
with an ``error`` reason raises :class:`ServerError` naming it (the partial reply is kept)."""


def normalize_finish_reason(raw: str, *, called: bool = False) -> FinishReason:
    """Map a Gemini ``finishReason`` to a normalized one (`called`: the turn has calls)."""
    reason = FINISH_REASONS.get(raw, "stop")
    return "tool_calls" if reason == "stop" and called else reason


def parse_usage(data: Any) -> Usage | None:
    """Read ``usageMetadata``; None when it holds no token counts."""
    if not isinstance(data, Mapping):
        return None
    prompt, candidates = data.get("promptTokenCount"), data.get("candidatesTokenCount")
    thoughts = data.get("thoughtsTokenCount")
    if prompt is None and candidates is None and thoughts is None:
        return None
    inp, out = int(prompt or 0), int(candidates or 0) + int(thoughts or 0)
    cached = data.get("cachedContentTokenCount")
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=int(data.get("totalTokenCount") or inp + out),
        cached_tokens=int(cached) if cached is not None else None,
        reasoning_tokens=int(thoughts) if thoughts is not None else None,
    )


class ChunkParser:
    """Turns ``GenerateContentResponse`` chunks into stream events.

    Usage (the last ``usageMetadata``) and the finish reason are given by :meth:`end`;
    :attr:`finished` is set by the first ``finishReason`` (or a ``promptFeedback.blockReason``).
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        """Always False: the body is read to its end, since a chunk after the one with the
        ``finishReason`` may still carry usage (there is no end marker; the server closes)."""
        self.finished = False
        """True once a candidate carried a ``finishReason`` (or the prompt was blocked)."""
        self.raw: str | None = None
        self.message = ""
        """``finishMessage`` / ``blockReasonMessage``, when the server explains itself."""
        self.model: str | None = None
        self.usage: Usage | None = None
        self.calls: list[str] = []
        """Ids of the function calls so far (the API's ``id``, or one made here)."""
        self._parts: list[dict[str, Any]] = []  # the turn's parts as they came, texts joined
        self._signed = False

    def feed_sse(self, sse: SSEEvent) -> list[StreamEvent]:
        """Parse one SSE event's data.

        Raises:
            ServerError, RateLimitError, ContextLengthError: an ``error`` chunk.
        """
        return self.feed(sse.data)

    def feed(self, data: str) -> list[StreamEvent]:
        """Parse one chunk (a JSON ``GenerateContentResponse``); a JSON array of them (the
        body of a server that ignored ``alt=sse``) is read chunk by chunk."""
        try:
            chunk: Any = json.loads(data)
        except ValueError:
            raise ServerError(f"malformed stream chunk: {data[:200]!r}", provider=self.provider) from None
        if isinstance(chunk, list):
            return [event for item in chunk for event in self.feed_chunk(item)]
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: Any) -> list[StreamEvent]:
        """Parse one decoded ``GenerateContentResponse``."""
        if not isinstance(chunk, dict):
            raise ServerError(f"unexpected stream chunk: {str(chunk)[:200]!r}", provider=self.provider)
        error = chunk.get("error")
        if isinstance(error, Mapping):
            code = error.get("status") or error.get("code")
            raise in_band_error(str(error.get("message") or "error"), str(code) if code else None, self.provider)
        if chunk.get("modelVersion"):
            self.model = str(chunk["modelVersion"])
        self.usage = parse_usage(chunk.get("usageMetadata")) or self.usage
        feedback = chunk.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            self.finished, self.raw = True, str(feedback["blockReason"])
            self.message = str(feedback.get("blockReasonMessage") or "")
        out: list[StreamEvent] = []
        candidates = chunk.get("candidates") or ()
        candidate = next((c for c in candidates if c.get("index", 0) == 0), None)
        if candidate is None:
            return out
        for part in (candidate.get("content") or {}).get("parts") or ():
            out += self._part(part)
        if candidate.get("finishReason"):
            self.finished, self.raw = True, str(candidate["finishReason"])
            self.message = str(candidate.get("finishMessage") or "")
        return out

    def _part(self, part: Mapping[str, Any]) -> list[StreamEvent]:
        self._keep(part)
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            index = len(self.calls)
            call_id = str(call.get("id") or f"call_{secrets.token_hex(6)}")
            self.calls.append(call_id)
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            return [ToolCallDelta(index, call_id, str(call.get("name") or ""), arguments)]
        text = part.get("text")
        if not text or not isinstance(text, str):
            return []
        return [ReasoningDelta(text) if part.get("thought") else ContentDelta(text)]

    def _keep(self, part: Mapping[str, Any]) -> None:
        """Keep the turn's parts for :meth:`end`: runs of text of one kind joined, a
        signature kept on the part it came with."""
        if part.get("thoughtSignature"):
            self._signed = True
        last = self._parts[-1] if self._parts else None
        joinable = set(part) <= {"text", "thought"} and isinstance(part.get("text"), str)
        if (joinable and last is not None and set(last) <= {"text", "thought"}
                and bool(last.get("thought")) == bool(part.get("thought"))):
            last["text"] += part["text"]
        elif part and not (joinable and not part["text"]):  # an empty text part says nothing
            self._parts.append(dict(part))

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """The closing events: the turn's signed parts (as a ThinkingBlock), Usage, Finish.

        Raises:
            StreamInterrupted: no candidate carried a ``finishReason``.
            ServerError: the reply ended with an error finish reason (``MALFORMED_FUNCTION_CALL``,
                ``OTHER`` ...), after its partial events.
        """
        if not self.finished:
            raise interrupted(self.provider, complete=complete)
        raw = self.raw or "STOP"
        reason = normalize_finish_reason(raw, called=bool(self.calls))
        if reason == "error":
            detail = f": {self.message}" if self.message else ""
            raise ServerError(f"the model stopped with {raw}{detail}", provider=self.provider)
        out: list[StreamEvent] = []
        if self._signed and self.calls:
            out.append(ThinkingBlock({"type": CONTENT_BLOCK, "parts": self._parts, "call_ids": list(self.calls)}))
        if self.usage:
            out.append(self.usage)
        out.append(Finish(reason, raw, model=self.model))
        return out


class GeminiProvider:
    """Streams replies from the Gemini API.

    Args:
        client: the shared httpx client (its timeouts apply).
        base_url: the API root without a version (``GEMINI_BASE_URL``, default
            ``https://generativelanguage.googleapis.com``; a trailing ``/v1beta`` is accepted).
        api_key: sent as ``x-goog-api-key`` (``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``).
        name: the provider or profile name used in messages.
        headers: extra headers.
        policy: retries, timeouts and size caps (:class:`~llmchat.providers.policy.StreamPolicy`).
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        name: str = "gemini",
        headers: Mapping[str, str] | None = None,
        policy: StreamPolicy | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or StreamPolicy()
        root = base_url.rstrip("/")
        self.base_url = root[: -len("/v1beta")] if root.endswith("/v1beta") else root
        self.name = name
        self.context_windows: dict[str, int] = {}
        """``inputTokenLimit`` per model, filled by :meth:`list_models`."""
        key = ("x-goog-api-key", api_key) if api_key else None
        self.headers = provider_headers("text/event-stream", headers, key)

    def __repr__(self) -> str:
        return f"GeminiProvider(name={self.name!r}, base_url={self.base_url!r})"

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body (see :func:`llmchat.providers.gemini_request.build_body`)."""
        return build_body(request)

    async def list_models(self) -> list[str]:
        """Models from ``GET {base_url}/v1beta/models`` (all pages) that can
        ``generateContent``, without the ``models/`` prefix, sorted; notes each one's
        ``inputTokenLimit`` in :attr:`context_windows`.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        names: list[str] = []
        token = ""
        for _ in range(50):  # pages; a server that never stops paging is cut off
            url = f"{self.base_url}/v1beta/models?pageSize=1000"
            if token:
                url += f"&pageToken={quote(token)}"
            data = await get_json(self.client, url, self.headers, self.name)
            if not isinstance(data, dict):
                break
            for model in data.get("models") or ():
                if not isinstance(model, dict) or not model.get("name"):
                    continue
                methods = model.get("supportedGenerationMethods")
                if methods is not None and "generateContent" not in methods:
                    continue
                name = str(model["name"]).removeprefix("models/")
                names.append(name)
                if isinstance(model.get("inputTokenLimit"), int):
                    self.context_windows[name] = model["inputTokenLimit"]
            token = str(data.get("nextPageToken") or "")
            if not token:
                break
        return sorted(set(names))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """POST ``streamGenerateContent?alt=sse`` and yield the reply's events (Finish last).

        Raises:
            BadRequestError: for a text completion (`request.prompt`), which Gemini does not do.
            AuthenticationError, NotFoundError, BadRequestError, RateLimitError, ServerError:
                on an HTTP error status, with Google's message (a 400 ``API_KEY_INVALID`` is
                an AuthenticationError).
            ConnectError, ProviderTimeout: when the server cannot be reached or is silent.
            StreamInterrupted: the stream ended before a ``finishReason``.
            ServerError: an in-band error, a malformed chunk, or an error finish reason.
        """
        if request.prompt is not None:
            from llmchat.providers.errors import BadRequestError

            raise BadRequestError("Gemini has no text completions; use an OpenAI-compatible provider",
                                  provider=self.name)
        model = request.model.removeprefix("models/")
        url = f"{self.base_url}/v1beta/models/{quote(model, safe='')}:streamGenerateContent?alt=sse"
        async for event in post_stream(
            self.client,
            url,
            body=self.build_body(request),
            headers=self.headers,
            provider=self.name,
            decoder_factory=SSEDecoder,
            parser_factory=lambda: ChunkParser(self.name),
            parse=ChunkParser.feed_sse,
            whole_json=ChunkParser.feed,
            policy=self.policy,
        ):
            yield event
