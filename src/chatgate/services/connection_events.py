"""Where a held connection's events are recorded: receipts, users' messages and its states.

A connection a worker keeps open (a bind to a platform's server) may have no webhooks:
receipts and users' messages arrive on the connection itself, and the platform's code turns
them into the same events a webhook becomes. :class:`ConnectionEvents` stores them exactly as a
webhook's are stored (:func:`~chatgate.services.inbound.record_webhook`): messages
deduplicated and linked to contacts, statuses moved forward only, and a receipt that names
a message whose send is not committed yet kept and matched again shortly (``status_match``
jobs), so it is not lost. The platform answers its side only after the commit.

The connection's states become its status: a ``channel.status`` event (``bound``,
``bind_failed`` with the platform's code and reason, ``disconnected``, ...) each time the
state changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import InboundEvent
from chatgate.domain.keys import KeyMode
from chatgate.engine.clock import Clock
from chatgate.services.channels import CHANNEL_STATUS_EVENT
from chatgate.services.inbound import WebhookResult, record_webhook
from chatgate.storage import channels as channel_store
from chatgate.storage import events as event_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)


class ConnectionEvents:
    """Records the events and states of the connections held in this process."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        notify: Callable[[], None] | None = None,
        public_url: str | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.notify = notify
        self.public_url = public_url
        self._states: dict[str, str] = {}

    async def record(self, connection_id: str, events: Sequence[InboundEvent]) -> None:
        """Store ``events`` in one transaction (raises if they could not be stored)."""
        now = self.clock()

        async def store(conn: AsyncConnection) -> WebhookResult | None:
            connection = await channel_store.get_connection(conn, connection_id)
            if connection is None:  # removed meanwhile: nothing to record against
                return None
            return await record_webhook(
                conn, connection, list(events), now, public_url=self.public_url
            )

        result = await self.database.transact(store)
        if result is not None and result.unmatched and self.notify is not None:
            # The worker should see the status_match jobs just queued.
            self.notify()
        log.info("connection.events_stored", connection_id=connection_id, result=result)

    async def state(
        self,
        connection_id: str,
        state: str,
        *,
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        """A ``channel.status`` event when the connection changes state (``code`` and
        ``reason``: the platform's, when it refused)."""
        if self._states.get(connection_id) == state:
            return
        self._states[connection_id] = state
        now = self.clock()

        async def announce(conn: AsyncConnection) -> None:
            connection = await channel_store.get_connection(conn, connection_id)
            if connection is None:
                return
            detail: dict[str, Any] = {
                "channel_id": connection.id,
                "type": connection.type,
                "name": connection.name,
                "status": state,
            }
            if code is not None:
                detail["code"] = code
            if reason is not None:
                detail["reason"] = reason
            await event_store.append_account_event(
                conn, connection.account_id, KeyMode.LIVE, CHANNEL_STATUS_EVENT, detail, now
            )

        await self.database.transact(announce)
