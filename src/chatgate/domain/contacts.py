"""Contacts: the people an account talks to, and how each is reached on each channel.

Pure checks and normal forms shared by the API and the CSV import: a phone is E.164, an
email is one address, attributes are a flat object of scalars, and an identity is the
channel's own address of the person (phone-addressed channels hold E.164 numbers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatgate.domain.addresses import PHONE_CHANNELS, InvalidAddress, normalize_address
from chatgate.domain.addresses import normalize_phone as _normalize_phone
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode

CHANNEL_NAMES = tuple(channel.value for channel in ChannelType)
# Channels whose identity may be a phone number, so that an inbound sender on them is
# matched to a contact by phone. Viber's bot ids are not phones; only an E.164 one counts.
PHONE_MATCHED = frozenset({*(c.value for c in PHONE_CHANNELS), ChannelType.VIBER.value})

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_TEXT = 1000
MAX_IDENTITIES = 20
MAX_NAME = 200
MAX_EMAIL = 254

ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
_ATTRIBUTE_NAME = re.compile(ATTRIBUTE_NAME_PATTERN)
# One address, no display name: a local part, "@", and a domain of dotted DNS labels.
_EMAIL_SHAPE = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_EMAIL = re.compile(_EMAIL_SHAPE)
# The same, for a JSON Schema: surrounding whitespace is trimmed before the check.
EMAIL_PATTERN = rf"^\s*{_EMAIL_SHAPE}\s*$"


class InvalidContact(ValueError):
    """A contact's field holds a value we refuse; ``field`` names it (a dotted path), and
    ``code`` is the API's code for it: ``invalid_address`` for a phone number of the right
    shape that no country assigns, ``duplicate_identity`` for an address listed twice."""

    def __init__(self, field: str, message: str, *, code: str = "invalid_request") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


def _address_code(exc: InvalidAddress) -> str:
    # An unassigned number has the shape the schema states: the API tells it apart by code.
    return "invalid_address" if exc.unassigned else "invalid_request"


@dataclass(frozen=True, slots=True)
class Identity:
    """How a contact is reached on one channel: the platform's address of the person."""

    channel: str
    identity: str
    # The username the platform showed with this identity (WhatsApp's), if any.
    username: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact of one account and mode, with its identities."""

    id: str
    account_id: str
    mode: KeyMode
    name: str | None
    phone: str | None
    email: str | None
    attributes: dict[str, str | int | float | bool]
    preferred_channels: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    identities: tuple[Identity, ...] = field(default=())


def normalize_phone(raw: str, where: str = "phone") -> str:
    """``raw`` as E.164, or :class:`InvalidContact` naming ``where``."""
    try:
        return _normalize_phone(raw)
    except InvalidAddress as exc:
        raise InvalidContact(where, str(exc), code=_address_code(exc)) from None


def normalize_email(raw: str, where: str = "email") -> str:
    """``raw`` trimmed, with its domain in lower case, or :class:`InvalidContact`."""
    value = raw.strip()
    if len(value) > MAX_EMAIL or not _EMAIL.fullmatch(value):
        raise InvalidContact(where, "must be an email address such as ada@example.com")
    local, _, domain = value.rpartition("@")
    # Domains are case-insensitive; the local part, strictly, is not.
    return f"{local}@{domain.lower()}"


def channel_of(raw: str, where: str) -> str:
    """``raw`` as a known channel's name, or :class:`InvalidContact`."""
    if raw not in CHANNEL_NAMES:
        raise InvalidContact(where, f"must be one of: {', '.join(CHANNEL_NAMES)}")
    return raw


def normalize_identity(channel: str, raw: str, where: str) -> str:
    """The canonical form of ``raw`` as an address on ``channel`` (E.164 for phones)."""
    try:
        return normalize_address(ChannelType(channel), raw)
    except InvalidAddress as exc:
        raise InvalidContact(where, str(exc), code=_address_code(exc)) from None


def check_attributes(raw: Mapping[str, Any], where: str = "attributes") -> dict[str, Any]:
    """A flat object of string keys and string, number or boolean values."""
    if len(raw) > MAX_ATTRIBUTES:
        raise InvalidContact(where, f"must have at most {MAX_ATTRIBUTES} attributes")
    checked: dict[str, Any] = {}
    for name, value in raw.items():
        if (
            not isinstance(name, str)
            or len(name) > MAX_ATTRIBUTE_NAME
            or not _ATTRIBUTE_NAME.fullmatch(name)
        ):
            raise InvalidContact(
                where,
                f"has a bad name {str(name)[:80]!r}: letters, digits, '_', '.' and '-', "
                f"at most {MAX_ATTRIBUTE_NAME}",
            )
        if isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_TEXT:
                raise InvalidContact(
                    f"{where}.{name}", f"must be at most {MAX_ATTRIBUTE_TEXT} characters"
                )
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidContact(f"{where}.{name}", "must be a finite number")
        elif not isinstance(value, bool | int | float):
            raise InvalidContact(
                f"{where}.{name}", "must be a string, a number or a boolean (no nesting)"
            )
        checked[name] = value
    return checked


def phone_of_identity(channel: str, identity: str) -> str | None:
    """The phone number an identity is, on channels where one can be; ``None`` otherwise."""
    if channel not in PHONE_MATCHED or not identity.startswith("+"):
        return None
    try:
        return _normalize_phone(identity)
    except InvalidAddress:
        return None


def inbound_identity(channel: str, peer: str) -> str:
    """The identity under which an inbound sender is kept: its canonical form where it has
    one, else the platform's address as it came (an inbound message is never refused)."""
    try:
        return normalize_address(ChannelType(channel), peer)
    except (InvalidAddress, ValueError):
        return peer
