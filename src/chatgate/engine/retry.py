"""When to try a failed job again: exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff doubling from ``base`` up to ``cap`` seconds, at most ``max_attempts`` tries."""

    base: float = 1.0
    cap: float = 300.0
    max_attempts: int = 8

    def should_retry(self, attempts: int) -> bool:
        """Whether another try is allowed after ``attempts`` tries."""
        return attempts < self.max_attempts

    def delay(
        self, attempts: int, hint: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before the next try; a platform's hint is a floor, never cut short."""
        ceiling = min(self.cap, self.base * 2 ** max(attempts - 1, 0))
        jittered = (rng or random).uniform(0, ceiling)
        return max(jittered, hint or 0.0)
