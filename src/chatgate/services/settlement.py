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

    async def _pending(self) -> bool:
        """Whether there may be something to settle after the cursor (a cheap read)."""
        async with self.database.read() as conn:
            after = await log_cursors.read_cursor(conn, CURSOR)
            newest = await event_store.newest_place(conn, None)
            if newest is None or (after is not None and newest <= after):
                return False
            if after is None:
                return True
            return bool(await billing_store.priced_outcomes(conn, after, newest, 1))

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
            outcomes = await billing_store.priced_outcomes(conn, after, newest, self.batch_size)
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
