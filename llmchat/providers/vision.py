"""Telling a provider's "this model takes no images" refusal from other errors.

Used by :func:`llmchat.providers.errors.error_for_status`, which turns such a refusal into a
:class:`~llmchat.providers.errors.BadRequestError` with :data:`VISION_HINT` (never retried).
"""

from __future__ import annotations

_VISION_MARKERS = (
    "image input is not supported",  # llama.cpp's llama-server without an mmproj
    "does not support image",  # Mistral, vLLM, Ollama: "... does not support image input"
    "does not support images",
    "support image input",  # OpenRouter: "No endpoints found that support image input"
    "image_url is only supported",  # OpenAI: "Invalid content type. image_url is only supported by certain models."
    "missing data required for image input",  # Ollama: a model without a vision projector
    "images are not supported",
    "image inputs are not supported",
    "not a multimodal model",  # vLLM
    "does not support vision",
    "vision is not supported",
    "no vision",
    "model does not have vision",
)
"""Lower-case pieces of the messages OpenAI, OpenRouter, Ollama, llama.cpp, vLLM and Mistral
send when a model that takes no images is sent one."""
VISION_HINT = "this model does not take images: choose one that does, or attach text instead"


def is_vision_refusal(text: str) -> bool:
    """True when an error's text says the model does not take images (:data:`_VISION_MARKERS`)."""
    lowered = text.lower()
    return any(marker in lowered for marker in _VISION_MARKERS)
