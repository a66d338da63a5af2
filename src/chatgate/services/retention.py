"""Pruning what the store keeps only for a while: refusals anyone can cause.

A refused webhook is noted in its connection's inbound log (at most so many a minute, see
the inbound route), for an operator looking into a misconfigured secret; after
``refused_webhook_days`` the note has served. A refused authentication that names no key of
any account is in the audit log of no account (at most so many a minute from one address,
see ``api/auth``), for the operator; after ``unowned_refusal_days`` it goes too. Refusals of
an account's own keys stay with the rest of its audit log. Every worker prunes now and
then; several workers pruning at once delete the same rows, which is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from chatgate.engine.clock import Clock
from chatgate.services.audit import AUTH_REFUSED
from chatgate.services.inbound import SIGNATURE_REFUSED
from chatgate.storage import audit as audit_store
from chatgate.storage import channels as channel_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)


class Retention:
    """Deletes refusals anyone can cause once they are older than their retention."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        refused_webhook_days: float,
        unowned_refusal_days: float,
        every_seconds: float,
    ) -> None:
        self.database = database
        self.clock = clock
        self.refused_webhook_age = timedelta(days=refused_webhook_days)
        self.unowned_refusal_age = timedelta(days=unowned_refusal_days)
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
        now = self.clock()
        async with self.database.write() as conn:
            webhooks = await channel_store.prune_inbound_log(
                conn, SIGNATURE_REFUSED, now - self.refused_webhook_age
            )
            refusals = await audit_store.prune_unowned(
                conn, AUTH_REFUSED, now - self.unowned_refusal_age
            )
        if webhooks or refusals:
            log.info("retention.pruned", refused_webhooks=webhooks, unowned_refusals=refusals)
        return webhooks + refusals
