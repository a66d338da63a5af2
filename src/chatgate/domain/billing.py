"""Credit and plans: what a message costs, what a plan allows, and the ledger's vocabulary.

Amounts are integers in micro-units of the account's currency (1 USD = 1,000,000), so that
sums are exact. A price table maps ``"channel.kind"`` (``"whatsapp.template"``), ``"channel"``
or ``"*"`` to a price; the most specific entry wins, and a message no entry prices is free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

MICRO = 1_000_000
ANY = "*"
# What names a price: "*", a channel, or "channel.kind" (also the OpenAPI document's pattern).
PRICE_KEY_PATTERN = r"^(\*|[a-z_]+(\.[a-z_]+)?)$"
_PRICE_KEY = re.compile(PRICE_KEY_PATTERN)


class LedgerKind(StrEnum):
    """What moved an account's credit."""

    # Credit added (CLI or admin API); a negative top-up corrects a mistake.
    TOPUP = "topup"
    # A live send's price set aside at accept: out of the balance, into ``held``.
    RESERVE = "reserve"
    # The message was sent: the held price is spent.
    SETTLE = "settle"
    # The message failed or was canceled: its price goes back to the balance.
    REFUND = "refund"


class BillingState(StrEnum):
    """Where a priced message's price stands."""

    HELD = "held"
    SETTLED = "settled"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Plan:
    """What an account may do per key and per day; ``None`` is no limit."""

    name: str
    rate_limit: int | None
    daily_messages: int | None
    # Linked-device sessions the account may hold at once.
    sessions: int | None = None


def valid_price_key(key: str) -> bool:
    """Whether ``key`` can name prices: ``*``, ``channel`` or ``channel.kind``."""
    return bool(_PRICE_KEY.fullmatch(key))


def price_of(prices: Mapping[str, int], channel: str, kind: str) -> int:
    """The price of a ``kind`` message (text, media, template, …) on ``channel``."""
    for key in (f"{channel}.{kind}", channel, ANY):
        if key in prices:
            return prices[key]
    return 0


def usage_day(at: datetime) -> str:
    """The UTC day that ``at`` counts against in a daily quota (``YYYY-MM-DD``)."""
    return at.astimezone(UTC).date().isoformat()


def quota_resets_at(at: datetime) -> datetime:
    """When the daily quota that ``at`` counts against starts afresh (next UTC midnight)."""
    tomorrow = at.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(), tzinfo=UTC)


def format_amount(micro: int, currency: str) -> str:
    """``micro`` micro-units shown as a decimal amount, e.g. ``12.500000 USD``."""
    sign = "-" if micro < 0 else ""
    whole, rest = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{rest:06d} {currency}"
