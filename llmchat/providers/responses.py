"""OpenAI Responses API streaming (``POST {base}/responses`` with ``stream: true``).

Wire format: OpenAI API reference, "Responses" ("Create a model response") and "Streaming
events" (https://platform.openai.com/docs/api-reference/responses-streaming): typed SSE
events, each ``event: <type>`` with a JSON ``data`` whose ``type`` repeats it. There is no
``[DONE]``: the stream ends with one of the terminal events ``response.completed``,
``response.incomplete`` or ``response.failed`` (an ``error`` event also ends it). Read here:

- ``response.created`` / ``response.in_progress``: the response's ``model``;
- ``response.output_text.delta``: answer text; ``response.refusal.delta``: a refusal;
- ``response.reasoning_summary_text.delta`` and ``response.reasoning_text.delta``: reasoning;
- ``response.output_item.added`` (``function_call`` items: ``call_id``, ``name``) and
  ``response.function_call_arguments.delta`` / ``.done``: tool calls;
- ``response.output_item.done``: the finished output items, kept for the tool loop;
- the terminal events' ``response``: ``usage`` (``input_tokens``, ``output_tokens``,
  ``total_tokens``, ``input_tokens_details.cached_tokens``,
  ``output_tokens_details.reasoning_tokens``), ``incomplete_details.reason``, ``error``.

Reasoning models and tools ("Reasoning models", "Keeping reasoning items in context"): when a
reply with reasoning calls tools, its output items (``reasoning``, ``message``,
``function_call``, with their ids) are given as :class:`ThinkingBlock` events and sent back
unchanged, in order, before the ``function_call_output`` items. Replies without reasoning
are sent back as plain input items, which every Responses-compatible server accepts.

Requests are built from Chat Completions shaped messages (:mod:`llmchat.providers.base`) by
:mod:`llmchat.providers.responses_request`; the Responses provider is the OpenAI provider with another body,
path and parser, so keys, headers, model lists and retries are the same.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, NoReturn

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import in_band_error
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.http import interrupted, post_stream
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.responses_request import REPLAYED_ITEMS, build_body
from llmchat.providers.sse import SSEDecoder, SSEEvent

INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
"""``incomplete_details.reason`` -> normalized finish reason (any other value: ``length``)."""


# --- response ----------------------------------------------------------------------------


def parse_usage(data: Any) -> Usage | None:
    """Read a Responses ``usage`` object (``input_tokens`` already include the cached ones);
    None when it holds no token counts."""
    if not isinstance(data, Mapping):
        return None
    inp, out = data.get("input_tokens"), data.get("output_tokens")
    if inp is None and out is None:
        return None
    inp, out = int(inp or 0), int(out or 0)
    cached = (data.get("input_tokens_details") or {}).get("cached_tokens")
    reasoning = (data.get("output_tokens_details") or {}).get("reasoning_tokens")
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=int(data.get("total_tokens") or inp + out),
        cached_tokens=int(cached) if cached is not None else None,
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
    )


class ResponsesParser:
    """Turns Responses streaming events into stream events.

    Usage and the finish reason come from the terminal event and are given by :meth:`end`
    (``..., ThinkingBlock*, Usage, Finish``); :attr:`done` is set by ``response.completed``
    or ``response.incomplete``; ``response.failed`` and ``error`` raise.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        """True once a terminal event arrived."""
        self.model: str | None = None
        self.usage: Usage | None = None
        self.reason: FinishReason = "stop"
        self.raw: str | None = None
        self._calls: dict[str, int] = {}  # item id (or "#output_index") -> tool index
        self._call_count = 0
        self._arguments: set[int] = set()  # tool indexes that got argument deltas
        self._streamed_text = False  # an output_text delta arrived
        self._streamed_reasoning = False  # a reasoning (summary) delta arrived
        self._items: list[dict[str, Any]] = []  # finished output items, in order
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[StreamEvent]]] = {
            "response.created": self._on_response,
            "response.in_progress": self._on_response,
            "response.queued": self._on_response,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.output_text.delta": self._on_text_delta,
            "response.output_text.done": self._on_text_done,
            "response.refusal.delta": lambda d: [RefusalDelta(str(d["delta"]))] if d.get("delta") else [],
            "response.reasoning_summary_text.delta": self._on_reasoning_delta,
            "response.reasoning_text.delta": self._on_reasoning_delta,
            "response.reasoning_summary_text.done": self._on_reasoning_done,
            "response.reasoning_text.done": self._on_reasoning_done,
            "response.function_call_arguments.delta": self._on_arguments_delta,
            "response.function_call_arguments.done": self._on_arguments_done,
            "response.completed": self._on_terminal,
            "response.incomplete": self._on_terminal,
            "response.failed": self._on_failed,
        }

    def feed_sse(self, sse: SSEEvent) -> list[StreamEvent]:
        """Parse one SSE event (its ``data``'s ``type``, else the SSE event name, selects it).

        Raises:
            ServerError, RateLimitError, ContextLengthError: on ``error`` /
                ``response.failed`` events and on data that is not a JSON object.
        """
        if sse.data == "[DONE]":
            return []  # Chat Completions' end marker, which some bridges add: not an end here
        try:
            data: Any = json.loads(sse.data)
        except ValueError:
            if sse.event == "error":
                raise in_band_error(sse.data.strip() or "error event", None, self.provider) from None
            raise in_band_error(f"malformed stream event: {sse.data[:200]!r}", None, self.provider) from None
        if not isinstance(data, dict):
            raise in_band_error(f"unexpected stream event: {sse.data[:200]!r}", None, self.provider)
        kind = str(data.get("type") or sse.event)
        if kind == "error" or sse.event == "error":
            self._raise(data.get("error") if isinstance(data.get("error"), Mapping) else data)
        handler = self._handlers.get(kind)
        return handler(data) if handler is not None else []

    def _raise(self, error: Mapping[str, Any]) -> NoReturn:
        message = str(error.get("message") or "the response failed")
        code = error.get("code") or error.get("type")
        raise in_band_error(message, str(code) if code else None, self.provider)

    def _on_response(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        response = data.get("response") or {}
        if response.get("model"):
            self.model = str(response["model"])
        return []

    def _tool_index(self, data: Mapping[str, Any]) -> int | None:
        for key in (str(data.get("item_id") or ""), f"#{data.get('output_index')}"):
            if key in self._calls:
                return self._calls[key]
        return None

    def _on_item_added(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item = data.get("item") or {}
        if item.get("type") != "function_call":
            return []
        index = self._call_count
        self._call_count += 1
        if item.get("id"):
            self._calls[str(item["id"])] = index
        self._calls[f"#{data.get('output_index')}"] = index
        arguments = str(item.get("arguments") or "")
        if arguments:
            self._arguments.add(index)
        return [ToolCallDelta(index, str(item.get("call_id") or item.get("id") or ""),
                              str(item.get("name") or ""), arguments)]

    def _on_arguments_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        index = self._tool_index(data)
        if index is None or not data.get("delta"):
            return []
        self._arguments.add(index)
        return [ToolCallDelta(index, None, None, str(data["delta"]))]

    def _on_arguments_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        index = self._tool_index(data)
        if index is None or index in self._arguments or not data.get("arguments"):
            return []
        self._arguments.add(index)  # a server that sends the arguments whole, at the end
        return [ToolCallDelta(index, None, None, str(data["arguments"]))]

    def _on_item_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return []
        self._items.append(dict(item))
        if item.get("type") != "function_call":
            return []
        index = self._tool_index({"item_id": item.get("id"), "output_index": data.get("output_index")})
        if index is None:  # never announced by output_item.added: the whole call now
            return self._on_item_added(data)
        return self._on_arguments_done({"item_id": item.get("id"), "output_index": data.get("output_index"),
                                        "arguments": item.get("arguments")})

    def _on_text_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        self._streamed_text = True
        return [ContentDelta(str(data["delta"]))] if data.get("delta") else []

    def _on_text_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        # Only for a server that sends the text whole: once any delta came, `done` repeats it
        # (LiteLLM's bridge gives deltas and `done` different item ids, so ids cannot tell).
        if self._streamed_text or not data.get("text"):
            return []
        return [ContentDelta(str(data["text"]))]

    def _on_reasoning_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        # summary and reasoning-text deltas as they come, parts joined as sent
        self._streamed_reasoning = True
        return [ReasoningDelta(str(data["delta"]))] if data.get("delta") else []

    def _on_reasoning_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        # only for a server that sends reasoning whole (as for the text, see _on_text_done)
        if self._streamed_reasoning or not data.get("text"):
            return []
        return [ReasoningDelta(str(data["text"]))]

    def _on_terminal(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        response = data.get("response") or {}
        self._on_response(data)
        self.usage = parse_usage(response.get("usage")) or self.usage
        kind = data.get("type")
        details = response.get("incomplete_details") or {}
        if kind == "response.incomplete" or response.get("status") == "incomplete":
            self.raw = str(details.get("reason") or "incomplete")
            self.reason = INCOMPLETE_REASONS.get(self.raw, "length")
        else:
            self.raw = str(response.get("status") or "completed")
            output = response.get("output") or self._items
            calls = self._call_count or any(
                isinstance(i, Mapping) and i.get("type") == "function_call" for i in output
            )
            self.reason = "tool_calls" if calls else "stop"
        self.done = True
        return []

    def _on_failed(self, data: Mapping[str, Any]) -> NoReturn:
        response = data.get("response") or {}
        error = response.get("error")
        self._raise(error if isinstance(error, Mapping) else {"message": "the response failed"})

    def end(self, *, complete: bool) -> list[StreamEvent]:
        """The closing events: output items to replay (replies with reasoning), Usage, Finish.

        Raises:
            StreamInterrupted: the stream ended before a terminal event.
        """
        if not self.done:
            raise interrupted(self.provider, complete=complete)
        out: list[StreamEvent] = []
        if any(i.get("type") == "reasoning" for i in self._items):
            out += [ThinkingBlock(i) for i in self._items if i.get("type") in REPLAYED_ITEMS]
        if self.usage:
            out.append(self.usage)
        out.append(Finish(self.reason, self.raw, model=self.model))
        return out

    def feed_response(self, text: str) -> list[StreamEvent]:
        """Parse a whole (non-streaming) Response object, for servers that ignore ``stream``."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if isinstance(data.get("error"), Mapping):
            self._raise(data["error"])
        if data.get("status") == "failed":
            self._on_failed({"response": data})
        if data.get("object") != "response" and "output" not in data:
            return []  # not a reply (a wrong base URL?): the end says what the body was
        out: list[StreamEvent] = []
        for position, item in enumerate(data.get("output") or ()):
            kind = item.get("type")
            if kind == "message":
                for part in item.get("content") or ():
                    if part.get("type") == "output_text" and part.get("text"):
                        out.append(ContentDelta(str(part["text"])))
                    elif part.get("type") == "refusal" and part.get("refusal"):
                        out.append(RefusalDelta(str(part["refusal"])))
            elif kind == "reasoning":
                summary = "".join(str(s.get("text") or "") for s in item.get("summary") or ())
                if summary:
                    out.append(ReasoningDelta(summary))
            if kind == "function_call":
                out += self._on_item_done({"item": item, "output_index": position})
            else:
                self._on_item_done({"item": item, "output_index": position})
        self._on_terminal({"type": "response." + ("incomplete" if data.get("status") == "incomplete"
                                                  else "completed"), "response": data})
        return out


# --- provider ----------------------------------------------------------------------------


class ResponsesProvider(OpenAIProvider):
    """Streams replies from the OpenAI Responses API (same key, base URL, headers and model
    list as :class:`~llmchat.providers.openai.OpenAIProvider`).

    Args: as for :class:`~llmchat.providers.openai.OpenAIProvider`; requests go to
    ``{base_url}/responses``.
    """

    def __repr__(self) -> str:
        return f"ResponsesProvider(name={self.name!r}, base_url={self.base_url!r})"

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of a streaming Responses request (see :func:`build_body`)."""
        return build_body(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """POST ``{base_url}/responses`` and yield the reply's events (Finish last).

        Raises:
            BadRequestError: for a text completion (`request.prompt`), which the Responses
                API does not do.
            AuthenticationError, NotFoundError, BadRequestError, RateLimitError, ServerError:
                on an HTTP error status, with the server's own message.
            ConnectError, ProviderTimeout: when the server cannot be reached or is silent.
            StreamInterrupted: the stream ended before a terminal event.
            ServerError, RateLimitError, ContextLengthError: ``error`` or
                ``response.failed`` events (after the events before them were yielded).
        """
        if request.prompt is not None:
            from llmchat.providers.errors import BadRequestError

            raise BadRequestError(
                "the Responses API has no text completions; use an OpenAI-compatible provider",
                provider=self.name,
            )
        async for event in post_stream(
            self.client,
            f"{self.base_url}/responses",
            body=self.build_body(request),
            headers=self._headers,
            provider=self.name,
            decoder_factory=SSEDecoder,
            parser_factory=lambda: ResponsesParser(self.name),
            parse=ResponsesParser.feed_sse,
            whole_json=ResponsesParser.feed_response,
            policy=self.policy,
        ):
            yield event
