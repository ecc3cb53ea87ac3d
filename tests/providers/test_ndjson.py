"""NDJSONDecoder: complete lines out of bytes split anywhere."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from llmchat.providers.ndjson import NDJSONDecoder


def decode(*chunks: bytes | str) -> list[str]:
    """Feed `chunks` one by one, then close; return every line in order."""
    decoder = NDJSONDecoder()
    lines: list[str] = []
    for piece in chunks:
        lines += decoder.feed(piece.encode("utf-8") if isinstance(piece, str) else piece)
    lines += decoder.close()
    return lines


def test_lines_in_one_chunk() -> None:
    assert decode('{"a": 1}\n{"b": 2}\n') == ['{"a": 1}', '{"b": 2}']


def test_crlf_line_ends() -> None:
    assert decode('{"a": 1}\r\n{"b": 2}\r\n') == ['{"a": 1}', '{"b": 2}']


def test_cr_and_lf_in_different_chunks() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\r') == []
    assert decoder.feed(b'\n{"b"') == ['{"a": 1}']
    assert decoder.feed(b": 2}") == []
    assert decoder.close() == ['{"b": 2}']


def test_blank_lines_are_skipped() -> None:
    assert decode('\n{"a": 1}\n\n  \n\r\n{"b": 2}\n\n') == ['{"a": 1}', '{"b": 2}']


def test_unterminated_last_line_is_returned_by_close() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"done": tr') == ['{"a": 1}']
    assert decoder.feed(b"ue}") == []
    assert decoder.close() == ['{"done": true}']
    assert decoder.close() == []


def test_split_inside_a_multibyte_character() -> None:
    data = '{"c": "héllo 世界 🎉"}\n'.encode()
    assert decode(*(data[i : i + 1] for i in range(len(data)))) == ['{"c": "héllo 世界 🎉"}']


def test_leading_bom_is_dropped() -> None:
    assert decode(b"\xef\xbb", b'\xbf{"a": 1}\n') == ['{"a": 1}']


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b'{"a": "\xff"}\n\xe4\n') == ['{"a": "\ufffd"}', "\ufffd"]


def test_truncated_character_at_eof_is_replaced() -> None:
    assert decode(b'{"a": "x"}\n\xe4\xb8') == ['{"a": "x"}', "\ufffd"]


LINE = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30
).filter(lambda s: s.strip() != "")
"""A line's text: any characters but line ends and surrogates, not blank."""


@settings(max_examples=100, deadline=None)
@given(st.lists(LINE, max_size=8), st.sampled_from(["\n", "\r\n"]), st.data())
def test_any_split_gives_the_same_lines(lines: list[str], eol: str, data: st.DataObject) -> None:
    body = "".join(line + eol for line in lines).encode("utf-8")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    expected = [line[1:] if i == 0 and line.startswith("\ufeff") else line for i, line in enumerate(lines)]
    assert decode(*pieces) == [line for line in expected if line.strip()]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_arbitrary_bytes_never_raise_and_splitting_does_not_matter(
    body: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = decode(body)
    assert decode(*pieces) == whole
    assert all(line.strip() and "\n" not in line for line in whole)
