"""OpenAI-compatible Chat Completions streaming (OpenAI, OpenRouter, Groq, vLLM, llama.cpp,
LM Studio, Ollama's /v1 ...).

Wire format: OpenAI API reference, "Create chat completion" with ``stream: true`` and the
"chat completion chunk" object; usage arrives in a final chunk with empty ``choices`` when
the request sets ``stream_options.include_usage``. The stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from llmchat.providers.base import WIRE_EXTENSIONS, ChatRequest, provider_headers
from llmchat.providers.errors import (
    ContextLengthError,
    ServerError,
    error_message,
    is_context_overflow,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.http import interrupted, post_stream
from llmchat.providers.http_get import get_json
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = "https://api.openai.com/v1"

_decode_json = json.JSONDecoder().decode
"""``json.loads`` without its argument checks (the data is always a str here)."""

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "error": "error",
}


def normalize_finish_reason(raw: str) -> FinishReason:
    """Map a Chat Completions `finish_reason` to a normalized one (unknown values -> "stop")."""
    return _FINISH.get(raw, "stop")


def parse_usage(data: Mapping[str, Any]) -> Usage | None:
    """Read a Chat Completions ``usage`` object; None when it holds no token counts.

    ``prompt_tokens`` already counts cached input: the cached part
    (``prompt_tokens_details.cached_tokens``, DeepSeek's ``prompt_cache_hit_tokens``,
    LiteLLM's ``cache_read_input_tokens``) is reported as `cached_tokens`, never added."""
    input_tokens = data.get("prompt_tokens")
    output_tokens = data.get("completion_tokens")
    if input_tokens is None and output_tokens is None:
        return None
    inp, out = int(input_tokens or 0), int(output_tokens or 0)
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    if cached is None:  # already part of prompt_tokens: reported, never added again
        cached = data.get("prompt_cache_hit_tokens", data.get("cache_read_input_tokens"))  # DeepSeek, LiteLLM
    reasoning = (
        completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
    )
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=int(data.get("total_tokens") or inp + out),
        cached_tokens=int(cached) if cached is not None else None,
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
    )


class ChunkParser:
    """Turns the `data` of each SSE event into stream events; keeps finish reason and usage.

    Usage and the finish reason are held back and given by :meth:`end`, so that a stream
    always ends ``..., Usage, Finish`` whatever order the server sent them in.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.finish_raw: str | None = None
        self.usage: Usage | None = None
        self.done = False
        """True once ``[DONE]`` arrived."""
        self.model: str | None = None
        """The model the chunks name (the one that answered; routers may swap it)."""
        self._tool_ids: dict[str, int] = {}

    def feed(self, data: str) -> list[StreamEvent]:
        """Parse one SSE `data` payload (a chunk object or ``[DONE]``).

        Raises:
            ServerError: on an in-band error object or data that is not JSON.
        """
        if data == "[DONE]":
            self.done = True
            return []
        try:
            chunk = _decode_json(data)
        except ValueError:
            raise ServerError(
                f"malformed stream chunk: {data[:200]!r}", provider=self.provider
            ) from None
        if not isinstance(chunk, dict):
            raise ServerError(f"unexpected stream chunk: {data[:200]!r}", provider=self.provider)
        get = chunk.get
        if get("error"):
            self.raise_in_band(data)
        model = get("model")
        if model and isinstance(model, str):
            self.model = model
        usage = get("usage")
        groq = get("x_groq")
        groq_usage = groq.get("usage") if groq else None
        if isinstance(usage, dict):  # cumulative on some servers: the last one wins
            self.usage = parse_usage(usage) or self.usage
        if isinstance(groq_usage, dict):
            self.usage = parse_usage(groq_usage) or self.usage
        timings = get("timings")  # llama.cpp's server, when it sends no usage
        if isinstance(timings, dict) and self.usage is None and "predicted_n" in timings:
            self.usage = parse_usage(
                {"prompt_tokens": timings.get("prompt_n"), "completion_tokens": timings["predicted_n"]}
            )
        out: list[StreamEvent] = []
        for choice in get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # only the first choice (n=1) is shown
            delta = choice.get("delta") or choice.get("message") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                out.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if content:
                out.append(ContentDelta(content))
            refusal = delta.get("refusal")
            if refusal:
                out.append(RefusalDelta(refusal))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                arguments = function.get("arguments") or ""
                out.append(
                    ToolCallDelta(
                        index=self._tool_index(call),
                        id=call.get("id"),
                        name=function.get("name"),
                        arguments_fragment=arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments, ensure_ascii=False),
                    )
                )
            text = choice.get("text")  # legacy text completions (/v1/completions)
            if text and isinstance(text, str):
                out.append(ContentDelta(text))
            if choice.get("finish_reason"):
                self.finish_raw = str(choice["finish_reason"])
        return out

    def _tool_index(self, call: Mapping[str, Any]) -> int:
        """The call's index; servers that omit it (Gemini's compat API) get one per new id."""
        if "index" in call:
            return int(call["index"])
        call_id = call.get("id")
        if call_id is None:
            return max(self._tool_ids.values(), default=0)
        return self._tool_ids.setdefault(call_id, len(self._tool_ids))

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """The closing events when the body ended; `complete` is False on a dropped connection.

        Raises:
            StreamInterrupted: the stream ended before a finish reason or ``[DONE]``.
        """
        if self.finish_raw is None and not self.done:
            raise interrupted(self.provider, complete=complete)
        out: list[StreamEvent] = [self.usage] if self.usage else []
        raw = self.finish_raw
        out.append(Finish(normalize_finish_reason(raw) if raw else "stop", raw, model=self.model))
        return out

    def feed_sse(self, sse: SSEEvent) -> list[StreamEvent]:
        """Parse one SSE event: an ``event: error`` raises, anything else goes to :meth:`feed`."""
        if sse.event == "error":
            self.raise_in_band(sse.data)
        return self.feed(sse.data)

    def raise_in_band(self, data: str) -> NoReturn:
        """Raise the error that an in-band error chunk or ``event: error`` carries.

        Raises:
            ContextLengthError: when the error says the prompt is longer than the context.
            ServerError: otherwise, with the provider's message; its status is the error
                object's ``code`` when that is an HTTP status (e.g. OpenRouter's 502).
        """
        message, code = error_message(data)
        try:
            error = json.loads(data).get("error")
            status: int | None = int(error.get("code"))
        except (ValueError, TypeError, AttributeError):
            status = None
        if status is not None and not 400 <= status < 600:
            status = None
        if is_context_overflow(f"{message} {code or ''}"):
            raise ContextLengthError(message, status=status, provider=self.provider)
        raise ServerError(message, status=status, provider=self.provider)


class OpenAIProvider:
    """Streams Chat Completions from an OpenAI-compatible server.

    Args:
        client: the shared httpx client (its timeouts apply).
        base_url: API root including ``/v1``; requests go to ``{base_url}/chat/completions``.
        api_key: sent as ``Authorization: Bearer``; None for local servers that need none.
        name: the provider or profile name used in messages.
        headers: extra headers (e.g. OpenRouter's ``HTTP-Referer``).
        policy: retries, timeouts and size caps (:class:`~llmchat.providers.policy.StreamPolicy`).
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        name: str = "openai",
        headers: Mapping[str, str] | None = None,
        policy: StreamPolicy | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or StreamPolicy()
        self.base_url = base_url.rstrip("/")
        self.name = name
        key = ("Authorization", f"Bearer {api_key}") if api_key else None
        self._headers = provider_headers("text/event-stream", headers, key)

    def __repr__(self) -> str:
        return f"OpenAIProvider(name={self.name!r}, base_url={self.base_url!r})"

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming Chat Completions (or text completions) request.

        Neutral options map onto Chat Completions fields: ``max_tokens`` (sent as
        ``max_completion_tokens`` to api.openai.com, which deprecated the old name),
        ``temperature``, ``top_p``, ``stop``, ``seed``, ``reasoning_effort``; ``top_k`` only
        to other servers (OpenAI rejects it); ``thinking_budget`` is Anthropic's and dropped,
        and so are the Anthropic-only message keys (``thinking_blocks``, ``is_error``: see
        :data:`~llmchat.providers.base.WIRE_EXTENSIONS`).
        """
        body: dict[str, Any] = {"model": request.model}
        if request.prompt is not None:
            body["prompt"] = request.prompt
        else:
            messages: list[Any] = []
            if request.system:
                messages.append({"role": "system", "content": request.system})
            messages.extend(
                {k: v for k, v in m.items() if k not in WIRE_EXTENSIONS} for m in request.messages
            )
            body["messages"] = messages
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = list(request.tools)
        official = urlsplit(self.base_url).hostname == "api.openai.com"
        for key, value in request.options.items():
            if key == "thinking_budget" or (key == "top_k" and official):
                continue
            if key == "max_tokens" and official and request.prompt is None:
                key = "max_completion_tokens"
            body[key] = value
        return body

    async def list_models(self) -> list[str]:
        """The ids the server lists at ``GET {base_url}/models`` (OpenAI "List models"), sorted.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        data = await get_json(self.client, f"{self.base_url}/models", self._headers, self.name)
        items = data.get("data") if isinstance(data, dict) else None
        return sorted(str(m["id"]) for m in items or () if isinstance(m, dict) and m.get("id"))

    async def image_models(self, names: list[str]) -> set[str]:
        """Those of `names` whose entry in the list says they take images: OpenRouter's
        ``architecture.input_modalities`` (or ``architecture.modality`` such as
        ``"text+image->text"``) at ``GET {base_url}/models``; servers that do not say give
        an empty set.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        data = await get_json(self.client, f"{self.base_url}/models", self._headers, self.name)
        items = data.get("data") if isinstance(data, dict) else None
        found = set()
        for item in items or ():
            architecture = item.get("architecture") if isinstance(item, dict) else None
            if not isinstance(architecture, dict) or not item.get("id"):
                continue
            inputs = architecture.get("input_modalities")
            modality = str(architecture.get("modality") or "").split("->")[0]
            if (isinstance(inputs, list) and "image" in inputs) or "image" in modality.split("+"):
                found.add(str(item["id"]))
        return found & set(names)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """POST ``{base_url}/chat/completions`` and yield the reply's events (Finish last).

        A request with a `prompt` goes to ``{base_url}/completions`` (text completions for
        base models: ``choices[0].text``), with the same events, finish reasons and usage.

        Raises:
            AuthenticationError, NotFoundError, BadRequestError, RateLimitError, ServerError:
                on an HTTP error status, with the server's own message.
            ConnectError, ProviderTimeout: when the server cannot be reached or is silent.
            StreamInterrupted: the stream ended before a finish reason or ``[DONE]``.
            ServerError: an in-band error object or a malformed chunk.
        """
        url = f"{self.base_url}/{'completions' if request.prompt is not None else 'chat/completions'}"
        async for event in post_stream(
            self.client,
            url,
            body=self.build_body(request),
            headers=self._headers,
            provider=self.name,
            decoder_factory=SSEDecoder,
            parser_factory=lambda: ChunkParser(self.name),
            parse=ChunkParser.feed_sse,
            whole_json=ChunkParser.feed,
            policy=self.policy,
        ):
            yield event
