"""Identifiers: a type prefix and a ULID, so that ids sort by creation time.

Sorting by id gives stable cursor pagination without a second column.
"""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Every pair of Crockford characters, by the 10 bits they encode: a ULID is 13 pairs.
_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)


def _encode(value: int, length: int) -> str:
    """``value`` in ``length`` Crockford base-32 characters (``length`` even)."""
    return "".join(_PAIRS[(value >> shift) & 0x3FF] for shift in range(5 * length - 10, -1, -10))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """Return ``{prefix}_`` followed by a 26-character ULID (48-bit time, 80 random bits)."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(value, 26)}"


def id_floor(prefix: str, at_ms: int) -> str:
    """The smallest id of ``prefix`` made at ``at_ms`` (milliseconds since the epoch) or later:
    ids sort by time, so ``id >= id_floor(...)`` selects what was made since then."""
    return f"{prefix}_{_encode(at_ms, 10)}{_CROCKFORD[0] * 16}"
