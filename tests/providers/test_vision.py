"""Telling "this model takes no images" from other errors (llmchat/providers/vision.py).

The messages are the servers' own (documented in vision.py's marker list and seen in their
source or answers); each must be recognised whatever its case, and errors that only mention
images, vision or models without saying the model refuses images must not be. Through the
loopback server, a refusal becomes a BadRequestError with the vision hint; another 400 does not.
"""

from __future__ import annotations

import httpx
import pytest

from llmchat.providers.base import ChatRequest
from llmchat.providers.errors import BadRequestError, ProviderError
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.vision import VISION_HINT, is_vision_refusal
from tests.loopback import LoopbackServer, json_reply

REFUSALS = [
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",  # llama.cpp
    "Model qwen3 does not support image input",  # vLLM, Mistral
    "This model does not support images",
    "No endpoints found that support image input",  # OpenRouter
    "Invalid content type. image_url is only supported by certain models.",  # OpenAI
    "this model is missing data required for image input",  # Ollama without a projector
    "Images are not supported by this model",
    "Image inputs are not supported for this endpoint",
    "llama-3 is not a multimodal model",  # vLLM
    "The model does not support vision",
    "Vision is not supported on this deployment",
    "error: no vision encoder loaded",
    "This model does not have vision capabilities",  # "model does not have vision"
]
"""One message per marker, in the order of vision.py's list."""

OTHER_ERRORS = [
    "",
    "Invalid image data: could not decode the PNG",
    "image too large: 25 MB, the limit is 20 MB",
    "This model's maximum context length is 8192 tokens",
    "vision models are billed per image",
    "the model supports images and text",
    "unsupported image format image/bmp",
    "no such model: llava",
    "rate limit reached",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_each_refusal_is_recognised_in_any_case(text: str) -> None:
    assert is_vision_refusal(text)
    assert is_vision_refusal(text.upper())
    assert is_vision_refusal(text.lower())
    assert is_vision_refusal(f"HTTP 400: {text.swapcase()} (request id 7)")


@pytest.mark.parametrize("text", OTHER_ERRORS)
def test_other_errors_are_not_refusals(text: str) -> None:
    assert not is_vision_refusal(text)
    assert not is_vision_refusal(text.upper())


REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "what is in this picture?"}])


async def error_of(server: LoopbackServer, status: int, message: str) -> ProviderError:
    server.handler = lambda _r: json_reply(status, {"error": {"message": message, "type": "invalid_request_error"}})
    async with httpx.AsyncClient(timeout=10) as client:
        provider = OpenAIProvider(client=client, base_url=server.base_url, api_key="sk-test")
        with pytest.raises(ProviderError) as info:
            async for _event in provider.stream(REQUEST):
                pass
    return info.value


@pytest.mark.parametrize("text", REFUSALS)
async def test_a_refusal_over_the_wire_is_a_bad_request_with_the_hint(server: LoopbackServer, text: str) -> None:
    error = await error_of(server, 400, text)
    assert type(error) is BadRequestError and error.hint == VISION_HINT
    assert len(server.requests) == 1


@pytest.mark.parametrize("text", ["Invalid image data: could not decode the PNG", "unsupported image format"])
async def test_another_bad_request_has_no_vision_hint(server: LoopbackServer, text: str) -> None:
    error = await error_of(server, 400, text)
    assert isinstance(error, BadRequestError) and error.hint != VISION_HINT
