"""The helpers that read Chat Completions shaped input (llmchat/providers/chat_shape.py), one
row per shape: the mutants of the Gemini and Responses request builders that lived were in
these lines before they moved here (`python tools/mutation.py providers.chat_shape`)."""

from __future__ import annotations

from typing import Any

import pytest

from llmchat.providers.chat_shape import arguments_object, data_url, function_tool, text_of


@pytest.mark.parametrize(("url", "parts"), [
    ("data:image/png;base64,iVBO", ("image/png", "iVBO")),
    ("data:;base64,QQ==", ("", "QQ==")),
    ("data:text/plain;base64,QQ==;base64,Qg==", ("text/plain", "QQ==;base64,Qg==")),  # split at the first
    ("data:image/png,raw", None),  # not base64 (RFC 2397 allows it; no provider takes it)
    ("https://x.test/a;base64,QQ==", None),  # not a data: URL
    ("DATA:image/png;base64,QQ==", None),
    ("", None),
])
def test_data_url(url: str, parts: tuple[str, str] | None) -> None:
    assert data_url(url) == parts


@pytest.mark.parametrize(("content", "text"), [
    (None, ""),
    ("", ""),
    ("plain", "plain"),
    ([{"type": "text", "text": "a"}, {"type": "text", "text": None}, {"type": "image_url"},
      "junk", {"text": "no type"}, {"type": "text", "text": "b"}], "ab"),
    ([{"type": "text", "text": 7}], "7"),
    ([], ""),
])
def test_text_of(content: Any, text: str) -> None:
    assert text_of(content) == text


@pytest.mark.parametrize(("arguments", "obj"), [
    ('{"a": 1}', {"a": 1}),
    ({"b": 2}, {"b": 2}),
    ("[1, 2]", {}),
    ('"text"', {}),
    ("", {}),
    (None, {}),
    ("{not json", {}),
    (7, {}),
])
def test_arguments_object(arguments: Any, obj: dict[str, Any]) -> None:
    result = arguments_object(arguments)
    assert result == obj and type(result) is dict


def test_arguments_object_copies_a_mapping() -> None:
    given = {"a": 1}
    result = arguments_object(given)
    result["b"] = 2
    assert given == {"a": 1}


@pytest.mark.parametrize(("tool", "declared"), [
    ({"type": "function", "function": {"name": "f", "description": "Does f.", "parameters": {}}},
     {"name": "f", "description": "Does f."}),
    ({"type": "function", "function": {"name": "f", "description": ""}}, {"name": "f"}),
    ({"type": "function", "function": {}}, {"name": ""}),
    ({"type": "function"}, None),
    ({"type": "function", "function": "f"}, None),
    ({"function": {"name": "f"}}, None),  # no type: not a function tool
    ({"type": "web_search"}, None),
])
def test_function_tool(tool: dict[str, Any], declared: dict[str, Any] | None) -> None:
    found = function_tool(tool)
    if declared is None:
        assert found is None
    else:
        assert found is not None and found[0] == declared and found[1] is tool["function"]
