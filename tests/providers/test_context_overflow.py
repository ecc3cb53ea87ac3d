"""Context overflow, as real servers word it, is a ContextLengthError with its hint.

Each body is the server's own error body for a prompt longer than the model's context
(llama.cpp's llama-server, vLLM, LiteLLM proxy, OpenRouter, Ollama, Groq, Gemini, OpenAI).
"""

from __future__ import annotations

import json

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import BadRequestError, ContextLengthError, error_for_status, in_band_error
from llmchat.providers.openai import OpenAIProvider
from tests.loopback import LoopbackServer, Reply

LLAMA_CPP = {"error": {"code": 400, "message": "request (5120 tokens) exceeds the available context size (4096 tokens), try increasing it",
                       "type": "exceed_context_size_error", "n_prompt_tokens": 5120, "n_ctx": 4096}}
LLAMA_CPP_OLD = {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                           "type": "exceed_context_size_error", "n_prompt_tokens": 5120, "n_ctx": 4096}}
LLAMA_CPP_TYPE_ONLY = {"error": {"code": 400, "message": "invalid request", "type": "exceed_context_size_error"}}
VLLM = {"object": "error", "message": "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens "
        "(2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.",
        "type": "BadRequestError", "param": None, "code": 400}
VLLM_DECODER = {"error": {"message": "The decoder prompt (length 5000) is longer than the maximum model length of 4096. "
                          "Make sure that `max_model_len` is no smaller than the number of text tokens.",
                          "type": "BadRequestError", "param": None, "code": 400}}
LITELLM = {"error": {"message": "litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: "
                     "OpenAIException - Input is too long for requested model.\nReceived Model Group=gpt-4o\n"
                     "Available Model Group Fallbacks=None", "type": None, "param": None, "code": "400"}}
OPENROUTER = {"error": {"message": "This endpoint's maximum context length is 131072 tokens. However, you requested about "
                        "250000 tokens (250000 of text input). Please reduce the length of either one, or use the "
                        '"middle-out" transform to compress your prompt automatically.', "code": 400,
                        "metadata": {"provider_name": None}}}
OLLAMA = {"error": "the input length exceeds the context length"}
GROQ = {"error": {"message": "Please reduce the length of the messages or completion.", "type": "invalid_request_error",
                  "param": "messages", "code": "context_length_exceeded"}}
GEMINI = {"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed "
                    "(1048576).", "status": "INVALID_ARGUMENT"}}
OPENAI = {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                    "130000 tokens. Please reduce the length of the messages.", "type": "invalid_request_error",
                    "param": "messages", "code": "context_length_exceeded"}}

BODIES = {"llama.cpp": LLAMA_CPP, "llama.cpp-old": LLAMA_CPP_OLD, "llama.cpp-type": LLAMA_CPP_TYPE_ONLY,
          "vllm": VLLM, "vllm-decoder": VLLM_DECODER, "litellm": LITELLM, "openrouter": OPENROUTER,
          "ollama": OLLAMA, "groq": GROQ, "gemini": GEMINI, "openai": OPENAI}


@pytest.mark.parametrize("server_name", list(BODIES))
def test_each_servers_overflow_is_a_context_length_error(server_name: str) -> None:
    error = error_for_status(400, json.dumps(BODIES[server_name]), server_name)
    assert type(error) is ContextLengthError
    assert error.status == 400 and "shorten" in (error.hint or "")


def test_other_bad_requests_stay_bad_requests() -> None:
    body = {"error": {"code": 400, "message": "temperature must be between 0 and 2", "type": "invalid_request_error"}}
    assert type(error_for_status(400, json.dumps(body), "x")) is BadRequestError


def test_in_band_overflow_is_a_context_length_error() -> None:
    assert type(in_band_error("Your input exceeds the context window", "context_length_exceeded", "p")) is ContextLengthError


@pytest.mark.parametrize("server_name", ["llama.cpp", "litellm", "vllm"])
async def test_over_http(server: LoopbackServer, server_name: str) -> None:
    body = json.dumps(BODIES[server_name]).encode()
    server.handler = lambda _r: Reply(status=400, parts=[body], headers={"content-type": "application/json"}, chunked=False)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k")
        with pytest.raises(ContextLengthError) as info:
            [e async for e in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "x"}]))]
    # The message is the server's own, on one line (issue 20: LiteLLM's spans three).
    assert info.value.status == 400 and info.value.message == " ".join(
        BODIES[server_name].get("error", BODIES[server_name]).get("message").split())  # type: ignore[union-attr]


async def test_in_band_overflow_chunk_over_chat_completions(server: LoopbackServer) -> None:
    """OpenRouter / LiteLLM send a provider's error as a chunk once the stream has begun."""
    error = {"error": {"message": "This endpoint's maximum context length is 8192 tokens.", "code": 400}}
    server.handler = lambda _r: Reply(parts=[b"data: " + json.dumps(error).encode() + b"\n\n"])
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="k")
        with pytest.raises(ContextLengthError) as info:
            [e async for e in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "x"}]))]
    assert info.value.status == 400


async def test_in_band_overflow_line_over_ollama(server: LoopbackServer) -> None:
    from llmchat.providers.ollama import OllamaProvider

    line = json.dumps(OLLAMA).encode() + b"\n"
    server.handler = lambda _r: Reply(parts=[line], headers={"content-type": "application/x-ndjson"})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OllamaProvider(client=client, base_url=f"http://127.0.0.1:{server.port}", api_key=None)
        with pytest.raises(ContextLengthError):
            [e async for e in provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "x"}]))]


def test_litellm_error_texts_are_unwrapped() -> None:
    """LiteLLM's real bodies: a Python-dict repr inside `message`, and a streaming 500 sent
    as an SSE event."""
    invalid = {"error": {"message": "{'error': '/chat/completions: Invalid model name passed in model=nonexistent. "
                                    "Call `/v1/models` to view available models for your key.'}",
                         "type": "None", "param": "None", "code": "400"}}
    error = error_for_status(400, json.dumps(invalid), "litellm")
    assert error.message.startswith("/chat/completions: Invalid model name passed in model=nonexistent.")
    sse_body = 'data: {"error": {"message": "\'async for\' requires an object with __aiter__ method, got dict", ' \
               '"type": "None", "param": "None", "code": "500"}}\n\n'
    error = error_for_status(500, sse_body, "litellm")
    assert error.message == "'async for' requires an object with __aiter__ method, got dict"
