"""SSEDecoder against the WHATWG "Server-sent events" parsing rules (HTML 9.2.6)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from llmchat.providers.sse import SSEDecoder, SSEEvent


def decode(*chunks: bytes | str) -> list[SSEEvent]:
    """Feed `chunks` one by one, then close; return every event in order."""
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in chunks:
        events += decoder.feed(piece.encode("utf-8") if isinstance(piece, str) else piece)
    events += decoder.close()
    return events


def bytewise(data: bytes) -> list[SSEEvent]:
    return decode(*(data[i : i + 1] for i in range(len(data))))


# --- line ends -------------------------------------------------------------------------


def test_lf_line_ends() -> None:
    assert decode("data: a\n\ndata: b\n\n") == [SSEEvent("a"), SSEEvent("b")]


def test_crlf_line_ends() -> None:
    assert decode("data: a\r\n\r\ndata: b\r\n\r\n") == [SSEEvent("a"), SSEEvent("b")]


def test_cr_line_ends() -> None:
    assert decode("data: a\r\rdata: b\r\r") == [SSEEvent("a"), SSEEvent("b")]


def test_mixed_line_ends_in_one_stream() -> None:
    assert decode("data: a\r\ndata: b\n\rdata: c\r\r\n") == [SSEEvent("a\nb"), SSEEvent("c")]


def test_cr_at_end_of_chunk_and_lf_at_start_of_next_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If the LF were a second line end, this blank line would dispatch "a" already.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [SSEEvent("a\nb")]
    assert decoder.close() == []


def test_cr_at_end_of_chunk_then_blank_line_dispatches() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [SSEEvent("a")]


def test_lone_cr_chunk_then_lf_chunk_then_blank_line() -> None:
    # "\r" | "\n" is one line end; the following "\n" is the blank line.
    assert decode(b"data: x", b"\r", b"\n", b"\n") == [SSEEvent("x")]


def test_skipped_lf_survives_an_empty_decode() -> None:
    # The CR ends one chunk; the next chunk is only half a UTF-8 character (decodes to "").
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [SSEEvent("a")]


def test_every_line_end_style_split_byte_by_byte() -> None:
    for eol in ("\n", "\r\n", "\r"):
        data = f"event: e{eol}data: 1{eol}data: 2{eol}{eol}data: 3{eol}{eol}".encode()
        expected = [SSEEvent("1\n2", event="e"), SSEEvent("3")]
        assert bytewise(data) == expected, repr(eol)
        assert decode(data) == expected, repr(eol)


# --- comments and fields ---------------------------------------------------------------


def test_comment_lines_are_ignored() -> None:
    assert decode(": keep-alive\n\n:\n\ndata: a\n: in the middle\ndata: b\n\n: trailing\n\n") == [
        SSEEvent("a\nb")
    ]


def test_only_comments_give_no_events() -> None:
    assert decode(": ping\n\n: ping\n\n") == []


def test_event_field_sets_the_type_and_resets_after_dispatch() -> None:
    assert decode("event: delta\ndata: x\n\ndata: y\n\n") == [
        SSEEvent("x", event="delta"),
        SSEEvent("y", event="message"),
    ]


def test_empty_event_field_means_message() -> None:
    assert decode("event:\ndata: x\n\n") == [SSEEvent("x", event="message")]


def test_id_field_persists_across_events() -> None:
    assert decode("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n") == [
        SSEEvent("a", id="1"),
        SSEEvent("b", id="1"),
        SSEEvent("c", id="2"),
        SSEEvent("d", id=""),
    ]


def test_id_with_null_is_ignored() -> None:
    assert decode("id: 7\n\nid: a\0b\ndata: x\n\n") == [SSEEvent("x", id="7")]


def test_retry_field_only_ascii_digits() -> None:
    assert decode("retry: 3000\ndata: a\n\n") == [SSEEvent("a", retry=3000)]
    assert decode("retry: 3s\ndata: a\n\n") == [SSEEvent("a")]
    assert decode("retry: \u00b2\ndata: a\n\n") == [SSEEvent("a")]  # superscript two
    assert decode("retry: \u0663\ndata: a\n\n") == [SSEEvent("a")]  # Arabic-Indic three


def test_unknown_fields_are_ignored() -> None:
    assert decode("foo: bar\ndata: x\nDATA: nope\nData: nope\n\n") == [SSEEvent("x")]


def test_multi_line_data_joined_with_lf() -> None:
    assert decode("data: line one\ndata: line two\ndata: line three\n\n") == [
        SSEEvent("line one\nline two\nline three")
    ]


def test_data_with_and_without_space_after_colon() -> None:
    assert decode("data:x\n\n") == [SSEEvent("x")]
    assert decode("data: x\n\n") == [SSEEvent("x")]
    assert decode("data:  x\n\n") == [SSEEvent(" x")]  # only one space is removed
    assert decode("data:\tx\n\n") == [SSEEvent("\tx")]  # only a space, not other blanks
    assert decode("data: x \n\n") == [SSEEvent("x ")]  # trailing spaces kept


def test_value_keeps_further_colons() -> None:
    assert decode('data: {"a": "b:c"}\n\n') == [SSEEvent('{"a": "b:c"}')]


def test_field_without_colon_has_empty_value() -> None:
    assert decode("data\n\n") == [SSEEvent("")]
    assert decode("data\ndata\n\n") == [SSEEvent("\n")]
    assert decode("data: a\ndata\ndata: b\n\n") == [SSEEvent("a\n\nb")]
    assert decode("event\ndata: x\n\n") == [SSEEvent("x", event="message")]


def test_empty_data_field_is_dispatched() -> None:
    assert decode("data:\n\n") == [SSEEvent("")]
    assert decode("data: \n\n") == [SSEEvent("")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode("event: ping\n\n") == []
    assert decode("id: 3\n\n") == []
    # ... and its type does not leak into the next event.
    assert decode("event: ping\n\ndata: x\n\n") == [SSEEvent("x", event="message", id=None)]


def test_blank_lines_between_events_are_harmless() -> None:
    assert decode("\n\n\ndata: a\n\n\n\ndata: b\n\n\n") == [SSEEvent("a"), SSEEvent("b")]


# --- encoding --------------------------------------------------------------------------


def test_bom_at_start_is_dropped() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [SSEEvent("a")]


def test_bom_split_across_chunks_is_dropped() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbfdata: a\n\n") == [SSEEvent("a")]


def test_bom_only_dropped_at_stream_start() -> None:
    # A second BOM at the start is part of the field name, so the line is an unknown field.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n") == [SSEEvent("b")]
    # A BOM later in the stream is ordinary text.
    assert decode("data: a\n\ndata: \ufeffb\n\n") == [SSEEvent("a"), SSEEvent("\ufeffb")]


def test_utf8_multibyte_split_across_feeds() -> None:
    text = "data: héllo 世界 🎉\n\n"
    data = text.encode("utf-8")
    assert bytewise(data) == [SSEEvent("héllo 世界 🎉")]
    for size in (2, 3, 5):
        parts = [data[i : i + size] for i in range(0, len(data), size)]
        assert decode(*parts) == [SSEEvent("héllo 世界 🎉")], size


def test_emoji_split_inside_character() -> None:
    decoder = SSEDecoder()
    emoji = "🎉".encode()
    assert decoder.feed(b"data: " + emoji[:1]) == []
    assert decoder.feed(emoji[1:3]) == []
    assert decoder.feed(emoji[3:] + b"\n\n") == [SSEEvent("🎉")]


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"data: a\xffb\n\n") == [SSEEvent("a\ufffdb")]


# --- end of stream ---------------------------------------------------------------------


def test_complete_lines_without_final_blank_line_dispatch_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: e\ndata: a\ndata: b\n") == []
    assert decoder.close() == [SSEEvent("a\nb", event="e")]


def test_unterminated_last_line_is_discarded_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\ndata: partial") == []
    assert decoder.close() == [SSEEvent("a")]


def test_only_unterminated_line_gives_nothing_at_close() -> None:
    assert decode("data: partial") == []


def test_close_after_complete_events_gives_nothing_more() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n") == [SSEEvent("a")]
    assert decoder.close() == []


def test_truncated_utf8_at_close_is_not_an_event() -> None:
    assert decode(b"data: a\n\ndata: \xf0\x9f") == [SSEEvent("a")]


def test_cr_terminated_line_is_complete_at_close() -> None:
    assert decode(b"data: a\r") == [SSEEvent("a")]


def test_events_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\n") == [SSEEvent("a")]
    assert decoder.feed(b"\ndata: c\n\ndata: d\n\n") == [SSEEvent("b"), SSEEvent("c"), SSEEvent("d")]
    assert decoder.close() == []


# --- property: splitting never changes the result ----------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
    max_size=12,
)
_EVENT = st.fixed_dictionaries(
    {
        "event": st.none() | _TEXT,
        "id": st.none() | _TEXT,
        "data": st.lists(_TEXT, min_size=1, max_size=4),
        "comment": st.none() | _TEXT,
    }
)


def _encode(events: list[dict], eol: str, space: bool) -> tuple[bytes, list[SSEEvent]]:
    """Serialize `events` with line end `eol`; return the bytes and the expected events."""
    sep = ": " if space else ":"
    lines: list[str] = []
    expected: list[SSEEvent] = []
    last_id: str | None = None
    for ev in events:
        if ev["comment"] is not None:
            lines.append(":" + ev["comment"])
        if ev["event"] is not None:
            lines.append("event" + sep + ev["event"])
        if ev["id"] is not None:
            lines.append("id" + sep + ev["id"])
            last_id = ev["id"] if space else ev["id"][1:] if ev["id"][:1] == " " else ev["id"]
        for line in ev["data"]:
            lines.append("data" + sep + line)
        lines.append("")
        strip = (lambda v: v) if space else (lambda v: v[1:] if v[:1] == " " else v)
        expected.append(
            SSEEvent(
                data="\n".join(strip(d) for d in ev["data"]),
                event=strip(ev["event"] or "") or "message",
                id=last_id,
            )
        )
    text = "".join(line + eol for line in lines)
    return text.encode("utf-8"), expected


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(_EVENT, max_size=6),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    space=st.booleans(),
    bom=st.booleans(),
    data=st.data(),
)
def test_split_anywhere_gives_the_same_events(
    events: list[dict], eol: str, space: bool, bom: bool, data: st.DataObject
) -> None:
    payload, expected = _encode(events, eol, space)
    if bom:
        payload = b"\xef\xbb\xbf" + payload
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(payload)), max_size=max(1, len(payload))), label="cuts")
    )
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    assert b"".join(pieces) == payload

    whole = decode(payload)
    assert whole == expected
    assert decode(*pieces) == whole


def test_a_long_line_fed_in_many_pieces_is_one_event_and_counted_while_open() -> None:
    """Pieces without a line end are kept apart until the line ends (joining them on every
    piece made an 8 MiB line cost seconds)."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ") == []
    for _ in range(1000):
        assert decoder.feed(b"x" * 100) == []
    assert decoder.buffered == 6 + 100_000
    assert decoder.feed(b"\r") == []
    events = decoder.feed(b"\ndata: y\n\n")
    assert [e.data for e in events] == ["x" * 100_000 + "\ny"]
    assert decoder.buffered == 0
