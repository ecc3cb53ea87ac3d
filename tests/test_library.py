"""The provider layer as a library, exactly as the README shows it."""

from __future__ import annotations

import httpx

from llmchat.chat.reply import complete_reply
from llmchat.providers import ChatRequest, ContentDelta, Usage, create_provider
from tests.loopback import LoopbackServer, Reply, completion


async def test_readme_library_example(server: LoopbackServer) -> None:
    server.handler = lambda _r: Reply(parts=[completion(["Hel", "lo", "!"], prompt_tokens=5)])
    async with httpx.AsyncClient() as client:
        provider = create_provider("openai", client=client, name="local", base_url=server.base_url, api_key=None)
        request = ChatRequest(model="m", messages=[{"role": "user", "content": "Hi"}], system="Be brief.")
        texts = [e.text async for e in provider.stream(request) if isinstance(e, ContentDelta)]
        message = await complete_reply(provider, request)
    assert "".join(texts) == "Hello!"
    assert (message.content, message.finish_reason, message.usage) == ("Hello!", "stop", Usage(5, 3, 8))
    assert message.ttft is not None and message.duration is not None and message.duration >= message.ttft
