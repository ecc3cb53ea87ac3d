"""The library, exactly as the README shows it: the conversation engine (the README's own code
block is run against the loopback server) and the provider layer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from llmchat.chat.reply import complete_reply
from llmchat.providers import ChatRequest, ContentDelta, Usage, create_provider
from tests.loopback import LoopbackServer, Reply, chunk, completion, sse


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


def readme_block(heading: str, index: int = 0) -> str:
    """The `index`-th ```python block under README's `heading`."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n")[index + 1].split("```", 1)[0]


def test_readme_engine_example_runs_a_conversation_with_tools_and_history(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    call = sse(
        chunk("", role=True),
        chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "weather", "arguments": '{"city": '}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Oslo"}'}}]),
        chunk(finish="tool_calls"),
    )
    replies = [call, completion(["It is sunny ", "in Oslo."]), completion(["Bergen ", "too."], prompt_tokens=30)]
    server.handler = lambda _r: Reply(parts=[replies[len(server.requests) - 1]])
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    code = readme_block("As a library")
    assert "ChatSession" in code
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert '[weather {"city": "Oslo"}]' in out
    assert "It is sunny in Oslo.\n stop Usage(" in out  # streamed text, then the turn's outcome
    last = out.rstrip().splitlines()[-1]  # the folded message: content, finish reason, usage, TTFT
    assert last.startswith("Bergen too. stop Usage(input_tokens=30, output_tokens=2, total_tokens=32")
    assert float(last.rsplit(" ", 1)[1]) >= 0
    assert [r.headers.get("authorization") for r in server.requests] == ["Bearer test-key"] * 3
    second, third = server.requests[1].json(), server.requests[2].json()
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 °C in Oslo"}
    assert [m["role"] for m in third["messages"]] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert third["messages"][-1] == {"role": "user", "content": "And in Bergen?"}
    assert third["messages"][4] == {"role": "assistant", "content": "It is sunny in Oslo."}
