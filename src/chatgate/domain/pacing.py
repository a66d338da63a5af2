"""How fast each platform lets one sender send: the defaults, settable per connection.

Rates come from the platforms' documentation (see PROVIDERS.md); where a platform documents
none, the default is a conservative guess, marked so, that an operator can raise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from chatgate.domain.channels import ChannelType


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``amount`` sends in any window of ``seconds``."""

    amount: int
    seconds: int = 1

    def __post_init__(self) -> None:
        if self.amount < 1 or self.seconds < 1:
            raise ValueError("a rate needs a positive amount and window")


@dataclass(frozen=True, slots=True)
class Pace:
    """A sender's limits: overall, and towards any one recipient."""

    sender: Rate | None = None
    recipient: Rate | None = None


DEFAULT_PACE: dict[ChannelType, Pace] = {
    # 80 msg/s per business number; pair limit about 1 per 6 s to one user, bursts to ~45.
    ChannelType.WHATSAPP: Pace(Rate(80), Rate(45, 270)),
    # Linked-device sessions get banned for bulk sending: keep it human-like (a guess).
    ChannelType.WHATSAPP_WEB: Pace(Rate(5), Rate(1, 2)),
    # ~30 msg/s per bot, 1 msg/s per chat.
    ChannelType.TELEGRAM: Pace(Rate(30), Rate(1)),
    # Send API: 300 calls/s per page or account for text (10/s for audio and video).
    ChannelType.MESSENGER: Pace(Rate(300)),
    ChannelType.INSTAGRAM: Pace(Rate(300)),
    # No documented rate: a conservative guess.
    ChannelType.TIKTOK: Pace(Rate(10)),
    # 2,000 requests/s for push.
    ChannelType.LINE: Pace(Rate(2000)),
    # NHN documents no rate: a conservative guess.
    ChannelType.KAKAO: Pace(Rate(50)),
    # At most 100 messages per user per hour.
    ChannelType.VIBER: Pace(Rate(100), Rate(100, 3600)),
    # Zalo documents no rate, only error -32 when an OA exceeds it: a guess.
    ChannelType.ZALO: Pace(Rate(20)),
    # Per-connection TPS is a contract with the SMSC or provider; 10/s until set.
    ChannelType.SMS: Pace(Rate(10)),
}


def rate_per_second(per_second: float) -> Rate:
    """The whole-number rate closest to ``per_second`` that never exceeds it."""
    if per_second >= 1:
        return Rate(math.floor(per_second))
    return Rate(1, math.ceil(1 / per_second))


def pace_of(
    channel: ChannelType,
    *,
    per_second: float | None = None,
    per_recipient_seconds: float | None = None,
) -> Pace:
    """The channel's default pace, with a connection's own settings where it has them.

    ``per_recipient_seconds`` is the least time between two sends to one user (0: none).
    """
    pace = DEFAULT_PACE[channel]
    if per_second is not None:
        pace = replace(pace, sender=rate_per_second(per_second))
    if per_recipient_seconds is not None:
        recipient = Rate(1, math.ceil(per_recipient_seconds)) if per_recipient_seconds else None
        pace = replace(pace, recipient=recipient)
    return pace
