"""What every provider shares: its request headers (``providers/base.py``: ``provider_headers``),
``create_provider`` for each wire kind and ``make_client`` (``providers/__init__.py``), checked
on the requests the loopback server receives (DESIGN.md: ``User-Agent: llmchat/VERSION``, the
profile's headers, the key in the provider's own header)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llmchat import __version__
from llmchat.providers import KINDS, create_provider, make_client
from llmchat.providers.anthropic import AnthropicProvider
from llmchat.providers.base import provider_headers
from llmchat.providers.gemini import GeminiProvider
from llmchat.providers.ollama import OllamaProvider
from llmchat.providers.openai import OpenAIProvider
from llmchat.providers.policy import StreamPolicy
from llmchat.providers.responses import ResponsesProvider
from tests.loopback import LoopbackServer, json_reply

# -- provider_headers ----------------------------------------------------------------------------


def test_the_headers_without_extra_or_key() -> None:
    headers = provider_headers("text/event-stream", None, None)
    assert dict(headers) == {"Accept": "text/event-stream", "User-Agent": f"llmchat/{__version__}"}


def test_a_key_is_added_under_its_own_header_and_hidden_from_repr() -> None:
    headers = provider_headers("application/x-ndjson", {"X-Title": "llmchat"}, ("Authorization", "Bearer sk-secret"))
    assert dict(headers) == {"Accept": "application/x-ndjson", "User-Agent": f"llmchat/{__version__}",
                             "X-Title": "llmchat", "Authorization": "Bearer sk-secret"}
    assert "sk-secret" not in repr(headers) and "X-Title" in repr(headers)


def test_a_profile_may_replace_accept_and_user_agent_but_not_the_key() -> None:
    extra = {"User-Agent": "corp-proxy/1", "Accept": "*/*", "Authorization": "Bearer from-profile"}
    headers = provider_headers("text/event-stream", extra, ("Authorization", "Bearer sk-key"))
    assert headers["User-Agent"] == "corp-proxy/1" and headers["Accept"] == "*/*"
    assert headers["Authorization"] == "Bearer sk-key"  # the key comes last
    without_key = provider_headers("text/event-stream", extra, None)
    assert without_key["Authorization"] == "Bearer from-profile"


# -- create_provider -----------------------------------------------------------------------------

CLASSES: dict[str, type[Any]] = {
    "openai": OpenAIProvider, "anthropic": AnthropicProvider, "ollama": OllamaProvider,
    "openai-responses": ResponsesProvider, "gemini": GeminiProvider,
}
KEY_HEADER = {  # where each wire format carries the key (each provider's API reference)
    "openai": ("authorization", "Bearer k-123"), "openai-responses": ("authorization", "Bearer k-123"),
    "ollama": ("authorization", "Bearer k-123"), "anthropic": ("x-api-key", "k-123"),
    "gemini": ("x-goog-api-key", "k-123"),
}
LIST_PATH = {"openai": "/v1/models", "openai-responses": "/v1/models", "anthropic": "/v1/models",
             "ollama": "/api/tags", "gemini": "/v1beta/models"}


def test_every_kind_is_known() -> None:
    assert set(KINDS) == set(CLASSES)


@pytest.mark.parametrize("kind", list(CLASSES))
async def test_create_provider_builds_the_kind_with_every_argument(server: LoopbackServer, kind: str) -> None:
    server.handler = lambda _r: json_reply(200, {
        "data": [{"id": "m1"}],
        "models": [{"name": "models/m1", "supportedGenerationMethods": ["generateContent"]}],
    })
    root = f"http://127.0.0.1:{server.port}"
    base = server.base_url if kind.startswith("openai") else root
    policy = StreamPolicy(retries=0)
    async with httpx.AsyncClient(timeout=10) as client:
        provider = create_provider(kind, client=client, name="my-profile", base_url=base, api_key="k-123",
                                   headers={"X-Profile": "yes"}, policy=policy)
        assert type(provider) is CLASSES[kind]
        assert provider.name == "my-profile" and provider.client is client and provider.policy is policy
        assert provider.base_url == base
        models = await provider.list_models()
    assert models in (["m1"], ["models/m1"])
    sent = server.requests[-1]
    assert sent.path.split("?")[0] == LIST_PATH[kind]
    header, value = KEY_HEADER[kind]
    assert sent.headers[header] == value
    assert sent.headers["x-profile"] == "yes"


@pytest.mark.parametrize("kind", ["", "OpenAI", "claude", "openai_responses", "gemini "])
def test_an_unknown_kind_is_a_value_error_naming_the_known_ones(kind: str) -> None:
    with pytest.raises(ValueError) as info:
        create_provider(kind, client=httpx.AsyncClient(), name="x", base_url="http://127.0.0.1:1", api_key=None)
    assert repr(kind) in str(info.value)
    assert str(info.value).endswith("; known: openai, anthropic, ollama, openai-responses, gemini")


async def test_make_client_timeouts_and_redirects() -> None:
    async with make_client() as client:
        assert client.timeout == httpx.Timeout(30.0, connect=10.0)
        assert client.follow_redirects is False


async def test_make_client_does_not_follow_a_redirect(server: LoopbackServer) -> None:
    from tests.loopback import Reply

    server.handler = lambda _r: Reply(status=307, headers={"location": "/elsewhere"}, parts=[b""], chunked=False)
    async with make_client() as client:
        response = await client.get(f"{server.base_url}/models")
    assert response.status_code == 307 and len(server.requests) == 1


# -- the stream events (events.py: data only, nothing for mutmut to mutate) ------------------------


def test_the_finish_reasons_are_designs_six() -> None:
    from llmchat.providers.events import FINISH_REASONS

    assert FINISH_REASONS == {"stop", "length", "tool_calls", "content_filter", "error", "cancelled"}


def test_finish_equality_ignores_the_model_and_events_are_frozen() -> None:
    import dataclasses

    from llmchat.providers.events import ContentDelta, Finish, Usage

    assert Finish("stop", "end_turn", model="a") == Finish("stop", "end_turn", model="b")
    assert Finish("stop", "end_turn") != Finish("stop", "stop_sequence") and Finish("stop").raw is None
    assert Finish("length").model is None
    usage = Usage(1, 2, 3)
    assert (usage.cached_tokens, usage.reasoning_tokens, usage.cache_write_tokens) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ContentDelta("a").text = "b"  # type: ignore[misc]
