"""Identifiers: a type prefix and a ULID, so that ids sort by creation time.

Sorting by id gives stable cursor pagination without a second column.
"""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rest = divmod(value, 32)
        chars.append(_CROCKFORD[rest])
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """Return ``{prefix}_`` followed by a 26-character ULID (48-bit time, 80 random bits)."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(randomness, 16)}"


def id_floor(prefix: str, at_ms: int) -> str:
    """The smallest id of ``prefix`` made at ``at_ms`` (milliseconds since the epoch) or later:
    ids sort by time, so ``id >= id_floor(...)`` selects what was made since then."""
    return f"{prefix}_{_encode(at_ms, 10)}{_CROCKFORD[0] * 16}"
