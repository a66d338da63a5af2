"""One watch on the event log per process, waking every live event stream it serves.

Streams do not poll the store each on its own: while any stream is open, one task reads a
cheap signature of the log (``storage.events.log_signature``) every ``interval`` seconds and,
when it changes, wakes every stream, which then reads its own account's new events. It works
alike whichever process wrote the events, on SQLite or PostgreSQL.

A stream takes a ``ticket`` before it reads the log and waits on that ticket afterwards: a
change seen in between has already set the ticket, so the stream never sleeps through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import structlog

from chatgate.event_loop import cancel_and_wait
from chatgate.storage import events as event_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)


class EventFeed:
    """Tells open event streams when the log may hold something new for them."""

    def __init__(self, database: Database, interval: float) -> None:
        self._database = database
        self._interval = interval
        self._changed = asyncio.Event()
        self._streams = 0
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def open_stream(self) -> Iterator[None]:
        """Keep the watch running while the block lasts."""
        self._streams += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="event-feed")
        try:
            yield
        finally:
            self._streams -= 1

    def ticket(self) -> asyncio.Event:
        """Take before reading the log; set once the log changes after that."""
        return self._changed

    @staticmethod
    async def wait(ticket: asyncio.Event, seconds: float) -> None:
        """Wait until ``ticket`` is set, or for ``seconds`` at most."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await ticket.wait()

    async def close(self) -> None:
        """Stop watching."""
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _signature(self) -> Sequence[Any]:
        async with self._database.read() as conn:
            return await event_store.log_signature(conn)

    async def _watch(self) -> None:
        seen = await self._signature()
        while self._streams > 0:
            await asyncio.sleep(self._interval)
            try:
                current = await self._signature()
            except Exception:
                log.warning("event_feed.read_failed", exc_info=True)
                continue
            if current != seen:
                seen = current
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
