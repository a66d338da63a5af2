"""Recipient addresses: how each channel names a person, validated and normalised.

Phone-addressed channels take E.164 numbers (checked with ``phonenumbers``); the others take
the platform's own user ids, whose shapes are checked here so that a typo is refused at
accept time instead of failing later at the platform.

WhatsApp also names a user by a business-scoped user id (BSUID): a two-letter country code,
a dot and up to 128 letters and digits (``BR.1502576394655843``); a parent BSUID, shared by
linked business portfolios, has ``ENT`` between the two (``US.ENT.11815799212886844830``).
A user who adopted a username may come with no phone at all, so a WhatsApp recipient is a
phone or one of these.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from chatgate.domain.channels import ChannelType

PHONE_CHANNELS = frozenset(
    {ChannelType.WHATSAPP, ChannelType.WHATSAPP_WEB, ChannelType.SMS, ChannelType.KAKAO}
)

# Channels whose users also have a platform-scoped user id besides their phone: WhatsApp's
# business-scoped user id, a country code, a dot and up to 128 alphanumerics.
USER_ID_CHANNELS = frozenset({ChannelType.WHATSAPP})
_USER_ID_SHAPE = r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}"
USER_ID = re.compile(_USER_ID_SHAPE)

# Platform user-id shapes, in the common subset of Python's and JSON Schema's regular
# expressions (so that the OpenAPI document can state each one). Telegram also accepts
# "@channelusername" for channels.
_ID_PATTERNS: dict[ChannelType, tuple[str, str]] = {
    ChannelType.TELEGRAM: (
        r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}",
        "a Telegram chat id (digits, may start with '-') or an @username",
    ),
    ChannelType.MESSENGER: (r"[0-9]{5,32}", "a page-scoped user id (digits)"),
    ChannelType.INSTAGRAM: (r"[0-9]{5,32}", "an Instagram-scoped user id (digits)"),
    ChannelType.LINE: (
        r"[UCR][0-9a-f]{32}",
        "a LINE user, group or room id ('U', 'C' or 'R' and 32 hex digits)",
    ),
    ChannelType.VIBER: (r"[A-Za-z0-9+/=]{4,64}", "a Viber user id"),
    ChannelType.ZALO: (r"[0-9]{1,32}", "a Zalo user id (digits)"),
    # TikTok addresses a user by the conversation's id: base64 ("u5Jhps...kg==").
    ChannelType.TIKTOK: (r"[A-Za-z0-9_.+/=\-]{1,128}", "a TikTok conversation id"),
}
# E.164 as people write it: '+', a country code that does not start with 0, and 7 to 15
# digits in all, with the spaces, dots, dashes and parentheses of a written number between
# them (they are dropped when the number is normalised).
_PHONE_SHAPE = r"\+[1-9](?:[ ().\-]{0,2}[0-9]){6,14}"
# Surrounding whitespace is trimmed before an address is checked.
_PADDED = r"^\s*(?:{})\s*$"


def _shape(channel: ChannelType) -> str:
    if channel in USER_ID_CHANNELS:
        return f"{_PHONE_SHAPE}|{_USER_ID_SHAPE}"
    return _PHONE_SHAPE if channel in PHONE_CHANNELS else _ID_PATTERNS[channel][0]


ADDRESS_PATTERNS: dict[ChannelType, str] = {
    channel: _PADDED.format(_shape(channel)) for channel in ChannelType
}
"""Each channel's address shape as a regular expression for a JSON Schema ``pattern``."""

ANY_ADDRESS_PATTERN = _PADDED.format("|".join(dict.fromkeys(map(_shape, ChannelType))))
"""An address on some channel: for a field whose channel is named in another field."""

_COMPILED = {channel: re.compile(pattern) for channel, pattern in ADDRESS_PATTERNS.items()}
_PHONE_RULE = "must be an E.164 phone number starting with '+', e.g. +14155550123"


class InvalidAddress(ValueError):
    """The recipient does not fit the channel's addressing.

    ``unassigned`` is true for a phone number of the right shape that the numbering plan
    does not know (no such country or range): a fact only ``phonenumbers``' metadata holds,
    which no pattern can state.
    """

    def __init__(self, message: str, *, unassigned: bool = False) -> None:
        super().__init__(message)
        self.unassigned = unassigned


@lru_cache(maxsize=65_536)
def normalize_phone(raw: str) -> str:
    """Return ``raw`` as E.164 (``+`` and digits) or raise :class:`InvalidAddress`."""
    if not _COMPILED[ChannelType.SMS].fullmatch(raw):
        raise InvalidAddress(_PHONE_RULE)
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"is not a phone number ({exc._msg})", unassigned=True) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("is not a valid phone number for its country", unassigned=True)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_user_id(address: str) -> bool:
    """Whether ``address`` is a business-scoped user id (or a parent one), not a phone."""
    return USER_ID.fullmatch(address) is not None


def normalize_address(channel: ChannelType, raw: str) -> str:
    """Validate ``raw`` as a recipient on ``channel`` and return its canonical form."""
    if channel in USER_ID_CHANNELS:
        if is_user_id(raw.strip()):
            return raw.strip()
        try:
            return normalize_phone(raw)
        except InvalidAddress as exc:
            raise InvalidAddress(
                f"{exc} (or a business-scoped user id such as BR.1502576394655843)",
                unassigned=exc.unassigned,
            ) from None
    if channel in PHONE_CHANNELS:
        return normalize_phone(raw)
    if not _COMPILED[channel].fullmatch(raw):
        raise InvalidAddress(f"must be {_ID_PATTERNS[channel][1]}")
    return raw.strip()
