"""Settling reserved prices: a priced message that was sent spends its price; one that
failed or was canceled gets it back.

The settlement follows the event log (its own cursor in ``log_cursors``), so that every way
a status is written (the worker, a platform's receipt, a cancel, a fallback) is covered
without each of them knowing about credit. Each movement is guarded by the message's
billing state, so a repeated batch after a crash moves nothing twice.
"""

from __future__ import annotations

import time

import structlog

from chatgate.domain.status import Status
from chatgate.storage import billing as billing_store
from chatgate.storage import events as event_store
from chatgate.storage import log_cursors
from chatgate.storage.database import Database
from chatgate.storage.events import LogPosition

log = structlog.get_logger(__name__)

CURSOR = "settlement"
_REFUNDED_ON = frozenset({Status.FAILED, Status.CANCELED})


class Settlement:
    """Spends or refunds reserved prices as their messages' statuses are committed."""

    def __init__(
        self, database: Database, *, batch_size: int = 500, idle_move_seconds: float = 1.0
    ) -> None:
        self.database = database
        self.batch_size = batch_size
        # With nothing to settle, the cursor moves at most this often: a write (on SQLite an
        # fsync) on every new event would cost every send, for nothing.
        self.idle_move_seconds = idle_move_seconds
        self._last_move = 0.0
        # How far the log is known to hold nothing to settle. A place once read stays as it
        # is (events are appended in order; a message's price never changes), so a look for
        # work starts here rather than at the cursor, which moves only now and then.
        self._clear_to: LogPosition | None = None

    def _start(self, cursor: LogPosition) -> LogPosition:
        return max(cursor, self._clear_to) if self._clear_to is not None else cursor

    async def _pending(self) -> bool:
        """Whether there may be something to settle after the cursor (a cheap read)."""
        async with self.database.read() as conn:
            after = await log_cursors.read_cursor(conn, CURSOR)
            newest = await event_store.newest_place(conn, None)
            if after is None:
                return True
            start = self._start(after)
            if newest is None or newest <= start:
                return False
            if await billing_store.priced_outcomes(conn, start, newest, 1):
                return True
        self._clear_to = newest
        return False

    async def run_once(self) -> int:
        """Settle the next batch; returns how many status events it handled."""
        if (
            not await self._pending()
            and time.monotonic() - self._last_move < self.idle_move_seconds
        ):
            return 0
        async with self.database.write() as conn:
            after = await log_cursors.hold_cursor(conn, CURSOR)
            if after is None:  # another process is settling
                return 0
            newest = await event_store.newest_place(conn, None)
            if newest is None or newest <= after:
                return 0
            start = self._start(after)
            outcomes = (
                await billing_store.priced_outcomes(conn, start, newest, self.batch_size)
                if start < newest
                else []
            )
            for outcome in outcomes:
                if outcome.status in _REFUNDED_ON:
                    await billing_store.refund(
                        conn, outcome.account_id, outcome.message_id, outcome.price, outcome.at
                    )
                else:
                    await billing_store.settle(
                        conn, outcome.account_id, outcome.message_id, outcome.price, outcome.at
                    )
            full = len(outcomes) == self.batch_size
            await log_cursors.move_cursor(conn, CURSOR, outcomes[-1].place if full else newest)
        self._last_move = time.monotonic()
        if outcomes:
            log.debug("billing.settled", events=len(outcomes))
        return len(outcomes)
