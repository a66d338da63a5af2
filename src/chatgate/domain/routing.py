"""Auto routing: which of a contact's channels a ``"channel": "auto"`` send goes out on.

The rules, in order:

1. **preference** – the first channel in the contact's own order of preference that it can
   be reached on;
2. **open_window** – else a channel where the contact wrote within the channel's service
   window (an open conversation: free-form content is allowed, and the person is there);
3. **cost** – else the cheapest channel by the account's prices.

Ties (two open windows, two equal prices) go to the cheaper, then to the channel that
comes first in ``CHANNEL_ORDER``, so that the same inputs always give the same answer.
Within a channel, an identity with an open window is taken before one without.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatgate.domain.channels import ChannelType

# The fixed order that breaks ties: rich, cheap-to-run channels first, SMS last.
CHANNEL_ORDER: tuple[str, ...] = (
    ChannelType.WHATSAPP.value,
    ChannelType.TELEGRAM.value,
    ChannelType.MESSENGER.value,
    ChannelType.INSTAGRAM.value,
    ChannelType.LINE.value,
    ChannelType.VIBER.value,
    ChannelType.KAKAO.value,
    ChannelType.ZALO.value,
    ChannelType.TIKTOK.value,
    ChannelType.WHATSAPP_WEB.value,
    ChannelType.SMS.value,
)

Rule = Literal["preference", "open_window", "cost"]
Candidate = tuple[str, str]


class NoRoute(ValueError):
    """The contact cannot be reached on any channel this send may use."""


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """The chosen channel, the contact's identity on it, and why (machine-readable)."""

    channel: str
    to: str
    reason: dict[str, Any]

    @property
    def rule(self) -> Rule:
        """Which rule decided."""
        rule: Rule = self.reason["rule"]
        return rule


def _rank(channel: str) -> tuple[int, str]:
    try:
        return (CHANNEL_ORDER.index(channel), channel)
    except ValueError:
        return (len(CHANNEL_ORDER), channel)


def choose_channel(
    candidates: Sequence[Candidate],
    preferred: Sequence[str],
    open_windows: Collection[Candidate],
    prices: Mapping[str, int],
) -> RouteChoice:
    """Pick the channel and identity to reach a contact on.

    ``candidates`` are the contact's (channel, identity) pairs already narrowed to the
    channels the key may use and the account has connected; ``preferred`` is the contact's
    order of preference; ``open_windows`` the pairs with an open conversation window;
    ``prices`` the price of a message per channel in micro-units (a channel without a price
    comes after every priced one). Raises :class:`NoRoute` when there is no candidate.
    """
    if not candidates:
        raise NoRoute("the contact has no identity on a channel this send may use")
    considered = sorted({channel for channel, _ in candidates}, key=_rank)
    # Within a channel: an identity with an open window first, then the order given.
    by_channel: dict[str, Candidate] = {}
    for pair in sorted(candidates, key=lambda pair: pair not in open_windows):
        by_channel.setdefault(pair[0], pair)

    def cost(channel: str) -> tuple[int, int, tuple[int, str]]:
        price = prices.get(channel)
        return (price is None, price or 0, _rank(channel))

    def chosen(channel: str, rule: Rule) -> RouteChoice:
        _, identity = by_channel[channel]
        return RouteChoice(channel, identity, {"rule": rule, "considered": considered})

    for channel in preferred:
        if channel in by_channel:
            return chosen(channel, "preference")
    open_channels = [channel for channel, pair in by_channel.items() if pair in open_windows]
    if open_channels:
        return chosen(min(open_channels, key=cost), "open_window")
    return chosen(min(by_channel, key=cost), "cost")
