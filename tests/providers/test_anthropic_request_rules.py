"""The Messages request's side rules (llmchat/providers/anthropic_request.py), one row per case:
``tool_choice`` translated (Anthropic "Messages": ``auto`` / ``any`` / ``tool`` / ``none``), each
Chat Completions-only option dropped, each content part's block (text, image by data URL or by
URL, a PDF file part as a ``document``), tool results (empty, in parts, with images, errors),
roles merged and lone text sent as a string, tools passed through, and which thinking blocks
can be sent back. The expected bodies are written from the Messages API reference; the last
test sends one of them through the loopback server.
"""

from __future__ import annotations

from typing import Any

import pytest

from llmchat.providers.anthropic_request import build_body, convert_messages, convert_tools, replayable
from llmchat.providers.base import ChatRequest
from tests.loopback import LoopbackServer
from tests.providers.test_request_options import sent_body

HI = [{"role": "user", "content": "hi"}]


def body_for(messages: list[dict[str, Any]] | None = None, **options: Any) -> dict[str, Any]:
    return build_body(ChatRequest(model="claude", messages=messages or HI, options=options), default_max_tokens=4096)


@pytest.mark.parametrize(("choice", "sent"), [
    ("auto", {"type": "auto"}),
    ("required", {"type": "any"}),  # Chat Completions' "required" is the Messages API's "any"
    ("any", {"type": "any"}),
    ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get_time"}}, {"type": "tool", "name": "get_time"}),
    ({"type": "function", "function": {}}, {"type": "tool", "name": ""}),
    ({"type": "function"}, {"type": "tool", "name": ""}),
    ({"type": "tool", "name": "get_time"}, {"type": "tool", "name": "get_time"}),  # already Anthropic's
    ({"type": "auto", "disable_parallel_tool_use": True}, {"type": "auto", "disable_parallel_tool_use": True}),
])
def test_tool_choice(choice: Any, sent: dict[str, Any]) -> None:
    assert body_for(tool_choice=choice)["tool_choice"] == sent


def test_no_tool_choice_is_sent_without_one() -> None:
    assert "tool_choice" not in body_for()
    assert "tool_choice" not in body_for(tool_choice=None)


OPENAI_ONLY = ["seed", "reasoning_effort", "stream_options", "frequency_penalty", "presence_penalty", "logit_bias",
               "logprobs", "top_logprobs", "n", "response_format", "parallel_tool_calls", "user", "think"]


@pytest.mark.parametrize("key", OPENAI_ONLY)
def test_each_option_the_messages_api_rejects_is_dropped(key: str) -> None:
    body = body_for(**{key: 1, "temperature": 0.5})
    assert key not in body and body["temperature"] == 0.5


@pytest.mark.parametrize(("key", "value"), [("temperature", 0.0), ("top_p", 0.9), ("top_k", 5),
                                            ("metadata", {"user_id": "u"}), ("service_tier", "auto"),
                                            ("thinking", {"type": "adaptive"}), ("container", "c-1")])
def test_other_options_pass_through_as_given(key: str, value: Any) -> None:
    assert body_for(**{key: value})[key] == value


@pytest.mark.parametrize(("stop", "sent"), [("END", ["END"]), (["A", "B"], ["A", "B"]), (("A",), ["A"]),
                                            ("", None), ([], None), (None, None)])
def test_stop_sequences(stop: Any, sent: list[str] | None) -> None:
    body = body_for(stop=stop)
    assert body.get("stop_sequences") == sent and "stop" not in body


@pytest.mark.parametrize(("options", "max_tokens"), [
    ({"max_tokens": 100, "max_completion_tokens": 50}, 100),  # the neutral name first
    ({"max_completion_tokens": 50}, 50),
    ({"max_tokens": "300"}, 300),
    ({"max_tokens": None}, 4096),
])
def test_max_tokens_sources(options: dict[str, Any], max_tokens: int) -> None:
    body = body_for(**options)
    assert body["max_tokens"] == max_tokens and "max_completion_tokens" not in body
    assert body["stream"] is True


def test_stream_is_true_whatever_the_options_say() -> None:
    assert body_for(stream=False)["stream"] is True


# -- content parts ------------------------------------------------------------------------------

PNG = "iVBORw0KGgo="


@pytest.mark.parametrize(("part", "block"), [
    ({"type": "text", "text": "look"}, {"type": "text", "text": "look"}),
    ({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}),
    ({"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
     {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}),
    ({"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
     {"type": "image", "source": {"type": "url", "url": "data:image/png,notbase64"}}),
    ({"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
     {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}),
    ({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
     {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}),  # Anthropic's own
])
def test_each_content_part_becomes_its_block(part: dict[str, Any], block: dict[str, Any]) -> None:
    messages, _ = convert_messages([{"role": "user", "content": [{"type": "text", "text": "first"}, part]}])
    assert messages == [{"role": "user", "content": [{"type": "text", "text": "first"}, block]}]


@pytest.mark.parametrize("part", [
    {"type": "text", "text": ""},
    {"type": "text"},
    {"type": "file", "file": {"file_id": "file-abc"}},  # no inline data: nothing to send
    {"type": "file"},
    "a bare string",
    None,
])
def test_parts_with_nothing_to_send_are_left_out(part: Any) -> None:
    messages, _ = convert_messages([{"role": "user", "content": [part, {"type": "text", "text": "kept"}]}])
    assert messages == [{"role": "user", "content": "kept"}]


def test_a_message_of_only_empty_parts_disappears() -> None:
    messages, _ = convert_messages([{"role": "user", "content": [{"type": "text", "text": ""}]},
                                    {"role": "user", "content": None}, *HI])
    assert messages == [{"role": "user", "content": "hi"}]


# -- roles, system, tool results ----------------------------------------------------------------


def test_system_and_developer_messages_join_the_system_text() -> None:
    messages, system = convert_messages([
        {"role": "system", "content": "one"}, {"role": "developer", "content": [{"type": "text", "text": "two"}]},
        {"role": "system", "content": ""}, *HI])
    assert system == "one\n\ntwo" and messages == [{"role": "user", "content": "hi"}]
    body = build_body(ChatRequest(model="c", messages=[{"role": "system", "content": "extra"}, *HI], system="main"),
                      default_max_tokens=10)
    assert body["system"] == "main\n\nextra"
    assert "system" not in build_body(ChatRequest(model="c", messages=HI), default_max_tokens=10)


@pytest.mark.parametrize(("content", "sent"), [
    (None, ""), ("", ""), ("18°C", "18°C"),
    ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
     [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
])
def test_tool_result_content(content: Any, sent: Any) -> None:
    messages, _ = convert_messages([{"role": "tool", "tool_call_id": "t1", "content": content}])
    result = messages[0]["content"]
    assert result == [{"type": "tool_result", "tool_use_id": "t1", "content": sent}]


@pytest.mark.parametrize(("flag", "marked"), [(True, True), (False, False), (None, False), (1, True)])
def test_is_error_is_sent_only_when_true(flag: Any, marked: bool) -> None:
    messages, _ = convert_messages([{"role": "tool", "tool_call_id": "t1", "content": "x", "is_error": flag}])
    assert ("is_error" in messages[0]["content"][0]) == marked
    if marked:
        assert messages[0]["content"][0]["is_error"] is True


def test_a_tool_result_without_an_id_gets_an_empty_one() -> None:
    messages, _ = convert_messages([{"role": "tool", "content": "x"}])
    assert messages[0]["content"][0]["tool_use_id"] == ""


@pytest.mark.parametrize("content", ["the chart", None, [{"type": "text", "text": "the chart"}]])
def test_a_tool_results_images_follow_its_text(content: Any) -> None:
    images = [{"media_type": "image/png", "data": PNG}, "not a mapping", {"media_type": "image/jpeg", "data": "/9j/"}]
    messages, _ = convert_messages([{"role": "tool", "tool_call_id": "t1", "content": content, "images": images}])
    text = [{"type": "text", "text": "the chart"}] if content else []
    assert messages[0]["content"][0]["content"] == [
        *text,
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
    ]


def test_an_assistant_call_without_id_name_or_arguments() -> None:
    messages, _ = convert_messages([*HI, {"role": "assistant", "content": None,
                                          "tool_calls": [{"function": {"arguments": "[1, 2]"}}, {}]}])
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "", "name": "", "input": {}},
        {"type": "tool_use", "id": "", "name": "", "input": {}}]}


def test_runs_of_one_role_are_merged_and_roles_alternate() -> None:
    messages, _ = convert_messages([
        {"role": "user", "content": "a"}, {"role": "other", "content": "b"},  # an unknown role is the user's
        {"role": "assistant", "content": "c"}, {"role": "assistant", "content": "d"},
        {"role": "tool", "tool_call_id": "t", "content": "e"}, {"role": "user", "content": "f"}])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert messages[1]["content"] == [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]
    assert messages[2]["content"] == [{"type": "tool_result", "tool_use_id": "t", "content": "e"},
                                      {"type": "text", "text": "f"}]


def test_a_lone_non_text_block_stays_a_list() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    messages, _ = convert_messages([{"role": "user", "content": [image]}])
    assert messages[0]["content"] == [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]


# -- tools and thinking blocks ------------------------------------------------------------------


def test_tools_in_other_shapes_pass_through() -> None:
    server_tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    own = {"name": "calc", "input_schema": {"type": "object"}}
    odd = {"type": "function", "function": "not an object"}
    described = {"type": "function", "function": {"name": "f", "description": "does f",
                                                  "parameters": {"type": "object", "properties": {"x": {}}}}}
    assert convert_tools([server_tool, own, odd, described]) == [
        server_tool, own, odd, {"name": "f", "description": "does f",
                                "input_schema": {"type": "object", "properties": {"x": {}}}}]
    assert "tools" not in body_for()


@pytest.mark.parametrize(("block", "ok"), [
    ({"type": "thinking", "thinking": "t", "signature": "sig"}, True),
    ({"type": "thinking", "thinking": "t", "signature": ""}, False),
    ({"type": "thinking", "thinking": "t"}, False),
    ({"type": "redacted_thinking", "data": "opaque"}, True),
    ({"type": "redacted_thinking", "data": ""}, False),
    ({"type": "redacted_thinking"}, False),
    ({"type": "text", "text": "x", "signature": "sig", "data": "d"}, False),
    ({"signature": "sig", "data": "d"}, False),
    ("thinking", False),
    (None, False),
])
def test_which_thinking_blocks_can_be_sent_back(block: Any, ok: bool) -> None:
    assert replayable(block) is ok


@pytest.mark.parametrize(("thinking", "sent"), [
    (None, True), ({"type": "enabled", "budget_tokens": 1024}, True), ({"type": "adaptive"}, True),
    ({"type": "disabled"}, False), ("disabled", True),  # only the documented object disables it
])
def test_thinking_blocks_are_sent_back_unless_thinking_is_disabled(thinking: Any, sent: bool) -> None:
    block = {"type": "thinking", "thinking": "t", "signature": "sig"}
    messages = [*HI, {"role": "assistant", "content": "", "thinking_blocks": [block],
                      "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "r"}]
    options = {} if thinking is None else {"thinking": thinking}
    body = build_body(ChatRequest(model="c", messages=messages, options=options), default_max_tokens=100)
    assert (body["messages"][1]["content"][0] == block) is sent


async def test_the_server_receives_the_translated_body(server: LoopbackServer) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                             {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]
    body = await sent_body(server, "anthropic", ChatRequest(model="m", messages=messages,
                                                            options={"tool_choice": "auto", "seed": 3, "stop": "X"}))
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]
    assert body["tool_choice"] == {"type": "auto"} and body["stop_sequences"] == ["X"] and "seed" not in body
