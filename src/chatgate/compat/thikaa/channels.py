"""Thikaa's channel codes and the channel types they stand for."""

from __future__ import annotations

from enum import StrEnum

from chatgate.domain.channels import ChannelType


class ThikaaChannel(StrEnum):
    """A channel as a Thikaa client names it."""

    WD = "wd"
    WA = "wa"
    TG = "tg"
    FB = "fb"
    IG = "ig"
    TT = "tt"


# In the page's order, which is also the order ``?action=status`` lists them in.
CHANNEL_TYPES: dict[ThikaaChannel, ChannelType] = {
    # WhatsApp Direct: a linked-device session of the business's own WhatsApp.
    ThikaaChannel.WD: ChannelType.WHATSAPP_WEB,
    ThikaaChannel.WA: ChannelType.WHATSAPP,
    ThikaaChannel.TG: ChannelType.TELEGRAM,
    ThikaaChannel.FB: ChannelType.MESSENGER,
    ThikaaChannel.IG: ChannelType.INSTAGRAM,
    ThikaaChannel.TT: ChannelType.TIKTOK,
}
_CODES = {channel_type.value: code for code, channel_type in CHANNEL_TYPES.items()}

CHANNEL_DESCRIPTION = (
    "wd WhatsApp Direct · wa WhatsApp Cloud · tg Telegram · fb Messenger · ig Instagram · tt TikTok"
)


def code_of(channel: str | None) -> ThikaaChannel | None:
    """The Thikaa code of a channel type, ``None`` for a channel Thikaa does not speak."""
    return _CODES.get(channel or "")
