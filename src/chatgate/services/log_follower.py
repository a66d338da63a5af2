"""Followers of the event log: work that follows every status change, in commit order,
without each writer of a status knowing about it (the settlement of prices, the threads'
last outbound message).

A follower has its own cursor in ``log_cursors``. It looks for its kind of event after the
cursor with a cheap read; when there is some, it takes the cursor's lock, handles a batch
and moves the cursor in one transaction, so a crash repeats a batch or none of it (what a
follower does must bear being done twice). With nothing to do, the cursor moves at most
every ``idle_move_seconds``: a write (on SQLite an fsync) on every new event would cost
every send, for nothing.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage import events as event_store
from chatgate.storage import log_cursors
from chatgate.storage.database import Database
from chatgate.storage.events import LogPosition

log = structlog.get_logger(__name__)


class Placed(Protocol):
    """Something found in the log, at its place."""

    @property
    def place(self) -> LogPosition:
        """Where it stands in the log."""
        ...


ItemT = TypeVar("ItemT", bound=Placed)


class LogFollower(ABC, Generic[ItemT]):
    """Handles its kind of event as the log grows; ``run_once`` does one batch."""

    # The follower's row in ``log_cursors`` (made by the migration that introduced it).
    cursor: str

    def __init__(
        self, database: Database, *, batch_size: int = 500, idle_move_seconds: float = 1.0
    ) -> None:
        self.database = database
        self.batch_size = batch_size
        self.idle_move_seconds = idle_move_seconds
        self._last_move = 0.0
        # How far the log is known to hold nothing for this follower. A place once read stays
        # as it is (events are appended in order and never change), so a look for work
        # starts here rather than at the cursor, which moves only now and then.
        self._clear_to: LogPosition | None = None

    @abstractmethod
    async def find(
        self, conn: AsyncConnection, after: LogPosition, up_to: LogPosition, limit: int
    ) -> Sequence[ItemT]:
        """Up to ``limit`` items of this follower's kind in ``(after, up_to]``, in order."""

    @abstractmethod
    async def handle(self, conn: AsyncConnection, items: Sequence[ItemT]) -> None:
        """Do this follower's work for ``items``, in the cursor's transaction."""

    def _start(self, cursor: LogPosition) -> LogPosition:
        return max(cursor, self._clear_to) if self._clear_to is not None else cursor

    async def _pending(self) -> bool:
        """Whether there may be work after the cursor (a cheap read)."""
        async with self.database.read() as conn:
            after = await log_cursors.read_cursor(conn, self.cursor)
            newest = await event_store.newest_place(conn, None)
            if after is None:
                return True
            start = self._start(after)
            if newest is None or newest <= start:
                return False
            if await self.find(conn, start, newest, 1):
                return True
        self._clear_to = newest
        return False

    async def run_once(self) -> int:
        """Handle the next batch; returns how many items it handled."""
        idle = time.monotonic() - self._last_move < self.idle_move_seconds
        if not await self._pending() and idle:
            return 0
        async with self.database.write() as conn:
            after = await log_cursors.hold_cursor(conn, self.cursor)
            if after is None:  # another process holds it
                return 0
            newest = await event_store.newest_place(conn, None)
            if newest is None or newest <= after:
                return 0
            start = self._start(after)
            items = await self.find(conn, start, newest, self.batch_size) if start < newest else []
            if items:
                await self.handle(conn, items)
            full = len(items) == self.batch_size
            await log_cursors.move_cursor(conn, self.cursor, items[-1].place if full else newest)
        self._last_move = time.monotonic()
        if items:
            log.debug("log_follower.handled", cursor=self.cursor, items=len(items))
        return len(items)
