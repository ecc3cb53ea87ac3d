"""A pure, incremental `text/event-stream` decoder (WHATWG HTML, "Server-sent events", 9.2.6).

It takes bytes exactly as the network delivers them (split anywhere, also inside a line or
inside a multi-byte UTF-8 character) and returns complete events. No I/O here.

Follows the spec: UTF-8 decoding with a leading BOM dropped; LF, CRLF and CR line ends (a CR
at the end of one chunk and an LF at the start of the next are one line end); lines starting
with ``:`` are comments (keep-alives); ``field: value`` with at most one space removed after
the colon; a line without a colon is a field with an empty value; multi-line ``data``
joined with LF; a blank line dispatches the event, and an event with no data is not
dispatched. One leniency: at end of stream, complete lines that were not followed by a
blank line still dispatch their event (some servers close without the final blank line).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: `event` type (default "message"), `data`, and the last `id`."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE decoder: feed bytes with :meth:`feed`, then call :meth:`close` at EOF."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""  # text after the last line end
        self._open: list[str] = []  # later pieces of that line, not joined until it ends
        self._open_size = 0
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF is part of it
        self._bom_checked = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def buffered(self) -> int:
        """Characters held for the event being received (its data lines and the open line)."""
        return len(self._tail) + self._open_size + self._data_size

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk of bytes and return the events it completed (maybe none)."""
        return self._feed_text(self._utf8.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: return the events that complete lines still hold."""
        events = self._feed_text(self._utf8.decode(b"", final=True))
        self._tail = ""  # an unterminated last line is incomplete: discard it
        self._open, self._open_size = [], 0
        if self._data:
            events.append(self._dispatch())
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if not self._bom_checked:
            self._bom_checked = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        if "\n" not in text and "\r" not in text:  # a long line goes on: linear, not quadratic
            self._open.append(text)
            self._open_size += len(text)
            return []
        if self._open:
            self._tail += "".join(self._open)
            self._open, self._open_size = [], 0
        buffer = self._tail + text if self._tail else text
        if "\r" in buffer:
            lines = _LINE_END.split(buffer)
            if buffer.endswith("\r"):
                self._skip_lf = True
        else:
            lines = buffer.split("\n")  # LF only, as most servers send: a faster split
        self._tail = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(self._dispatch())
                else:
                    self._event = ""
            elif line[:5] == "data:":  # the common line, handled here as _field would
                value = line[6:] if line[5:6] == " " else line[5:]
                self._data.append(value)
                self._data_size += len(value) + 1
            else:
                self._field(line)
        return events

    def _field(self, line: str) -> None:
        if line[0] == ":":
            return  # comment / keep-alive
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():  # ASCII digits only, as the spec says
                self._retry = int(value)
        # other field names are ignored, as the spec says

    def _dispatch(self) -> SSEEvent:
        event = SSEEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._data = []
        self._data_size = 0
        self._event = ""
        return event
