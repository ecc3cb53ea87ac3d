"""`llmchat ask` against real server software (LiteLLM proxy, llm-katan in echo mode), read
side by side with the official SDKs' reading of the same request. Opt-in: ``pytest -m
realserver`` (see conftest.py for the set-up)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.realserver.conftest import MASTER_KEY, MOCK_TEXT, Server

pytestmark = [pytest.mark.realserver, pytest.mark.timeout(240)]

OPENAI_SDK_READ = """
import json, sys, openai
base, key, model, prompt = sys.argv[1:5]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                        stream=True, stream_options={"include_usage": True})
text, finish, answered, usage = [], None, None, None
for chunk in stream:
    answered = chunk.model or answered
    if chunk.usage:
        usage = {"input_tokens": chunk.usage.prompt_tokens, "output_tokens": chunk.usage.completion_tokens,
                 "total_tokens": chunk.usage.total_tokens}
    for choice in chunk.choices:
        text.append(choice.delta.content or "")
        finish = choice.finish_reason or finish
print(json.dumps({"content": "".join(text), "finish_reason": finish, "model": answered, "usage": usage}))
"""

ANTHROPIC_SDK_READ = """
import json, sys, anthropic
base, key, model, prompt = sys.argv[1:5]
client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0,
                             default_headers={"x-api-key": key})  # newer SDKs send only a Bearer token
with client.messages.stream(model=model, max_tokens=4096, messages=[{"role": "user", "content": prompt}]) as s:
    m = s.get_final_message()
u = m.usage
inp = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
print(json.dumps({"content": "".join(b.text for b in m.content if b.type == "text"), "model": m.model,
                  "stop_reason": m.stop_reason,
                  "usage": {"input_tokens": inp, "output_tokens": u.output_tokens, "total_tokens": inp + u.output_tokens}}))
"""

ECHO_TIME = re.compile(r"time=\S+")


def ask(*args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "llmchat", "ask", *args], env=full, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def sdk(python: str, script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([python, "-c", script, *args], capture_output=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(done.stderr.decode(errors="replace")[-2000:])
    return json.loads(done.stdout)


def same_echo(a: str, b: str) -> bool:
    """llm-katan's echo names the time of the request: the rest must be the same."""
    return ECHO_TIME.sub("time=T", a) == ECHO_TIME.sub("time=T", b)


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert b"Traceback" not in result.stderr
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --- LiteLLM proxy -------------------------------------------------------------------------


def test_litellm_mock_reads_as_the_openai_sdk_does(litellm: Server, sdk_python: str) -> None:
    result = ask("--json", "-m", "mock-gpt", "hi there", OPENAI_BASE_URL=f"{litellm.url}/v1",
                 OPENAI_API_KEY=MASTER_KEY)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    theirs = sdk(sdk_python, OPENAI_SDK_READ, f"{litellm.url}/v1", MASTER_KEY, "mock-gpt", "hi there")
    assert ours["content"] == theirs["content"] == MOCK_TEXT
    assert (ours["finish_reason"], ours["model"], ours["usage"]) == (
        theirs["finish_reason"], theirs["model"], theirs["usage"])


def test_litellm_context_window_error_is_one_line_with_the_hint(litellm: Server) -> None:
    result = ask("--json", "-m", "mock-overflow", "hi", OPENAI_BASE_URL=f"{litellm.url}/v1",
                 OPENAI_API_KEY=MASTER_KEY)
    assert result.returncode == 1
    assert json.loads(result.stdout)["finish_reason"] == "error"
    line = one_error_line(result)
    assert "ContextWindowExceededError" in line and "shorten the prompt" in line


def test_litellm_unknown_model_is_one_clear_line(litellm: Server) -> None:
    result = ask("-m", "no-such-model", "hi", OPENAI_BASE_URL=f"{litellm.url}/v1", OPENAI_API_KEY=MASTER_KEY)
    assert result.returncode == 1 and result.stdout == b""
    line = one_error_line(result)
    assert "Invalid model name" in line and "{'error'" not in line


def test_litellm_bad_key_is_one_line(litellm: Server) -> None:
    """A proxy without a key database answers a wrong key with 400 "No connected db."."""
    result = ask("-m", "mock-gpt", "hi", OPENAI_BASE_URL=f"{litellm.url}/v1", OPENAI_API_KEY="sk-wrong-key-0000")
    assert result.returncode == 1 and result.stdout == b""
    assert "sk-wrong-key-0000" not in one_error_line(result)


def test_litellm_responses_bridge(litellm: Server, sdk_python: str) -> None:
    result = ask("-p", "openai-responses", "--json", "-m", "katan-bridge", "hi there",
                 OPENAI_BASE_URL=f"{litellm.url}/v1", OPENAI_API_KEY=MASTER_KEY)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert ours["content"].count("[echo]") == 1 and ours["content"].endswith("User: hi there")
    assert ours["finish_reason"] == "stop" and ours["model"] == "gpt-4o"  # llm-katan's name, not the route's
    theirs = sdk(sdk_python, OPENAI_SDK_READ, f"{litellm.url}/v1", MASTER_KEY, "katan-bridge", "hi there")
    assert same_echo(ours["content"], theirs["content"])


def test_litellm_anthropic_route_continues_an_openai_conversation(litellm: Server) -> None:
    env = {"OPENAI_BASE_URL": f"{litellm.url}/v1", "OPENAI_API_KEY": MASTER_KEY,
           "ANTHROPIC_BASE_URL": litellm.url, "ANTHROPIC_API_KEY": MASTER_KEY}
    first = ask("-m", "katan", "question one", **env)
    assert first.returncode == 0, first.stderr
    second = ask("-p", "anthropic", "-m", "katan", "-c", "question two", **env)
    assert second.returncode == 0, second.stderr
    assert b"messages=3" in second.stdout and second.stdout.endswith(b"User: question two")


# --- llm-katan -----------------------------------------------------------------------------


def test_katan_openai_reads_as_the_sdk_does(katan: Server, sdk_python: str) -> None:
    result = ask("--json", "-m", "gpt-4o", "héllo wörld", OPENAI_BASE_URL=f"{katan.url}/v1", OPENAI_API_KEY="sk-x")
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    theirs = sdk(sdk_python, OPENAI_SDK_READ, f"{katan.url}/v1", "sk-x", "gpt-4o", "héllo wörld")
    assert same_echo(ours["content"], theirs["content"])
    assert (ours["finish_reason"], ours["model"], ours["usage"]) == (
        theirs["finish_reason"], theirs["model"], theirs["usage"])


def test_katan_anthropic_reads_as_the_sdk_does(katan: Server, sdk_python: str) -> None:
    result = ask("-p", "anthropic", "--json", "-m", "gpt-4o", "hi there", ANTHROPIC_BASE_URL=katan.url,
                 ANTHROPIC_API_KEY="sk-x")
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    if subprocess.run([sdk_python, "-c", "import anthropic"], capture_output=True, timeout=60).returncode:
        pytest.skip("the anthropic SDK is not installed beside the servers")
    theirs = sdk(sdk_python, ANTHROPIC_SDK_READ, katan.url, "sk-x", "gpt-4o", "hi there")
    assert same_echo(ours["content"], theirs["content"])
    assert (ours["model"], ours["usage"]) == (theirs["model"], theirs["usage"])


def test_katan_continue_sends_the_history(katan: Server) -> None:
    env = {"OPENAI_BASE_URL": f"{katan.url}/v1", "OPENAI_API_KEY": "sk-x"}
    assert ask("-m", "gpt-4o", "first", **env).returncode == 0
    second = ask("-m", "gpt-4o", "-c", "second", **env)
    assert second.returncode == 0, second.stderr
    assert b"messages=3" in second.stdout and second.stdout.endswith(b"User: second")


async def test_the_session_against_katan_over_each_protocol(katan: Server) -> None:
    """The full-screen session (Textual's test pilot) streaming from llm-katan over the
    OpenAI and Anthropic protocols."""
    from llmchat.config import load_settings
    from llmchat.tui.app import LlmChatApp
    from tests.tui.helpers import SIZE, THEME_DIRS, chat_screen, send, sidebar_rows, wait_until

    env = {"OPENAI_BASE_URL": f"{katan.url}/v1", "OPENAI_API_KEY": "sk-x",
           "ANTHROPIC_BASE_URL": katan.url, "ANTHROPIC_API_KEY": "sk-x"}
    for provider in ("openai", "anthropic"):
        app = LlmChatApp(load_settings(None, env, provider=provider, model="gpt-4o"), theme_dirs=THEME_DIRS)
        async with app.run_test(size=SIZE) as pilot:
            screen = chat_screen(pilot)
            await send(pilot, "hello session")
            await wait_until(pilot, lambda: screen.conversation.messages[-1].finish_reason is not None, timeout=60)
            await app.workers.wait_for_complete()
            await pilot.pause()
            reply = screen.conversation.messages[-1]
            assert reply.finish_reason == "stop", reply.error
            assert reply.content.startswith("[echo] model=gpt-4o") and reply.content.endswith("User: hello session")
            assert sidebar_rows(pilot)["Finish"] == "stop"


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_katan_tool_loop_sends_every_result_back(katan: Server, protocol: str) -> None:
    """llm-katan calls the offered tool on every round: each result goes back (the echo counts
    the messages it received) until the round limit ends the turn."""
    env = {"OPENAI_BASE_URL": f"{katan.url}/v1", "OPENAI_API_KEY": "sk-x",
           "ANTHROPIC_BASE_URL": katan.url, "ANTHROPIC_API_KEY": "sk-x"}
    result = ask("-p", protocol, "--json", "-m", "gpt-4o", "-T", "current_time", "what time is it", **env)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert ours["finish_reason"] == "tool_calls" and len(ours["tool_calls"]) >= 2
    assert all(call["name"] == "current_time" for call in ours["tool_calls"])
    if protocol == "anthropic":  # its echo also answers in text: each round saw two more messages
        counts = [int(n) for n in re.findall(r"messages=(\d+)", ours["content"])]
        assert counts == list(range(1, 2 * len(counts), 2))
