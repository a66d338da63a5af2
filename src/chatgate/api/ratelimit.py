"""Rate limits through the ``limits`` library (memory, or Redis when shared): each key's
requests, and the refused webhooks each connection's inbound log keeps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The outcome of one request against its key's limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    window: int = 60

    def headers(self) -> dict[str, str]:
        """The classic ``X-RateLimit-*`` headers and the IETF ``RateLimit`` fields."""
        reset_in = max(0, math.ceil(self.reset_at - time.time()))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
            "RateLimit-Policy": f'"per-key";q={self.limit};w={self.window}',
            "RateLimit": f'"per-key";r={self.remaining};t={reset_in}',
        }

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window resets (at least one)."""
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimiter:
    """Counts hits per name (a key's id, or another name of its own) in fixed one-minute
    windows."""

    def __init__(self, redis_url: str | None) -> None:
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage)
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)

    async def hit(self, name: str, per_minute: int) -> RateLimitState:
        """Count one hit of ``name`` and say whether it is within ``per_minute``."""
        item = RateLimitItemPerMinute(per_minute)
        allowed = await self.strategy.hit(item, name)
        stats = await self.strategy.get_window_stats(item, name)
        return RateLimitState(
            allowed=allowed, limit=per_minute, remaining=stats.remaining, reset_at=stats.reset_time
        )
