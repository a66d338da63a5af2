"""Settling reserved prices: a priced message that was sent spends its price; one that
failed or was canceled gets it back.

The settlement follows the event log (``services/log_follower``), so that every way a
status is written (the worker, a platform's receipt, a cancel, a fallback) is covered
without each of them knowing about credit. Each movement is guarded by the message's
billing state, so a repeated batch after a crash moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.status import Status
from chatgate.services.log_follower import LogFollower
from chatgate.storage import billing as billing_store
from chatgate.storage.billing import PricedOutcome
from chatgate.storage.events import LogPosition

_REFUNDED_ON = frozenset({Status.FAILED, Status.CANCELED})


class Settlement(LogFollower[PricedOutcome]):
    """Spends or refunds reserved prices as their messages' statuses are committed."""

    cursor = "settlement"

    async def find(
        self, conn: AsyncConnection, after: LogPosition, up_to: LogPosition, limit: int
    ) -> Sequence[PricedOutcome]:
        """Status events that settle or refund a priced message."""
        return await billing_store.priced_outcomes(conn, after, up_to, limit)

    async def handle(self, conn: AsyncConnection, items: Sequence[PricedOutcome]) -> None:
        """Spend the price of what was sent; give back that of what failed or was canceled."""
        for outcome in items:
            move = billing_store.refund if outcome.status in _REFUNDED_ON else billing_store.settle
            await move(conn, outcome.account_id, outcome.message_id, outcome.price, outcome.at)
