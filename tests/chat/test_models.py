"""The conversation's plain data (llmchat.chat.models): an attachment's wire shape and text
block, each role's Chat Completions message, and which messages a request carries (every
tool call answered right after it, no empty assistant turn)."""

from __future__ import annotations

import base64

import pytest

from llmchat.chat.models import IMAGE_TYPES, PDF_TYPE, Attachment, Conversation, Message, ToolCall, wire_content

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def text(name: str, body: str | None) -> Attachment:
    return Attachment(name, "text/plain", (body or "").encode(), body)


@pytest.mark.parametrize(("media_type", "is_image"), [
    ("image/png", True), ("image/jpeg", True), ("image/gif", True), ("image/webp", True),
    ("image/svg+xml", False), ("image/bmp", False), ("application/pdf", False), ("text/plain", False),
])
def test_the_image_types_every_provider_takes(media_type: str, is_image: bool) -> None:
    # DESIGN "Attachments": PNG, JPEG, GIF and WebP are sent as images
    assert Attachment("f", media_type, b"x").is_image is is_image
    assert (media_type in IMAGE_TYPES) is is_image


def test_size_and_data_url() -> None:
    image = Attachment("a.png", "image/png", PNG)
    assert image.size == 16 and Attachment("e", "text/plain", b"").size == 0
    assert image.data_url() == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert Attachment("d", PDF_TYPE, b"%PDF-1").data_url() == "data:application/pdf;base64,JVBERi0x"


@pytest.mark.parametrize(("body", "block"), [
    ("x = 1", "f.py\n```\nx = 1\n```"),
    ("x = 1\n", "f.py\n```\nx = 1\n```"),  # no second newline before the fence
    ("", "f.py\n```\n\n```"),
    (None, "f.py\n```\n\n```"),
    ("a `b` c", "f.py\n```\na `b` c\n```"),
    ("``", "f.py\n```\n``\n```"),  # a run shorter than three: three
    ("```py\nx\n```", "f.py\n````\n```py\nx\n```\n````"),  # one longer than the longest run
    ("`````", "f.py\n``````\n`````\n``````"),
    ("a ``` b ```` c", "f.py\n`````\na ``` b ```` c\n`````"),
])
def test_a_text_attachment_is_a_fenced_block_no_run_inside_can_close(body: str | None, block: str) -> None:
    assert text("f.py", body).text_block() == block


def test_the_wire_part_of_each_kind() -> None:
    assert Attachment("a.png", "image/png", PNG).wire_part() == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}
    assert Attachment("d.pdf", PDF_TYPE, b"%PDF-1").wire_part() == {
        "type": "file", "file": {"filename": "d.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    assert Attachment("d.pdf", PDF_TYPE, b"%PDF-1", "its text").wire_part() is None  # sent as text
    assert text("n.txt", "hi").wire_part() is None


def test_wire_content_puts_text_blocks_before_the_message_and_parts_first() -> None:
    notes, code = text("notes.md", "N"), text("a.py", "A")
    image, pdf = Attachment("i.png", "image/png", PNG), Attachment("d.pdf", PDF_TYPE, b"%PDF-1")
    assert wire_content("question", []) == "question"
    assert wire_content("", []) == ""
    assert wire_content("question", [notes, code]) == "notes.md\n```\nN\n```\n\na.py\n```\nA\n```\n\nquestion"
    assert wire_content("", [notes]) == "notes.md\n```\nN\n```"
    parts = wire_content("question", [notes, image, pdf])
    assert isinstance(parts, list)
    assert [p["type"] for p in parts] == ["image_url", "file", "text"]
    assert parts[-1] == {"type": "text", "text": "notes.md\n```\nN\n```\n\nquestion"}
    assert wire_content("", [image]) == [image.wire_part()]  # no empty text part


def test_each_roles_wire_message() -> None:
    calls = [ToolCall("c1", "read", '{"p": 1}'), ToolCall("c2", "list", "{}")]
    wire_calls = [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"p": 1}'}},
                  {"id": "c2", "type": "function", "function": {"name": "list", "arguments": "{}"}}]
    assert Message("assistant", "", tool_calls=calls).to_wire() == {
        "role": "assistant", "content": None, "tool_calls": wire_calls}
    assert Message("assistant", "let me look", tool_calls=calls).to_wire()["content"] == "let me look"
    assert Message("assistant", "x", tool_calls=calls).to_wire(calls[1:])["tool_calls"] == wire_calls[1:]
    assert Message("assistant", "x", tool_calls=calls).to_wire([]) == {"role": "assistant", "content": "x"}
    assert Message("assistant", "hi").to_wire() == {"role": "assistant", "content": "hi"}
    assert Message("user", "q").to_wire() == {"role": "user", "content": "q"}
    assert Message("user", "q", attachments=[text("t", "T")]).to_wire() == {
        "role": "user", "content": "t\n```\nT\n```\n\nq"}


def test_a_tool_messages_wire_shape() -> None:
    assert Message("tool", "out", tool_call_id="c1").to_wire() == {"role": "tool", "tool_call_id": "c1", "content": "out"}
    assert Message("tool", "out").to_wire()["tool_call_id"] == ""
    failed = Message("tool", "boom", tool_call_id="c1", is_error=True,
                     images=[("image/png", "AAA"), ("image/jpeg", "BBB")], thinking_blocks=[{"x": 1}])
    assert failed.to_wire() == {
        "role": "tool", "tool_call_id": "c1", "content": "boom", "is_error": True,
        "images": [{"media_type": "image/png", "data": "AAA"}, {"media_type": "image/jpeg", "data": "BBB"}]}


def test_thinking_blocks_go_back_with_assistant_messages_only() -> None:
    blocks = [{"type": "thinking", "thinking": "t", "signature": "s"}]
    with_calls = Message("assistant", "", tool_calls=[ToolCall("c", "n", "{}")], thinking_blocks=blocks).to_wire()
    assert with_calls["thinking_blocks"] is blocks
    assert Message("assistant", "a", thinking_blocks=blocks).to_wire()["thinking_blocks"] is blocks
    assert "thinking_blocks" not in Message("user", "q", thinking_blocks=blocks).to_wire()
    assert "thinking_blocks" not in Message("assistant", "a").to_wire()


def sent(*messages: Message) -> list[tuple[str, str | None]]:
    return [(m["role"], m.get("content") if m["role"] != "tool" else m["tool_call_id"])
            for m in Conversation(messages=list(messages)).wire_messages()]


def test_empty_assistant_turns_are_left_out() -> None:
    assert sent(Message("user", "q"), Message("assistant", ""), Message("assistant", " \n\t"),
                Message("assistant", "ok")) == [("user", "q"), ("assistant", "ok")]


def test_only_answered_calls_and_results_of_the_calls_just_before_are_sent() -> None:
    a, b, c = ToolCall("a", "t", "{}"), ToolCall("b", "t", "{}"), ToolCall("c", "t", "{}")
    assert sent(
        Message("user", "q"),
        Message("assistant", "", tool_calls=[a, b, c]),
        Message("tool", "ra", tool_call_id="a"),
        Message("tool", "rc", tool_call_id="c"),
        Message("tool", "rx", tool_call_id="x"),  # answers no call of that reply
        Message("assistant", "done"),
    ) == [("user", "q"), ("assistant", None), ("tool", "a"), ("tool", "c"), ("assistant", "done")]
    wire = Conversation(messages=[Message("assistant", "", tool_calls=[a, b]),
                                  Message("tool", "rb", tool_call_id="b")]).wire_messages()
    assert [call["id"] for call in wire[0]["tool_calls"]] == ["b"]


def test_a_reply_whose_calls_were_never_answered_is_sent_as_its_text() -> None:
    a = ToolCall("a", "t", "{}")
    assert sent(Message("user", "q"), Message("assistant", "partial", tool_calls=[a]), Message("user", "again")) == [
        ("user", "q"), ("assistant", "partial"), ("user", "again")]
    assert sent(Message("user", "q"), Message("assistant", "", tool_calls=[a]), Message("user", "again")) == [
        ("user", "q"), ("user", "again")]
    # a result after a user message answers nothing any more
    assert sent(Message("assistant", "", tool_calls=[a]), Message("user", "u"), Message("tool", "r", tool_call_id="a")) == [
        ("user", "u")]


def test_a_result_answers_only_the_assistant_message_just_before() -> None:
    a, b = ToolCall("a", "t", "{}"), ToolCall("b", "t", "{}")
    assert sent(
        Message("assistant", "", tool_calls=[a]), Message("tool", "ra", tool_call_id="a"),
        Message("assistant", "", tool_calls=[b]), Message("tool", "ra again", tool_call_id="a"),
        Message("tool", "rb", tool_call_id="b"),
    ) == [("assistant", None), ("tool", "a"), ("assistant", None), ("tool", "b")]
    # a text-only reply in between closes the earlier calls
    assert sent(
        Message("assistant", "", tool_calls=[a]), Message("tool", "ra", tool_call_id="a"),
        Message("assistant", "text"), Message("tool", "late", tool_call_id="a"),
    ) == [("assistant", None), ("tool", "a"), ("assistant", "text")]


def test_a_call_without_an_id_is_never_sent() -> None:
    blank = ToolCall("", "t", "{}")
    assert sent(Message("assistant", "", tool_calls=[blank]), Message("tool", "r", tool_call_id="")) == []
    assert sent(Message("assistant", "", tool_calls=[blank]), Message("tool", "r")) == []


def test_the_request_for_the_next_reply() -> None:
    tool = {"type": "function", "function": {"name": "t", "parameters": {}}}
    request = Conversation(system="sys", messages=[Message("user", "q")]).request(
        "m-1", tools=[tool], temperature=0.5, max_tokens=10)
    assert (request.model, request.system, request.tools, request.options) == (
        "m-1", "sys", (tool,), {"temperature": 0.5, "max_tokens": 10})
    assert request.messages == [{"role": "user", "content": "q"}] and request.prompt is None
    bare = Conversation().request("m")
    assert (bare.messages, bare.system, bare.tools, bare.options) == ([], None, (), {})


def test_a_result_before_any_reply_answers_nothing() -> None:
    # e.g. a history cut just after a call: the first message left is a tool result
    assert sent(Message("tool", "r", tool_call_id="a"), Message("user", "q")) == [("user", "q")]
