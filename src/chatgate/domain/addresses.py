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

# Channels whose users also have a platform-scoped user id besides their phone.
USER_ID_CHANNELS = frozenset({ChannelType.WHATSAPP})
USER_ID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")

# Platform user-id shapes. Telegram also accepts "@channelusername" for channels.
_ID_PATTERNS: dict[ChannelType, tuple[re.Pattern[str], str]] = {
    ChannelType.TELEGRAM: (
        re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}"),
        "a Telegram chat id (digits, may start with '-') or an @username",
    ),
    ChannelType.MESSENGER: (re.compile(r"\d{5,32}"), "a page-scoped user id (digits)"),
    ChannelType.INSTAGRAM: (re.compile(r"\d{5,32}"), "an Instagram-scoped user id (digits)"),
    ChannelType.LINE: (
        re.compile(r"[UCR][0-9a-f]{32}"),
        "a LINE user, group or room id ('U', 'C' or 'R' and 32 hex digits)",
    ),
    ChannelType.VIBER: (re.compile(r"[A-Za-z0-9+/=]{4,64}"), "a Viber user id"),
    ChannelType.ZALO: (re.compile(r"\d{1,32}"), "a Zalo user id (digits)"),
    # TikTok addresses a user by the conversation's id: base64 ("u5Jhps...kg==").
    ChannelType.TIKTOK: (re.compile(r"[A-Za-z0-9_.+/=\-]{1,128}"), "a TikTok conversation id"),
}


class InvalidAddress(ValueError):
    """The recipient does not fit the channel's addressing."""


@lru_cache(maxsize=65_536)
def normalize_phone(raw: str) -> str:
    """Return ``raw`` as E.164 (``+`` and digits) or raise :class:`InvalidAddress`."""
    candidate = raw.strip()
    if not candidate.startswith("+"):
        raise InvalidAddress("must be an E.164 phone number starting with '+', e.g. +14155550123")
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"is not a phone number ({exc._msg})") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("is not a valid phone number for its country")
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
                f"{exc} (or a business-scoped user id such as BR.1502576394655843)"
            ) from None
    if channel in PHONE_CHANNELS:
        return normalize_phone(raw)
    pattern, description = _ID_PATTERNS[channel]
    value = raw.strip()
    if not pattern.fullmatch(value):
        raise InvalidAddress(f"must be {description}")
    return value
