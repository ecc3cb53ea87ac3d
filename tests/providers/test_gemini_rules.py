"""Gemini's mappings and side paths, one row per documented value, through the loopback server
where the wire is involved; written against the mutants that lived
(`python tools/mutation.py providers.gemini` / `providers.gemini_request`).

Expected values follow the Gemini API reference: "Generating content" (``Candidate.FinishReason``,
``UsageMetadata``: ``promptTokenCount`` includes cached content, thoughts are output,
``promptFeedback.blockReason``), "Function calling", "Models" (``models.list``: pages with
``nextPageToken``, ``supportedGenerationMethods``, ``inputTokenLimit``) and "Gemini thinking"
(``thinkingBudget`` for 2.x models, ``thinkingLevel`` after).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import (
    ContextLengthError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from llmchat.providers.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    StreamEvent,
    ThinkingBlock,
    ToolCallDelta,
    Usage,
)
from llmchat.providers.gemini import GeminiProvider
from llmchat.providers.gemini_request import build_body, convert_contents, convert_tools
from tests.loopback import DROP, LoopbackServer, Reply, json_reply
from tests.streams import GEMINI_MODEL, data_sse, gemini_chunk

HI = [{"role": "user", "content": "hi"}]


def root(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def collect(server: LoopbackServer, chunks: list[Any], *, name: str = "gemini",
                  parts: list[Any] | None = None) -> list[StreamEvent]:
    server.handler = lambda _r: Reply(parts=[data_sse(chunks), *(parts or [])])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="k", name=name)
        return [e async for e in provider.stream(ChatRequest(model="gemini-2.5-flash", messages=HI))]


async def collect_error(server: LoopbackServer, chunks: list[Any], error: type[ProviderError], *,
                        parts: list[Any] | None = None) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []
    server.handler = lambda _r: Reply(parts=[data_sse(chunks), *(parts or [])])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), api_key="k", name="gem")
        with pytest.raises(error) as info:
            async for event in provider.stream(ChatRequest(model="gemini-2.5-flash", messages=HI)):
                events.append(event)
    assert info.value.provider == "gem"
    return events, info.value


# --- finish reasons: every documented value over the wire -----------------------------------

STOPPING = [("STOP", "stop"), ("FINISH_REASON_UNSPECIFIED", "stop"), ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"), ("RECITATION", "content_filter"), ("LANGUAGE", "content_filter"),
            ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"), ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
            ("IMAGE_RECITATION", "content_filter"), ("SOMETHING_NEW", "stop")]
FAILING = ["OTHER", "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
           "MISSING_THOUGHT_SIGNATURE", "MALFORMED_RESPONSE", "IMAGE_OTHER", "NO_IMAGE"]


@pytest.mark.parametrize(("raw", "reason"), STOPPING)
async def test_finish_reasons(server: LoopbackServer, raw: str, reason: str) -> None:
    events = await collect(server, [gemini_chunk({"text": "a"}, finish=raw)])
    assert events == [ContentDelta("a"), Finish(reason, raw)]  # type: ignore[arg-type]
    assert events[-1].model == GEMINI_MODEL  # type: ignore[attr-defined]


@pytest.mark.parametrize(("raw", "reason"), STOPPING)
async def test_finish_reasons_of_a_turn_that_called_a_function(server: LoopbackServer, raw: str, reason: str) -> None:
    events = await collect(server, [gemini_chunk({"functionCall": {"name": "f", "args": {}, "id": "c1"}}, finish=raw)])
    assert events[0] == ToolCallDelta(0, "c1", "f", "{}")
    assert events[-1] == Finish("tool_calls" if reason == "stop" else reason, raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", FAILING)
async def test_error_finish_reasons_raise_after_the_partial_reply(server: LoopbackServer, raw: str) -> None:
    events, error = await collect_error(server, [gemini_chunk({"text": "par"}, finish=raw)], ServerError)
    assert events == [ContentDelta("par")]
    assert error.message == f"the model stopped with {raw}"  # no finishMessage: nothing after the name


async def test_an_error_finish_reason_with_its_message(server: LoopbackServer) -> None:
    last = gemini_chunk(finish="OTHER")
    last["candidates"][0]["finishMessage"] = "Unknown problem."
    _, error = await collect_error(server, [gemini_chunk({"text": "x"}), last], ServerError)
    assert error.message == "the model stopped with OTHER: Unknown problem."


async def test_the_first_finish_reason_is_not_lost_to_a_later_chunk(server: LoopbackServer) -> None:
    chunks = [gemini_chunk({"text": "a"}, finish="MAX_TOKENS"), {"usageMetadata": {"promptTokenCount": 3},
                                                                  "modelVersion": "gemini-2.5-pro"}]
    events = await collect(server, chunks)
    assert events == [ContentDelta("a"), Usage(3, 0, 3), Finish("length", "MAX_TOKENS")]
    assert events[-1].model == "gemini-2.5-pro"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("feedback", "raw", "message"), [
    ({"blockReason": "SAFETY"}, "SAFETY", ""),
    ({"blockReason": "OTHER", "blockReasonMessage": "Blocked."}, "OTHER", "Blocked."),
])
async def test_a_blocked_prompt(server: LoopbackServer, feedback: dict[str, str], raw: str, message: str) -> None:
    if raw == "OTHER":  # an error reason: raised, with the server's explanation
        _, error = await collect_error(server, [{"promptFeedback": feedback}], ServerError)
        assert error.message == f"the model stopped with OTHER: {message}"
    else:
        assert await collect(server, [{"promptFeedback": feedback}]) == [Finish("content_filter", raw)]


# --- usage ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}, Usage(10, 5, 15)),
        ({"promptTokenCount": 10, "candidatesTokenCount": 5}, Usage(10, 5, 15)),  # no total: the sum
        ({"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 99}, Usage(10, 5, 99)),
        ({"promptTokenCount": 10}, Usage(10, 0, 10)),
        ({"candidatesTokenCount": 4}, Usage(0, 4, 4)),
        ({"thoughtsTokenCount": 6}, Usage(0, 6, 6, reasoning_tokens=6)),  # thoughts alone are output
        ({"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "totalTokenCount": 35},
         Usage(10, 25, 35, reasoning_tokens=20)),
        ({"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 0},
         Usage(10, 5, 15, reasoning_tokens=0)),
        ({"promptTokenCount": 1100, "candidatesTokenCount": 5, "cachedContentTokenCount": 1024},
         Usage(1100, 5, 1105, cached_tokens=1024)),
        ({"promptTokenCount": 10, "candidatesTokenCount": 5, "cachedContentTokenCount": 0},
         Usage(10, 5, 15, cached_tokens=0)),
        ({"totalTokenCount": 9}, None),  # no counts: no Usage
        ({}, None),
        ("not an object", None),
    ],
)
async def test_usage_fields(server: LoopbackServer, metadata: Any, expected: Usage | None) -> None:
    events = await collect(server, [{**gemini_chunk({"text": "a"}, finish="STOP"), "usageMetadata": metadata}])
    assert events == [ContentDelta("a"), *([expected] if expected else []), Finish("stop", "STOP")]


async def test_the_last_usage_wins_and_a_chunk_without_counts_keeps_it(server: LoopbackServer) -> None:
    chunks = [gemini_chunk({"text": "a"}, usage={"promptTokenCount": 4, "candidatesTokenCount": 1}),
              gemini_chunk({"text": "b"}, usage={"promptTokenCount": 4, "candidatesTokenCount": 2}),
              gemini_chunk({"text": "c"}, finish="STOP", usage={"totalTokenCount": 1})]
    events = await collect(server, chunks)
    assert events[-2:] == [Usage(4, 2, 6), Finish("stop", "STOP")]


# --- chunks: candidates, parts, errors -----------------------------------------------------------


async def test_only_the_first_candidate_is_read(server: LoopbackServer) -> None:
    chunk = {"candidates": [
        {"index": 1, "content": {"parts": [{"text": "other"}]}, "finishReason": "SAFETY"},
        {"content": {"parts": [{"text": "mine"}]}, "finishReason": "STOP"},  # no index: candidate 0
    ]}
    assert await collect(server, [chunk]) == [ContentDelta("mine"), Finish("stop", "STOP")]


async def test_a_chunk_without_our_candidate_says_nothing(server: LoopbackServer) -> None:
    chunks = [{"candidates": [{"index": 2, "content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]},
              {"candidates": []}, {"candidates": None}, gemini_chunk({"text": "y"}, finish="STOP")]
    assert await collect(server, chunks) == [ContentDelta("y"), Finish("stop", "STOP")]


async def test_parts_of_every_kind(server: LoopbackServer) -> None:
    chunk = gemini_chunk(
        {"text": "plan", "thought": True},
        {"text": ""},  # nothing
        {"text": 7},  # not text
        {"inlineData": {"mimeType": "image/png", "data": "AAA"}},  # not shown
        {"text": "answer"},
        {"functionCall": {"name": "f"}},  # no args: an empty object
        {"functionCall": {"args": {"q": "é"}, "id": "c2"}},  # no name
        finish="STOP")
    content = chunk["candidates"][0]["content"]
    content["role"] = "model"
    chunk["candidates"][0].pop("index")
    events = await collect(server, [chunk])
    assert events[:2] == [ReasoningDelta("plan"), ContentDelta("answer")]
    first, second = events[2:4]
    assert isinstance(first, ToolCallDelta) and isinstance(second, ToolCallDelta)
    assert (first.index, first.name, first.arguments_fragment) == (0, "f", "{}")
    assert first.id is not None and first.id.startswith("call_") and len(first.id) == len("call_") + 12
    assert second == ToolCallDelta(1, "c2", "", '{"q": "é"}')  # ensure_ascii=False: the character itself
    assert events[4:] == [Finish("tool_calls", "STOP")]


async def test_ids_made_for_calls_are_unique(server: LoopbackServer) -> None:
    calls = [{"functionCall": {"name": "f", "args": {}}} for _ in range(3)]
    events = await collect(server, [gemini_chunk(*calls, finish="STOP")])
    ids = [e.id for e in events if isinstance(e, ToolCallDelta)]
    assert len(set(ids)) == 3 and [e.index for e in events if isinstance(e, ToolCallDelta)] == [0, 1, 2]


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ({"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}, ServerError,
         "The model is overloaded."),
        ({"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED"}, RateLimitError, "Quota exceeded."),
        ({"code": 429, "message": "Quota exceeded."}, ServerError, "Quota exceeded."),  # a number is no status
        ({"message": "Too much.", "code": "RESOURCE_EXHAUSTED"}, RateLimitError, "Too much."),  # no status: the code
        ({"code": 400, "message": "The input token count (2000000) exceeds the maximum number of tokens allowed "
          "(1048576).", "status": "INVALID_ARGUMENT"}, ContextLengthError, None),
        ({"status": "INTERNAL"}, ServerError, "error"),  # no message
    ],
)
async def test_in_band_errors(server: LoopbackServer, error: dict[str, Any], kind: type[ProviderError],
                              message: str | None) -> None:
    events, raised = await collect_error(server, [gemini_chunk({"text": "a"}), {"error": error}], ProviderError)
    assert events == [ContentDelta("a")]
    assert type(raised) is kind
    assert raised.message == (message or error["message"])


async def test_an_error_that_is_not_an_object_is_not_an_error_chunk(server: LoopbackServer) -> None:
    chunks = [{"error": "odd", **gemini_chunk({"text": "a"}, finish="STOP")}]
    assert await collect(server, chunks) == [ContentDelta("a"), Finish("stop", "STOP")]


@pytest.mark.parametrize(("data", "start"), [
    (b"data: {not json\r\n\r\n", "malformed stream chunk: '{not json'"),
    (b"data: 42\r\n\r\n", "unexpected stream chunk: '42'"),
    (b'data: ["x"]\r\n\r\n', "unexpected stream chunk: 'x'"),
])
async def test_chunks_that_are_not_responses(server: LoopbackServer, data: bytes, start: str) -> None:
    _, error = await collect_error(server, [gemini_chunk({"text": "a"})], ServerError, parts=[data])
    assert type(error) is ServerError and error.message == start


async def test_a_long_malformed_chunk_is_cut_in_the_message(server: LoopbackServer) -> None:
    data = b"data: {" + b"x" * 500 + b"\r\n\r\n"
    _, error = await collect_error(server, [], ServerError, parts=[data])
    assert error.message == "malformed stream chunk: " + repr("{" + "x" * 199)


@pytest.mark.parametrize(("parts", "message"), [
    ([], "the connection closed before the reply was finished"),
    ([DROP], "the connection was lost before the reply was finished"),
])
async def test_a_stream_without_finish_reason(server: LoopbackServer, parts: list[Any], message: str) -> None:
    events, error = await collect_error(server, [gemini_chunk({"text": "a"})], StreamInterrupted, parts=parts)
    assert events == [ContentDelta("a")] and error.message == message


# --- the turn's parts kept for the tool loop (thought signatures) ------------------------------


async def test_signed_turn_parts_are_given_with_texts_joined(server: LoopbackServer) -> None:
    chunks = [
        gemini_chunk({"text": "Let ", "thought": True}),
        gemini_chunk({"text": "me think.", "thought": True}),
        gemini_chunk({"text": "Sure"}, {"text": ""}),
        gemini_chunk({"text": ", calling."}),
        gemini_chunk({"functionCall": {"name": "f", "args": {"a": 1}, "id": "id1"}, "thoughtSignature": "sig"}),
        gemini_chunk({"text": "after", "thoughtSignature": "sig2"}),
        gemini_chunk({"text": " more"}, finish="STOP", usage={"promptTokenCount": 2, "candidatesTokenCount": 3}),
    ]
    events = await collect(server, chunks)
    (block,) = [e.block for e in events if isinstance(e, ThinkingBlock)]
    assert block == {"type": "gemini_content", "call_ids": ["id1"], "parts": [
        {"text": "Let me think.", "thought": True},
        {"text": "Sure, calling."},
        {"functionCall": {"name": "f", "args": {"a": 1}, "id": "id1"}, "thoughtSignature": "sig"},
        {"text": "after", "thoughtSignature": "sig2"},  # a signed part is not joined to
        {"text": " more"},
    ]}
    assert events[-3:] == [ThinkingBlock(block), Usage(2, 3, 5), Finish("tool_calls", "STOP")]


async def test_unsigned_calls_or_signed_text_without_calls_give_no_block(server: LoopbackServer) -> None:
    unsigned = await collect(server, [gemini_chunk({"functionCall": {"name": "f", "args": {}}}, finish="STOP")])
    assert not any(isinstance(e, ThinkingBlock) for e in unsigned)
    signed_text = await collect(server, [gemini_chunk({"text": "a", "thoughtSignature": "s"}, finish="STOP")])
    assert signed_text == [ContentDelta("a"), Finish("stop", "STOP")]


async def test_thought_and_answer_texts_are_not_joined(server: LoopbackServer) -> None:
    chunks = [gemini_chunk({"text": "answer"}), gemini_chunk({"text": "thought", "thought": True}),
              gemini_chunk({"text": "answer2", "thought": False}),
              gemini_chunk({"functionCall": {"name": "f", "args": {}, "id": "i"}, "thoughtSignature": "s"},
                           finish="STOP")]
    events = await collect(server, chunks)
    (block,) = [e.block for e in events if isinstance(e, ThinkingBlock)]
    assert [p.get("text") for p in block["parts"]] == ["answer", "thought", "answer2", None]


# --- the provider: URL, key, models ---------------------------------------------------------


@pytest.mark.parametrize(("suffix", "model", "path"), [
    ("", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    ("/", "models/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    ("/v1beta", "tuned/a b", "/v1beta/models/tuned%2Fa%20b:streamGenerateContent?alt=sse"),
    ("/v1beta/", "gemini-2.5-pro", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"),
])
async def test_request_url(server: LoopbackServer, suffix: str, model: str, path: str) -> None:
    server.handler = lambda _r: Reply(parts=[data_sse([gemini_chunk({"text": "a"}, finish="STOP")])])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server) + suffix)
        assert provider.base_url == root(server)
        [e async for e in provider.stream(ChatRequest(model=model, messages=HI))]
    request = server.requests[0]
    assert request.path == path and request.method == "POST"
    assert "x-goog-api-key" not in request.headers  # no key: no header
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["user-agent"].startswith("llmchat/")


async def test_extra_headers_are_sent(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[data_sse([gemini_chunk({"text": "a"}, finish="STOP")])])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server), headers={"X-Team": "blue"}, api_key="key9")
        [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    assert server.requests[0].headers["x-team"] == "blue"
    assert server.requests[0].headers["x-goog-api-key"] == "key9"
    assert "key9" not in repr(provider)


async def test_model_list_rules(server: LoopbackServer) -> None:
    pages = iter([
        {"models": [
            {"name": "models/b", "inputTokenLimit": 100},  # no methods listed: kept
            {"name": "models/emb", "supportedGenerationMethods": ["embedContent"]},
            {"name": "", "supportedGenerationMethods": ["generateContent"]},
            "models/x",
            {"name": "tunedModels/t", "inputTokenLimit": "many", "supportedGenerationMethods": ["generateContent"]},
        ], "nextPageToken": "a b/c"},
        {"models": [{"name": "models/a", "inputTokenLimit": 7}, {"name": "models/b"}], "nextPageToken": ""},
        {"models": [{"name": "models/never"}]},
    ])
    server.handler = lambda _r: json_reply(200, next(pages))
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server))
        assert await provider.list_models() == ["a", "b", "tunedModels/t"]
    assert provider.context_windows == {"b": 100, "a": 7}
    assert [r.path for r in server.requests] == ["/v1beta/models?pageSize=1000",
                                                 "/v1beta/models?pageSize=1000&pageToken=a%20b/c"]


async def test_model_list_that_is_not_an_object(server: LoopbackServer) -> None:
    server.handler = lambda _r: json_reply(200, ["models/a"])
    async with httpx.AsyncClient(timeout=10) as client:
        assert await GeminiProvider(client=client, base_url=root(server)).list_models() == []
    assert len(server.requests) == 1


async def test_model_list_that_pages_forever_is_cut_off(server: LoopbackServer) -> None:
    count = iter(range(1000))
    server.handler = lambda _r: json_reply(200, {"models": [{"name": f"models/m{next(count)}"}],
                                                 "nextPageToken": "again"})
    async with httpx.AsyncClient(timeout=10) as client:
        names = await GeminiProvider(client=client, base_url=root(server)).list_models()
    assert len(server.requests) == 50 and len(names) == 50


# --- requests: contents, tools, options -----------------------------------------------------------


def test_contents_roles_merging_and_system_text() -> None:
    messages = [
        {"role": "system", "content": "one"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}, {"type": "image_url"}, "x"]},
        {"role": "system", "content": None},  # nothing to add
        {"role": "user", "content": None},  # an empty turn is left out
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "q"}, 5,
                                     {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}, "type": "blob"}]},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": "a1"},
        {"role": "assistant", "content": [{"type": "text", "text": "a2"}]},
        {"role": "tool", "tool_call_id": "unknown", "content": [{"type": "text", "text": "r"}]},
    ]
    contents, system = convert_contents(messages)
    assert system == "one\n\ntwo"
    assert contents == [
        {"role": "user", "parts": [{"text": "q"}, {"inlineData": {"mimeType": "audio/wav", "data": "UklG"},
                                                   "type": "blob"}]},
        {"role": "model", "parts": [{"text": "a1"}, {"text": "a2"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {"result": "r"}}}]},
    ]


def test_tool_results_name_their_call_and_keep_geminis_call_id() -> None:
    block = {"type": "gemini_content", "call_ids": ["c1", "c2"], "parts": [
        {"functionCall": {"name": "f", "args": {}, "id": "g-1"}, "thoughtSignature": "s"},
        {"functionCall": {"name": "g", "args": {}}}]}
    messages = [
        {"role": "assistant", "content": None, "thinking_blocks": [{"type": "thinking"}, block], "tool_calls": [
            {"id": "c1", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two", "is_error": False},
    ]
    contents, _ = convert_contents(messages)
    assert contents == [
        {"role": "model", "parts": block["parts"]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {"result": "one"}, "id": "g-1"}},
            {"functionResponse": {"name": "g", "response": {"result": "two"}}}]},
    ]
    assert contents[0]["parts"][0] is not block["parts"][0]  # copies: the stored block is not changed


def test_a_block_with_fewer_ids_than_calls_leaves_the_rest_out() -> None:
    block = {"type": "gemini_content", "call_ids": ["c1"], "parts": [
        {"text": "t"}, {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {}}}]}
    message = {"role": "assistant", "content": "ignored", "thinking_blocks": [block],
               "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
    contents, _ = convert_contents([message])
    assert contents == [{"role": "model", "parts": [{"text": "t"}, {"functionCall": {"name": "f", "args": {}}}]}]


@pytest.mark.parametrize(("arguments", "args"), [
    ('{"a": 1}', {"a": 1}), ({"b": 2}, {"b": 2}), ("[1, 2]", {}), ("", {}), (None, {}), ("{bad", {}), (7, {}),
])
def test_call_arguments_become_an_object(arguments: Any, args: dict[str, Any]) -> None:
    message = {"role": "assistant", "content": None,
               "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": arguments}}]}
    contents, _ = convert_contents([message])
    assert contents == [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": args}}]}]


@pytest.mark.parametrize(("url", "part"), [
    ("data:image/webp;base64,UklG", {"inlineData": {"mimeType": "image/webp", "data": "UklG"}}),
    ("https://x.test/a.gif", {"fileData": {"mimeType": "image/gif", "fileUri": "https://x.test/a.gif"}}),
    ("https://x.test/photo", {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/photo"}}),
    ("data:image/png,raw", {"fileData": {"mimeType": "image/png", "fileUri": "data:image/png,raw"}}),  # not base64
])
def test_image_parts(url: str, part: dict[str, Any]) -> None:
    contents, _ = convert_contents([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
    assert contents == [{"role": "user", "parts": [part]}]


def test_a_file_part_that_is_not_inline_data_is_left_out() -> None:
    content = [{"type": "file", "file": {"file_id": "file-1"}}, {"type": "file"},
               {"type": "file", "file": {"file_data": "https://x.test/a.pdf"}}, {"type": "text", "text": "q"}]
    contents, _ = convert_contents([{"role": "user", "content": content}])
    assert contents == [{"role": "user", "parts": [{"text": "q"}]}]


def test_tools_declarations_and_other_tools() -> None:
    tools = [
        {"type": "function", "function": {"name": "a", "description": "", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "b", "parameters": {
            "type": "object", "$id": "x", "properties": {"l": {"type": "array", "items": [
                {"type": "string", "additionalProperties": True}]}}}}},
        {"type": "function"},  # no function object: passed as it is
        {"googleSearch": {}},
    ]
    assert convert_tools(tools) == [
        {"functionDeclarations": [
            {"name": "a"},
            {"name": "b", "parameters": {"type": "object", "properties": {"l": {"type": "array", "items": [
                {"type": "string"}]}}}}]},
        {"type": "function"},
        {"googleSearch": {}},
    ]
    assert convert_tools([{"googleSearch": {}}]) == [{"googleSearch": {}}]
    assert convert_tools([{"type": "function", "function": {}}]) == [{"functionDeclarations": [{"name": ""}]}]


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
    ("none", {"functionCallingConfig": {"mode": "NONE"}}),
    ("required", {"functionCallingConfig": {"mode": "ANY"}}),
    ("sometimes", None),
    ({"type": "function", "function": {"name": "f"}},
     {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}),
    ({"type": "function", "function": {}}, {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [""]}}),
    ({"type": "function"}, None),
    (None, None),
])
def test_tool_choice(choice: Any, config: dict[str, Any] | None) -> None:
    body = build_body(ChatRequest(model="gemini-2.5-flash", messages=HI, options={"tool_choice": choice}))
    assert body.get("toolConfig") == config


def body_of(model: str = "gemini-2.5-flash", system: str | None = None, **options: Any) -> dict[str, Any]:
    return build_body(ChatRequest(model=model, messages=HI, system=system, options=options))


def test_zero_options_are_sent_and_none_left_out() -> None:
    assert body_of(temperature=0, top_p=None, seed=0, max_tokens=None)["generationConfig"] == {
        "temperature": 0, "seed": 0}
    assert "generationConfig" not in body_of(temperature=None, stop="", top_k=None)


@pytest.mark.parametrize(("stop", "sequences"), [("END", ["END"]), (["a", "b"], ["a", "b"]), (("x",), ["x"])])
def test_stop_sequences(stop: Any, sequences: list[str]) -> None:
    assert body_of(stop=stop)["generationConfig"] == {"stopSequences": sequences}


@pytest.mark.parametrize(("model", "options", "thinking"), [
    ("gemini-2.5-flash", {"reasoning_effort": "none"}, {"thinkingBudget": 0}),
    ("gemini-2.5-flash", {"reasoning_effort": "low"}, {"thinkingBudget": 1024}),
    ("gemini-2.5-flash", {"reasoning_effort": "medium"}, {"thinkingBudget": 8192}),
    ("gemini-2.5-pro", {"reasoning_effort": "high"}, {"thinkingBudget": 24576}),
    ("models/gemini-2.0-flash-thinking", {"reasoning_effort": "high"}, {"thinkingBudget": 24576}),
    ("gemini-2.5-flash", {"reasoning_effort": "minimal"}, {"thinkingLevel": "minimal"}),  # no budget: a level
    ("gemini-3-pro-preview", {"reasoning_effort": "high"}, {"thinkingLevel": "high"}),
    ("gemini-2.5-flash", {"reasoning_effort": "high", "thinking_budget": 100}, {"thinkingBudget": 100}),
    ("gemini-3-pro-preview", {"reasoning_effort": "low", "thinking_budget": 0},
     {"thinkingBudget": 0, "thinkingLevel": "low"}),
    ("gemini-2.5-flash", {"thinking_budget": "2048"}, {"thinkingBudget": 2048}),
    ("gemini-2.5-flash", {"thinking_budget": -1}, {"thinkingBudget": -1}),  # dynamic thinking
])
def test_thinking_config(model: str, options: dict[str, Any], thinking: dict[str, Any]) -> None:
    assert body_of(model, **options)["generationConfig"]["thinkingConfig"] == {**thinking, "includeThoughts": True}


def test_no_thinking_options_no_thinking_config() -> None:
    assert "generationConfig" not in body_of(reasoning_effort="", thinking_budget=None)


@pytest.mark.parametrize(("system", "messages", "instruction"), [
    ("sys", [{"role": "system", "content": "more"}], "sys\n\nmore"),
    (None, [{"role": "system", "content": "more"}], "more"),
    ("sys", [], "sys"),
    ("", [], None),
])
def test_system_instruction(system: str | None, messages: list[dict[str, Any]], instruction: str | None) -> None:
    body = build_body(ChatRequest(model="m", messages=[*messages, *HI], system=system))
    expected = {"parts": [{"text": instruction}]} if instruction else None
    assert body.get("systemInstruction") == expected
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert json.dumps(body)  # plain JSON


def test_an_image_part_without_a_url_is_left_out() -> None:
    content = [{"type": "image_url"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "q"}]
    assert convert_contents([{"role": "user", "content": content}])[0] == [{"role": "user", "parts": [{"text": "q"}]}]


def test_system_text_parts_are_joined_as_they_are() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": None}, {"type": "text", "text": "b"}]
    assert convert_contents([{"role": "system", "content": content}]) == ([], "ab")


def test_an_unanswered_call_in_a_block_does_not_end_the_turns_parts() -> None:
    block = {"type": "gemini_content", "call_ids": ["c1", "c2"], "parts": [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "s"},
        {"functionCall": {"args": {}}},  # answered, without a name
        {"text": "after"}]}
    message = {"role": "assistant", "content": None, "thinking_blocks": [block],
               "tool_calls": [{"id": "c2", "function": {"name": "g", "arguments": "{}"}}]}
    contents, _ = convert_contents([message, {"role": "tool", "tool_call_id": "c2", "content": "r"}])
    assert contents == [
        {"role": "model", "parts": [{"functionCall": {"args": {}}}, {"text": "after"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {"result": "r"}}}]},
    ]


def test_calls_without_ids_or_names() -> None:
    """A server that gives no call id (the tool loop fills them in, but a stored history may
    lack them): the result without an id answers the call without one."""
    plain = {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "{}"}}]}
    contents, _ = convert_contents([plain, {"role": "tool", "content": "r"}])
    assert contents == [
        {"role": "model", "parts": [{"functionCall": {"name": "", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {"result": "r"}}}]},
    ]
    named = {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    contents, _ = convert_contents([named, {"role": "tool", "content": "r"}])
    assert contents[1]["parts"][0]["functionResponse"]["name"] == "f"
    block = {"type": "gemini_content", "call_ids": [], "parts": [{"functionCall": {"name": "f", "args": {}}}]}
    signed = {"role": "assistant", "content": None, "thinking_blocks": [block],
              "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    contents, _ = convert_contents([signed, {"role": "tool", "content": "r"}])
    assert contents == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "r"}}}]},
    ]


async def test_the_defaults_name_and_policy(server: LoopbackServer) -> None:
    from llmchat.providers.policy import StreamPolicy

    server.handler = lambda _r: Reply(parts=[data_sse([gemini_chunk({"text": "a"})])])  # no finishReason
    async with httpx.AsyncClient(timeout=10) as client:
        provider = GeminiProvider(client=client, base_url=root(server))
        assert isinstance(provider.policy, StreamPolicy) and provider.name == "gemini"
        with pytest.raises(StreamInterrupted) as info:
            [e async for e in provider.stream(ChatRequest(model="m", messages=HI))]
    assert info.value.provider == "gemini"
    custom = StreamPolicy(retries=0, idle_timeout=7.0)
    async with httpx.AsyncClient(timeout=10) as client:
        assert GeminiProvider(client=client, policy=custom).policy is custom
