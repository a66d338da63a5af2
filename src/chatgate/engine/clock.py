"""The engine's sense of time, injectable so that tests can move it without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from chatgate.storage.types import utcnow

Clock = Callable[[], datetime]
system_clock: Clock = utcnow


class FakeClock:
    """A clock that stands still until told to move (for tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)
