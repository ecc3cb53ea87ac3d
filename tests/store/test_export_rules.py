"""The export formats (llmchat/store/export.py) and row conversions (llmchat/store/records.py),
table by table: every part of a reply's footer, each role's heading, code fences longer than
the backticks inside, the Markdown header's provider line, the JSON object's keys with and
without the tree, titles cut on both sides of their limits, and usage read back from rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from llmchat.chat.models import Attachment, Conversation, Message, ToolCall
from llmchat.providers.events import Usage
from llmchat.store import Store
from llmchat.store.export import branch_note, message_markdown, reply_footer, to_json, to_markdown, usage_json
from llmchat.store.records import ConversationSummary, default_title

WHEN = datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=UTC)


def summary(title: str | None = "A title", provider: str | None = "openai", model: str | None = "gpt",
            count: int = 2) -> ConversationSummary:
    return ConversationSummary("C1", title, provider, model, WHEN, WHEN, count)


# -- the footer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "footer"),
    [
        (Message("user", "q"), None),
        (Message("tool", "r", tool_call_id="c"), None),
        (Message("assistant", "a"), "*finish: unfinished · usage: not reported*"),
        (Message("assistant", "a", finish_reason="stop", raw_finish_reason="stop"), "*finish: stop · usage: not reported*"),
        (Message("assistant", "a", finish_reason="stop", raw_finish_reason="end_turn"),
         "*finish: stop (end_turn) · usage: not reported*"),
        (Message("assistant", "a", raw_finish_reason="odd"), "*finish: unfinished (odd) · usage: not reported*"),
        (Message("assistant", "a", finish_reason="length", raw_finish_reason="MAX*TOKENS"),
         "*finish: length (MAX\\*TOKENS) · usage: not reported*"),
        (Message("assistant", "a", finish_reason="stop", usage=Usage(1, 2, 3)),
         "*finish: stop · tokens: 1 in, 2 out, 3 total*"),
        (Message("assistant", "a", finish_reason="stop", usage=Usage(0, 0, 0, cached_tokens=0)),
         "*finish: stop · tokens: 0 in, 0 out, 0 total (0 cached)*"),
        (Message("assistant", "a", finish_reason="stop", usage=Usage(1, 2, 3, cache_write_tokens=5)),
         "*finish: stop · tokens: 1 in, 2 out, 3 total (5 written to cache)*"),
        (Message("assistant", "a", finish_reason="stop", usage=Usage(1, 2, 3, reasoning_tokens=6)),
         "*finish: stop · tokens: 1 in, 2 out, 3 total (6 reasoning)*"),
        (Message("assistant", "a", finish_reason="stop",
                 usage=Usage(1, 2, 3, cached_tokens=4, cache_write_tokens=5, reasoning_tokens=6)),
         "*finish: stop · tokens: 1 in, 2 out, 3 total (4 cached, 5 written to cache, 6 reasoning)*"),
        (Message("assistant", "a", finish_reason="stop", ttft=0.0, duration=0.0),
         "*finish: stop · usage: not reported · first token 0.00 s · duration 0.00 s*"),
        (Message("assistant", "a", finish_reason="stop", ttft=0.254, duration=12.345),
         "*finish: stop · usage: not reported · first token 0.25 s · duration 12.35 s*"),
        (Message("assistant", "a", finish_reason="stop", duration=1.0),
         "*finish: stop · usage: not reported · duration 1.00 s*"),
    ],
)
def test_the_footer_of_a_reply(message: Message, footer: str | None) -> None:
    assert reply_footer(message) == footer


# -- a message ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "heading"),
    [
        (Message("user", "q"), "## User"),
        (Message("assistant", "a"), "## Assistant"),
        (Message("tool", "r"), "## Tool"),
        (Message("system", "s"), "## system"),
        (Message("user", "q", model="gpt"), "## User · gpt"),
        (Message("user", "q", created_at=WHEN), "## User · 2026-12-02 03:04:05 UTC"),
        (Message("assistant", "a", model="gpt", created_at=WHEN), "## Assistant · gpt · 2026-12-02 03:04:05 UTC"),
        (Message("tool", "r", tool_call_id="call_1", model="gpt"), "## Tool · result of `call_1` · gpt"),
        (Message("user", "q", tool_call_id="call_1"), "## User"),
    ],
)
def test_each_roles_heading_and_details(message: Message, heading: str) -> None:
    assert message_markdown(message).split("\n\n")[0] == heading


def test_every_part_of_a_message_in_order() -> None:
    message = Message(
        "assistant", "The answer.\n\n", reasoning="step one\n\nstep two", refusal="not that",
        tool_calls=[ToolCall("c1", "calc", '{"a": 1}')], error="it broke", finish_reason="error")
    message.attachments = [Attachment("n.txt", "text/plain", b"abc")]
    assert message_markdown(message) == "\n\n".join([
        "## Assistant",
        "- Attached: `n.txt` (text/plain, 3 bytes)",
        "**Reasoning:**\n\n> step one\n>\n> step two",
        "The answer.",
        "**Refusal:** not that",
        '**Tool call** `calc` (`c1`):\n\n```json\n{"a": 1}\n```',
        "**Error:** it broke",
        "*finish: error · usage: not reported*",
    ])


def test_trailing_newlines_go_but_a_hard_line_break_stays() -> None:
    text = message_markdown(Message("user", "line one  \nline two\t  \n\n\n"))
    assert text == "## User\n\nline one  \nline two\t  "


def test_an_empty_user_message_is_its_heading_only() -> None:
    assert message_markdown(Message("user", "")) == "## User"


@pytest.mark.parametrize(
    ("arguments", "fence"),
    [("{}", "```"), ("``", "```"), ("```", "````"), ("a ```` b ``` c", "`````"), ("``````", "```````")],
)
def test_a_fence_is_longer_than_any_backtick_run_inside(arguments: str, fence: str) -> None:
    text = message_markdown(Message("assistant", tool_calls=[ToolCall("c", "f", arguments)]))
    assert f"{fence}json\n{arguments}\n{fence}" in text
    assert f"`{fence}json" not in text


@pytest.mark.parametrize(("others", "note"), [(1, "⎇ 1 other branch here"), (2, "⎇ 2 other branches here"),
                                              (11, "⎇ 11 other branches here")])
def test_the_branch_note(others: int, note: str) -> None:
    assert branch_note(others) == note


# -- the transcript -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "line"),
    [("openai", "gpt", "- Provider: openai · Model: gpt"), ("openai", None, "- Provider: openai · Model: ?"),
     (None, "gpt", "- Provider: ? · Model: gpt"), (None, None, None)],
)
def test_the_transcripts_header(provider: str | None, model: str | None, line: str | None) -> None:
    text = to_markdown(summary("  Two\n words ", provider, model, 7), Conversation(system=None, messages=[]))
    lines = text.split("\n")
    assert lines[:3] == ["# Two words", "", "- Conversation: `C1`"]
    assert ("- Provider:" in text) is (line is not None)
    if line is not None:
        assert lines[3] == line
    assert "- Created: 2026-12-02 03:04:05 UTC · Updated: 2026-12-02 03:04:05 UTC\n- Messages: 7\n" in text
    assert text.endswith("- Messages: 7\n")


def test_an_untitled_transcript_and_its_system_prompt() -> None:
    conversation = Conversation(system="Be brief.\n", messages=[Message("user", "q", id="M1")])
    text = to_markdown(summary(title=None), conversation)
    assert text.startswith("# Untitled conversation\n")
    assert "\n\n## System\n\nBe brief.\n\n## User\n\nq\n" in text


def test_branch_marks_go_before_messages_with_siblings_only() -> None:
    messages = [Message("user", "q1", id="A"), Message("assistant", "a1", id="B"), Message("user", "q2", id="C")]
    text = to_markdown(summary(), Conversation(None, messages), {"A": 1, "B": 3, "C": 2})
    assert "q1\n\n*⎇ 2 other branches here*\n\n## Assistant" in text
    assert "*finish: unfinished · usage: not reported*\n\n*⎇ 1 other branch here*\n\n## User\n\nq2" in text
    assert text.count("⎇") == 2
    assert "⎇" not in to_markdown(summary(), Conversation(None, messages))


# -- JSON ---------------------------------------------------------------------------------


def test_json_without_a_tree_has_the_path_only() -> None:
    reply = Message("assistant", "ünïcode", id="B", refusal="", created_at=WHEN, usage=Usage(1, 2, 3))
    text = to_json(summary(), Conversation("sys", [Message("user", "q", id="A"), reply]))
    assert text.endswith("}\n") and "ünïcode" in text and '\n  "id": "C1",' in text
    data = json.loads(text)
    assert list(data) == ["id", "title", "provider", "model", "system_prompt", "created_at", "updated_at", "messages"]
    assert (data["created_at"], data["system_prompt"]) == ("2026-12-02T03:04:05.678000Z", "sys")
    first, second = data["messages"]
    assert "parent_id" not in first
    assert (first["created_at"], first["usage"], first["attachments"], first["tool_calls"]) == (None, None, [], [])
    assert (second["refusal"], second["created_at"]) == (None, "2026-12-02T03:04:05.678000Z")
    assert second["usage"] == usage_json(Usage(1, 2, 3)) == {
        "input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cached_tokens": None,
        "cache_write_tokens": None, "reasoning_tokens": None}


def test_a_json_message_has_every_field_under_its_name() -> None:
    message = Message("tool", "result", reasoning="r", refusal="no", tool_calls=[ToolCall("c1", "calc", "{}")],
                      tool_call_id="c0", finish_reason="stop", raw_finish_reason="end_turn", error="e",
                      usage=Usage(1, 2, 3), ttft=0.5, duration=1.5, id="M1", provider="anthropic",
                      model="claude", created_at=WHEN)
    message.attachments = [Attachment("a.txt", "text/plain", b"hi")]
    (item,) = json.loads(to_json(summary(), Conversation(None, [message])))["messages"]
    assert item == {
        "id": "M1", "role": "tool", "content": "result", "reasoning": "r", "refusal": "no",
        "tool_calls": [{"id": "c1", "name": "calc", "arguments": "{}"}], "tool_call_id": "c0",
        "finish_reason": "stop", "raw_finish_reason": "end_turn", "error": "e",
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "cached_tokens": None,
                  "cache_write_tokens": None, "reasoning_tokens": None},
        "ttft": 0.5, "duration": 1.5, "provider": "anthropic", "model": "claude",
        "created_at": "2026-12-02T03:04:05.678000Z",
        "attachments": [{"name": "a.txt", "media_type": "text/plain", "size": 2, "data": "aGk="}],
    }


def test_json_with_a_tree_gives_every_message_its_parent() -> None:
    path = [Message("user", "q", id="A"), Message("assistant", "a2", id="C")]
    everything = [path[0], Message("assistant", "a1", id="B"), path[1]]
    data = json.loads(to_json(summary(), Conversation(None, path), (everything, {"A": None, "B": "A", "C": "A"}, "C")))
    assert data["current_leaf"] == "C"
    assert [(m["id"], m["parent_id"]) for m in data["messages"]] == [("A", None), ("C", "A")]
    assert [(m["id"], m["parent_id"], m["content"]) for m in data["tree"]] == [
        ("A", None, "q"), ("B", "A", "a1"), ("C", "A", "a2")]


def test_usage_json_of_nothing_is_null() -> None:
    assert usage_json(None) is None
    assert usage_json(Usage(5, 6, 11, cached_tokens=1, cache_write_tokens=2, reasoning_tokens=3)) == {
        "input_tokens": 5, "output_tokens": 6, "total_tokens": 11, "cached_tokens": 1,
        "cache_write_tokens": 2, "reasoning_tokens": 3}


# -- titles and rows ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("x" * 59, "x" * 59),
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 59 + "…"),
        ("a" * 30 + " " + "b" * 40, "a" * 30 + "…"),  # the last space at 30: cut there
        ("a" * 29 + " " + "b" * 40, "a" * 29 + " " + "b" * 29 + "…"),  # at 29: too early, cut hard
        ("a" * 57 + " b c", "a" * 57 + "…"),  # 61 characters: the last space within 59 is at 57
        ("a" * 56 + " b c", "a" * 56 + " b c"),  # 60: whole
        ("\n\n\t  \r\n   first\r\nsecond", "first"),
        ("\u3000wide\u3000space", "wide space"),
        ("", None),
        ("\n \t\r\n", None),
    ],
)
def test_default_titles_on_both_sides_of_their_limits(text: str, title: str | None) -> None:
    assert default_title(text) == title


def test_a_title_is_found_after_a_long_blank_start() -> None:
    assert default_title(" " * 5000 + "\n" * 5000 + "late start\nmore") == "late start"


@pytest.mark.parametrize(("gap", "title"), [(478, "a b"), (479, "a")])
def test_a_title_reads_at_most_the_first_480_characters_of_its_line(gap: int, title: str) -> None:
    # 8 x 60: a 50 MB one-line prompt is not copied whole for its title. "b" at index 479 is
    # inside, at 480 outside.
    assert default_title("a" + " " * gap + "b c") == title


def test_display_title() -> None:
    assert summary(title=None).display_title == "Untitled conversation"
    assert summary(title="Named").display_title == "Named"


def test_usage_is_read_back_from_the_row_when_input_tokens_are_stored(store: Store) -> None:
    cid = store.create_conversation("openai", "m", None)
    ids = []
    for usage in (Usage(0, 0, 0), Usage(3, 4, 7, cached_tokens=1), None):
        mid = store.begin_reply(cid, "openai", "m")
        store.finish_reply(mid, Message("assistant", "a", finish_reason="stop", usage=usage))
        ids.append(mid)
    assert store._conn is not None
    store._conn.execute("UPDATE messages SET output_tokens = NULL, total_tokens = NULL WHERE id = ?", (ids[1],))
    store._conn.execute("UPDATE messages SET output_tokens = 9 WHERE id = ?", (ids[2],))
    usages = [m.usage for m in store.load_conversation(cid)[1].messages]
    assert usages == [Usage(0, 0, 0), Usage(3, 0, 0, cached_tokens=1), None]
    (tool_calls,) = store._conn.execute("SELECT tool_calls FROM messages WHERE id = ?", (ids[0],)).fetchone()
    assert tool_calls is None  # no calls: NULL, not "[]"
