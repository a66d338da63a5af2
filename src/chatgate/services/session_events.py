"""Where linked-device sessions' messages and receipts are recorded: the session host's sink.

A session has no webhooks: users' messages and receipts arrive as its driver's events on
the connection the worker holds (see :mod:`chatgate.services.session_runner`). They are
turned into the events a webhook becomes and stored exactly as a webhook's are
(:func:`~chatgate.services.inbound.record_webhook`, as other held connections' are in
:mod:`chatgate.services.connection_events`), against the session's channel connection (same id):
messages deduplicated, linked to contacts and webhooked; a file's message gets the file's
URL on the gateway and a download job that reads it through the driver
(``WhatsAppWebAdapter.download_media``) and keeps it; receipts move statuses forward only,
matched on the platform id the send returned, and one that comes before the send's outcome
is committed is matched again shortly (``status_match`` jobs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate
from chatgate.channels.device_driver import DriverEvent, IncomingMessage, Receipt
from chatgate.channels.whatsapp_web import WhatsAppWebAdapter
from chatgate.engine.clock import Clock
from chatgate.services.inbound import WebhookResult, record_webhook
from chatgate.storage import channels as channel_store
from chatgate.storage import sessions as session_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)


def inbound_content(message: IncomingMessage) -> dict[str, Any]:
    """Our content for a user's message: text, or a file the gateway downloads later."""
    if message.kind == "text":
        return {"type": "text", "text": message.text or ""}
    media: dict[str, Any] = {
        "kind": "audio" if message.kind == "voice" else message.kind,
        "reference": message.media_id,
        "mime_type": message.mime_type,
        "caption": message.caption,
        "filename": message.filename,
    }
    if message.kind == "voice":
        media["voice"] = True
    return {"type": "media", "media": {k: v for k, v in media.items() if v is not None}}


def as_event(event: DriverEvent, phone: str, now: datetime) -> InboundEvent | None:
    """The webhook event a driver's message or receipt is (``None`` for other events)."""
    if isinstance(event, IncomingMessage):
        at = datetime.fromtimestamp(event.at, UTC) if event.at is not None else now
        return InboundMessage(
            provider_message_id=event.id,
            sender=event.sender,
            recipient=phone,
            content=inbound_content(event),
            at=at,
            raw={"id": event.id, "from": event.sender, "kind": event.kind},
        )
    if isinstance(event, Receipt):
        return StatusUpdate(
            status=WhatsAppWebAdapter.status_map[event.status],
            platform_status=event.status,
            at=now,
            raw={"id": event.message_id, "status": event.status},
            provider_message_id=event.message_id,
        )
    return None


class SessionEvents:
    """Records sessions' messages and receipts (the session host's ``sink``)."""

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

    async def __call__(self, session_id: str, event: DriverEvent) -> None:
        """Store one event of ``session_id``'s device in one transaction."""
        now = self.clock()

        async def store(conn: AsyncConnection) -> WebhookResult | None:
            session = await session_store.get_session(conn, session_id)
            connection = await channel_store.get_connection(conn, session_id)
            if session is None or connection is None:  # removed meanwhile
                return None
            found = as_event(event, session.phone or "", now)
            if found is None:
                return None
            return await record_webhook(conn, connection, [found], now, public_url=self.public_url)

        try:
            result = await self.database.transact(store)
        except Exception:  # the store away: the runner goes on; the event is lost, and said
            log.exception("sessions.event_not_stored", session_id=session_id)
            return
        if result is not None and (result.unmatched or result.media) and self.notify:
            # The worker should see the jobs just queued (a download, a status to match).
            self.notify()
        log.info("sessions.event_stored", session_id=session_id, result=result)
