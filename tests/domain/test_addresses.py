"""Recipient validation per channel."""

from __future__ import annotations

import pytest

from chatgate.domain.addresses import InvalidAddress, normalize_address
from chatgate.domain.channels import ChannelType


@pytest.mark.parametrize(
    ("channel", "raw", "expected"),
    [
        (ChannelType.SMS, "+14155550123", "+14155550123"),
        (ChannelType.WHATSAPP, " +1 (415) 555-0123 ", "+14155550123"),
        (ChannelType.KAKAO, "+82 10-1234-5678", "+821012345678"),
        (ChannelType.TELEGRAM, "-1001234567890", "-1001234567890"),
        (ChannelType.TELEGRAM, "@chatgate_news", "@chatgate_news"),
        (ChannelType.MESSENGER, "24536781234567", "24536781234567"),
        (ChannelType.LINE, "U" + "a" * 32, "U" + "a" * 32),
        (ChannelType.ZALO, "8712345678901", "8712345678901"),
    ],
)
def test_valid_addresses_are_normalised(channel: ChannelType, raw: str, expected: str) -> None:
    assert normalize_address(channel, raw) == expected


@pytest.mark.parametrize(
    ("channel", "raw"),
    [
        (ChannelType.SMS, "14155550123"),  # no '+'
        (ChannelType.SMS, "+1415"),  # too short to be valid
        (ChannelType.WHATSAPP, "+999123456789"),  # no such country code
        (ChannelType.SMS, "+1 415 555 01234 999"),
        (ChannelType.TELEGRAM, "not a chat"),
        (ChannelType.MESSENGER, "abc"),
        (ChannelType.LINE, "U123"),
    ],
)
def test_invalid_addresses_are_refused(channel: ChannelType, raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(channel, raw)
