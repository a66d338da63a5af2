"""Pacing: sends to one sender stay within its platform's rates, however many workers run.

Built on the ``limits`` library's moving window, kept in memory or, with Redis, shared by
every process. A send either takes a slot now or learns how long until one frees; it waits
rather than fails.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from chatgate.domain.pacing import Pace, Rate

_GUARD_SECONDS = 0.025


def _item(rate: Rate) -> RateLimitItem:
    return RateLimitItemPerSecond(rate.amount, rate.seconds)


class Pacer:
    """Hands out send slots per sender and per (sender, recipient)."""

    def __init__(self, redis_url: str | None) -> None:
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        storage = storage_from_string(uri, key_prefix="chatgate-pace")
        assert isinstance(storage, Storage)
        self.limiter = MovingWindowRateLimiter(storage)

    async def reserve(self, sender: str, recipient: str, pace: Pace) -> float:
        """Take a slot now and return 0, or return the seconds until one may free.

        Both limits are tested before either is taken, so a refused send takes nothing.
        (Two workers racing for the last slot may each take one half; that only wastes a
        slot, it never sends over the limit, because each ``hit`` is atomic.)
        """
        limits = [
            (_item(rate), key)
            for rate, key in (
                (pace.recipient, f"r:{sender}:{recipient}"),
                (pace.sender, f"s:{sender}"),
            )
            if rate is not None
        ]
        for item, key in limits:
            if not await self.limiter.test(item, key):
                return await self._wait(item, key)
        for item, key in limits:
            if not await self.limiter.hit(item, key):
                return await self._wait(item, key)
        return 0.0

    async def _wait(self, item: RateLimitItem, key: str) -> float:
        stats = await self.limiter.get_window_stats(item, key)
        # A small guard past the moment the slot frees: what the platform sees is the send,
        # a little after the slot was taken, and a send that left late must not end up in
        # the same window as one that leaves on time.
        return max(stats.reset_time - time.time(), 0.0) + _GUARD_SECONDS
