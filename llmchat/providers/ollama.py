"""Ollama's native chat API streaming (``POST /api/chat`` with ``stream: true``).

Wire format: Ollama API reference, "Generate a chat completion"
(https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion): one
JSON object per line (``application/x-ndjson``), each with a partial ``message`` (``content``,
``thinking``, complete ``tool_calls``); the last line has ``done: true`` (the terminal
signal) with ``done_reason``, ``prompt_eval_count`` and ``eval_count``. Errors are
``{"error": "..."}``: as the body of an HTTP error, or as a line of a 200 stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from llmchat.providers.base import WIRE_EXTENSIONS, ChatRequest, provider_headers
from llmchat.providers.errors import (
    ServerError,
    in_band_error,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.http import interrupted, post_stream
from llmchat.providers.http_get import get_json
from llmchat.providers.ndjson import NDJSONDecoder
from llmchat.providers.policy import StreamPolicy

DEFAULT_BASE_URL = "http://127.0.0.1:11434"

_DONE_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "load": "stop",
    "unload": "stop",
}

_RUNTIME_OPTIONS = {"temperature", "top_p", "top_k", "seed", "stop"}
"""Request options that go into Ollama's ``options`` object under the same name."""

_TOP_LEVEL = frozenset({"format", "keep_alive"})
"""Request options that are top-level ``/api/chat`` fields."""

_DROPPED = frozenset({"stream_options", "n", "logprobs", "top_logprobs", "parallel_tool_calls"})
"""Options of other wire protocols that mean nothing to ``/api/chat``."""


_THINK_OPTIONS = ("think", "reasoning_effort", "thinking_budget")


def _think(options: Mapping[str, Any]) -> bool | str | None:
    """The ``think`` field, or None to leave it out.

    ``think`` itself wins, then the ``reasoning_effort`` level ("none" is off), then whether
    a ``thinking_budget`` is positive (Ollama has no budget).
    """
    think = options.get("think")
    if think is not None:
        return think if isinstance(think, str) else bool(think)
    effort = options.get("reasoning_effort")
    if effort is not None:
        return False if effort == "none" else str(effort)
    budget = options.get("thinking_budget")
    return bool(budget) if budget is not None else None


def convert_messages(
    messages: Sequence[Mapping[str, Any]], system: str | None
) -> list[dict[str, Any]]:
    """Translate Chat Completions messages to ``/api/chat`` messages.

    The system prompt becomes the first ``{"role": "system"}`` message; assistant
    ``tool_calls`` take Ollama's ``{"function": {"name", "arguments": <object>}}`` shape;
    a ``tool`` message gets ``tool_name`` (looked up from the assistant call with the same
    id) when it has none; list content is flattened to text plus base64 ``images``; the
    Anthropic-only keys (:data:`~llmchat.providers.base.WIRE_EXTENSIONS`) are left out.
    """
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    names: dict[str, str] = {}
    for message in messages:
        converted = {k: v for k, v in message.items() if k not in WIRE_EXTENSIONS}
        content = message.get("content")
        if isinstance(content, list):
            converted["content"], images = _flatten(content)
            if images:
                converted["images"] = [*converted.get("images", ()), *images]
        elif content is None:
            converted["content"] = ""
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = call.get("function") or {}
                name = str(function.get("name") or "")
                if call.get("id"):
                    names[str(call["id"])] = name
                arguments = _arguments_object(function.get("arguments"))
                ollama_call: dict[str, Any] = {"function": {"name": name, "arguments": arguments}}
                if call.get("id"):
                    ollama_call["id"] = call["id"]
                calls.append(ollama_call)
            converted["tool_calls"] = calls
        if message.get("role") == "tool" and "tool_name" not in converted:
            tool_name = names.get(str(message.get("tool_call_id")))
            if tool_name:
                converted["tool_name"] = tool_name
        out.append(converted)
    return out


def _flatten(parts: list[Any]) -> tuple[str, list[str]]:
    texts: list[str] = []
    images: list[str] = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if ";base64," in url:
                images.append(url.split(";base64,", 1)[1])
    return "".join(texts), images


def _arguments_object(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments if arguments is not None else {}
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:
        return {}


class LineParser:
    """Turns ``/api/chat`` NDJSON lines into stream events; keeps the done reason and usage.

    Usage and the finish reason are given by :meth:`end`, so a stream always ends
    ``..., Usage, Finish``; a ``done: true`` line sets :attr:`done`.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        """True once the ``done: true`` line arrived."""
        self.done_raw: str | None = None
        self.usage: Usage | None = None
        self.tool_calls = 0
        """Tool calls received so far (the next call's index)."""
        self.model: str | None = None
        """The model named by the stream's lines (the one that answered)."""

    def feed(self, line: str) -> list[StreamEvent]:
        """Parse one NDJSON line.

        Raises:
            ServerError: on an ``{"error": ...}`` line or a line that is not a JSON object.
        """
        try:
            data: Any = json.loads(line)
        except ValueError:
            raise ServerError(
                f"malformed stream line: {line[:200]!r}", provider=self.provider
            ) from None
        if not isinstance(data, dict):
            raise ServerError(f"unexpected stream line: {line[:200]!r}", provider=self.provider)
        if data.get("error"):  # a context overflow or rate limit gets its own class
            raise in_band_error(str(data["error"]), None, self.provider)
        out: list[StreamEvent] = []
        message = data.get("message") or {}
        if message.get("thinking"):
            out.append(ReasoningDelta(str(message["thinking"])))
        if message.get("content"):
            out.append(ContentDelta(str(message["content"])))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = function.get("arguments")
            fragment = (
                arguments
                if isinstance(arguments, str)
                else json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
            )
            index = self.tool_calls
            self.tool_calls += 1
            call_id = str(call.get("id") or f"call_{index}")
            out.append(ToolCallDelta(index, call_id, str(function.get("name") or ""), fragment))
        if data.get("model"):
            self.model = str(data["model"])
        if data.get("done"):
            self.done = True
            self.done_raw = str(data["done_reason"]) if data.get("done_reason") else None
            self.usage = _usage(data)
        return out

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """The closing events when the body ended; `complete` is False on a dropped connection.

        Raises:
            StreamInterrupted: the stream ended before the ``done: true`` line.
        """
        if not self.done:
            raise interrupted(self.provider, complete=complete)
        reason = _DONE_REASONS.get(self.done_raw or "stop", "stop")
        if reason == "stop" and self.tool_calls:
            reason = "tool_calls"
        out: list[StreamEvent] = [self.usage] if self.usage else []
        out.append(Finish(reason, self.done_raw, model=self.model))
        return out


def _usage(data: Mapping[str, Any]) -> Usage | None:
    prompt, completion = data.get("prompt_eval_count"), data.get("eval_count")
    if prompt is None and completion is None:
        return None
    inp, out = int(prompt or 0), int(completion or 0)
    return Usage(input_tokens=inp, output_tokens=out, total_tokens=inp + out)


class OllamaProvider:
    """Streams replies from Ollama's native ``/api/chat``.

    Follows the Ollama API reference, "Generate a chat completion".

    Args:
        client: the shared httpx client (its timeouts apply).
        base_url: the server root (``OLLAMA_HOST`` parsed, e.g. ``http://127.0.0.1:11434``);
            requests go to ``{base_url}/api/chat``. A trailing ``/v1`` or ``/api`` is dropped.
        api_key: sent as ``Authorization: Bearer`` (Ollama behind a proxy, Ollama's cloud).
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
        name: str = "ollama",
        headers: Mapping[str, str] | None = None,
        policy: StreamPolicy | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or StreamPolicy()
        root = base_url.rstrip("/")
        for suffix in ("/v1", "/api"):
            if root.endswith(suffix):
                root = root[: -len(suffix)]
        self.base_url = root
        self.name = name
        key = ("Authorization", f"Bearer {api_key}") if api_key else None
        self._headers = provider_headers("application/x-ndjson", headers, key)

    def __repr__(self) -> str:
        return f"OllamaProvider(name={self.name!r}, base_url={self.base_url!r})"

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming ``/api/chat`` request.

        Options: ``temperature``, ``top_p``, ``top_k``, ``seed`` and ``stop`` go into
        ``options``, ``max_tokens`` as ``options.num_predict``; ``think`` (bool or level)
        and ``reasoning_effort`` (a level such as "high"; "none" turns thinking off) set
        ``think``, as does ``thinking_budget`` (Ollama has no budget: a positive one is
        ``think: true``); ``format`` and ``keep_alive`` stay top-level; other wire protocols'
        options are dropped; anything else (``num_ctx``, ``repeat_penalty`` ...) goes into
        ``options``.
        """
        body: dict[str, Any] = {
            "model": request.model,
            "messages": convert_messages(request.messages, request.system),
            "stream": True,
        }
        if request.tools:
            body["tools"] = [dict(t) for t in request.tools]
        think = _think(request.options)
        if think is not None:
            body["think"] = think
        options: dict[str, Any] = {}
        for key, value in request.options.items():
            if key in ("max_tokens", "max_completion_tokens"):
                options["num_predict"] = value
            elif key == "stop":
                options["stop"] = [value] if isinstance(value, str) else list(value)
            elif key in _TOP_LEVEL:
                body[key] = value
            elif key not in _DROPPED and key not in _THINK_OPTIONS:
                options[key] = value
        if options:
            body["options"] = options
        return body

    async def list_models(self) -> list[str]:
        """Local model names from ``GET {base_url}/api/tags`` (Ollama API "List Local
        Models"), sorted.

        Raises:
            ProviderError: the matching subclass on an HTTP error or a network failure.
        """
        data = await get_json(self.client, f"{self.base_url}/api/tags", self._headers, self.name)
        items = data.get("models") if isinstance(data, dict) else None
        return sorted(
            str(m.get("name") or m.get("model"))
            for m in items or ()
            if isinstance(m, dict) and (m.get("name") or m.get("model"))
        )

    async def image_models(self, names: list[str]) -> set[str]:
        """Those of `names` whose ``capabilities`` include ``"vision"`` in ``POST
        {base_url}/api/show`` (Ollama API "Show Model Information"); a model the server does
        not describe is left out.
        """

        async def takes_images(name: str) -> bool:
            try:
                response = await self.client.post(f"{self.base_url}/api/show", json={"model": name},
                                                   headers=self._headers, timeout=10.0)
                data = response.json() if response.status_code == 200 else {}
            except (httpx.HTTPError, ValueError):
                return False
            capabilities = data.get("capabilities") if isinstance(data, dict) else None
            return isinstance(capabilities, list) and "vision" in capabilities

        found = set()
        for start in range(0, len(names), 8):  # a few at a time: a local server
            batch = names[start:start + 8]
            for name, vision in zip(batch, await asyncio.gather(*map(takes_images, batch)), strict=True):
                if vision:
                    found.add(name)
        return found

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """POST ``{base_url}/api/chat`` and yield the reply's events (Finish last).

        Raises:
            NotFoundError: the model is not pulled (HTTP 404), with Ollama's message.
            AuthenticationError, BadRequestError, RateLimitError, ServerError: on another
                HTTP error status, with the server's own message.
            ConnectError, ProviderTimeout: when the server cannot be reached or is silent.
            StreamInterrupted: the stream ended before the ``done: true`` line.
            ServerError: an ``{"error": ...}`` line (after the events before it were
                yielded) or a malformed line.
        """
        url = f"{self.base_url}/api/chat"
        async for event in post_stream(
            self.client,
            url,
            body=self.build_body(request),
            headers=self._headers,
            provider=self.name,
            decoder_factory=NDJSONDecoder,
            parser_factory=lambda: LineParser(self.name),
            parse=LineParser.feed,
            whole_json=None,
            policy=self.policy,
        ):
            yield event


