"""Sortable unique ids and timestamps for stored rows.

Ids are ULIDs: 26 Crockford base-32 characters, a 48-bit millisecond time then 80 random bits,
so they sort by creation time. Within one process, ids made in the same millisecond count
up from the first one's random part, so they stay in creation order too.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last: list[int] = [0, 0]  # [milliseconds, random part] of the last id made here


def new_id(now: float) -> str:
    """A new ULID for the moment `now` (Unix seconds)."""
    ms = int(now * 1000)
    with _lock:
        if ms == _last[0]:
            rand = _last[1] + 1
        else:
            rand = secrets.randbits(_RANDOM_BITS - 1)  # top bit clear leaves room to count up
        _last[0], _last[1] = ms, rand
    value = (ms << _RANDOM_BITS) | rand
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def timestamp(now: float) -> str:
    """`now` (Unix seconds) as fixed-width ISO 8601 UTC text, which sorts in time order."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a :func:`timestamp` string."""
    return datetime.fromisoformat(text)
