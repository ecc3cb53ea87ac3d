"""A pure, incremental newline-delimited JSON line splitter (the NDJSON / JSON Lines format).

Ollama's streaming endpoints (``POST /api/chat`` with ``stream: true``, content type
``application/x-ndjson``) send one JSON object per line, each ended by LF. This decoder takes
bytes exactly as the network delivers them (split anywhere, also inside a line or inside a
multi-byte UTF-8 character) and returns the complete lines. Parsing the JSON is the caller's
job. No I/O here.

Lenient where the format allows it (ndjson-spec, JSON Lines): CRLF line ends are accepted,
blank (whitespace-only) lines are skipped, a leading UTF-8 BOM is dropped, invalid UTF-8 is
replaced rather than raised, and an unterminated last line is returned by :meth:`close`.
"""

from __future__ import annotations

import codecs


class NDJSONDecoder:
    """Incremental NDJSON line splitter: feed bytes with :meth:`feed`, then :meth:`close` at EOF."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []  # text after the last LF, in pieces
        self._bom_checked = False

    @property
    def buffered(self) -> int:
        """Characters held for the line being received."""
        return sum(map(len, self._pending))

    def feed(self, chunk: bytes) -> list[str]:
        """Decode a chunk of bytes and return the lines it completed (maybe none).

        Args:
            chunk: the next bytes of the body, split anywhere.

        Returns:
            The complete, non-blank lines, without their line ends, in order.
        """
        return self._feed_text(self._utf8.decode(chunk))

    def close(self) -> list[str]:
        """Flush at end of stream.

        Returns:
            The lines still held, including an unterminated last line (if not blank).
        """
        lines = self._feed_text(self._utf8.decode(b"", final=True))
        rest = "".join(self._pending)
        self._pending = []
        return [*lines, *_non_blank([rest])]

    def _feed_text(self, text: str) -> list[str]:
        if not text:
            return []
        if not self._bom_checked:
            self._bom_checked = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if "\n" not in text:
            self._pending.append(text)
            return []
        pieces = text.split("\n")
        pieces[0] = "".join(self._pending) + pieces[0]
        tail = pieces.pop()
        self._pending = [tail] if tail else []
        return _non_blank(pieces)


def _non_blank(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            out.append(line)
    return out
