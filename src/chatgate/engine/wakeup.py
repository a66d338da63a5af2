"""Wake-ups: how a committed job reaches an idle worker without polling."""

from __future__ import annotations

import asyncio


class LocalWakeup:
    """In-process wake-up for the embedded mode, where API and worker share a process."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Say that new work was committed."""
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a notification; ``True`` if one came."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True
