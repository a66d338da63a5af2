"""The page's ids are UUIDs; Chatgate's are a prefix and a ULID: the same 128 bits.

A ULID is 128 bits written in 26 Crockford base-32 characters (the first of them 0 to 7),
so every id Chatgate makes (``msg_…``, ``ses_…``, ``key_…``) is one UUID and back, with
nothing stored beside it. Answers show the UUID; requests may name an object either way.
"""

from __future__ import annotations

import re
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES = {character: value for value, character in enumerate(_CROCKFORD)}
# Our ids: a prefix, then a ULID (128 bits, so its first character is at most 7).
_OURS = re.compile(r"(?P<prefix>[a-z]+)_(?P<ulid>[0-7][0-9A-HJKMNP-TV-Z]{25})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def as_uuid(our_id: str) -> str:
    """``msg_01JD…`` as the UUID of the same 128 bits (lower case, hyphenated)."""
    found = _OURS.fullmatch(our_id)
    if found is None:
        raise ValueError(f"{our_id!r} is not a Chatgate id")
    value = 0
    for character in found["ulid"]:
        value = value * 32 + _VALUES[character]
    return str(uuid.UUID(int=value))


def from_uuid(prefix: str, given: str) -> str:
    """The id of ``prefix`` (``msg``) whose UUID is ``given``."""
    value = uuid.UUID(given).int
    ulid = "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
    return f"{prefix}_{ulid}"


def our_id(prefix: str, given: str) -> str | None:
    """The id of ``prefix`` that ``given`` names, as a UUID or as Chatgate writes it
    (``msg_…``); ``None`` when it is neither."""
    if _UUID.fullmatch(given):
        return from_uuid(prefix, given)
    found = _OURS.fullmatch(given)
    if found is not None and found["prefix"] == prefix:
        return given
    return None
