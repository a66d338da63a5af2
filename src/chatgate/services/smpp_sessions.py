"""A bound SMPP session for every SMPP connection, whether or not anything is being sent.

Sessions start on a connection's first send (see :mod:`chatgate.channels.sms_smpp_pool`),
but an SMSC hands users' messages and receipts only to a bound session: after a restart,
or for a connection that only receives, nothing would arrive until the next send. The
worker therefore looks over the stored connections now and then (and at start), opens a
session for each SMPP one that has none, and closes the sessions of connections that were
removed. A connection whose credentials changed gets a new session on the next look (or
the next send), with the new credentials.
"""

from __future__ import annotations

import asyncio

import structlog

from chatgate.channels.sms_smpp import SmppAdapter
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.services.channels import ChannelService
from chatgate.storage import channels as channel_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)

SMS = "sms"
LOOK_EVERY_SECONDS = 30.0


class SmppSessionKeeper:
    """Opens and closes this process's SMPP sessions to match the stored connections."""

    def __init__(
        self,
        database: Database,
        channels: ChannelService,
        pool: SessionPool,
        *,
        every_seconds: float = LOOK_EVERY_SECONDS,
    ) -> None:
        self.database = database
        self.channels = channels
        self.pool = pool
        self.every_seconds = every_seconds

    async def run(self) -> None:
        """Look now, then every ``every_seconds``, until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception:  # the store may be briefly away: look again later
                log.exception("smpp.keeper_failed")
            await asyncio.sleep(self.every_seconds)

    async def run_once(self) -> int:
        """Start the sessions that are missing, close the orphaned; how many are kept."""
        kept: set[str] = set()
        async with self.database.read() as conn:
            ids = [connection_id for connection_id, _ in await channel_store.all_credentials(conn)]
            stored = [await channel_store.get_connection(conn, cid) for cid in ids]
        for connection in stored:
            if connection is None or connection.type != SMS:
                continue
            try:
                adapter = self.channels.adapter(connection)
            except Exception:  # undecryptable or no longer valid: leave it to the sends
                log.warning("smpp.keeper_skipped", connection_id=connection.id)
                continue
            smpp = getattr(adapter, "provider", adapter)
            if isinstance(smpp, SmppAdapter):
                self.pool.session(connection.id, smpp.session_config)
                kept.add(connection.id)
        for orphan in self.pool.connection_ids() - kept:
            await self.pool.close_connection(orphan)
        return len(kept)
