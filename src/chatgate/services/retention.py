"""Pruning what the store keeps only for a while: webhooks refused for their signature.

A refused webhook is noted in its connection's inbound log (at most so many a minute, see
the inbound route), for an operator looking into a misconfigured secret; after
``refused_webhook_days`` the note has served. Every worker prunes now and then; several
workers pruning at once delete the same rows, which is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from chatgate.engine.clock import Clock
from chatgate.services.inbound import SIGNATURE_REFUSED
from chatgate.storage import channels as channel_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)


class Retention:
    """Deletes the inbound log's refused webhooks once they are older than their retention."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        refused_webhook_days: float,
        every_seconds: float,
    ) -> None:
        self.database = database
        self.clock = clock
        self.refused_webhook_age = timedelta(days=refused_webhook_days)
        self.every_seconds = every_seconds

    async def run(self) -> None:
        """Prune now, then every ``every_seconds``, until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception:  # the store may be briefly away: prune at the next turn
                log.exception("retention.prune_failed")
            await asyncio.sleep(self.every_seconds)

    async def run_once(self) -> int:
        """Delete what is past its retention now; how many entries went."""
        before = self.clock() - self.refused_webhook_age
        async with self.database.write() as conn:
            pruned = await channel_store.prune_inbound_log(conn, SIGNATURE_REFUSED, before)
        if pruned:
            log.info("retention.pruned", refused_webhooks=pruned)
        return pruned
