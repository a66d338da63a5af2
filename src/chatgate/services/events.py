"""The account's event log as the API shows it: pages, and a live stream that resumes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatgate.domain.records import SENDER_PROFILE, ApiKey
from chatgate.errors import NotFound
from chatgate.services.event_feed import EventFeed
from chatgate.storage import events as event_store
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent, LogPosition

# How many events a stream reads from the store at a time.
_STREAM_BATCH = 200


def event_payload(event: LoggedEvent) -> dict[str, Any]:
    """An event as the API and webhooks carry it; ``metadata`` is the message's, unchanged.

    An event of the account itself carries its ``detail`` as its data.
    """
    if event.message_id is None:
        return event_envelope(event.id, event.type, event.created_at, event.detail or {})
    data: dict[str, Any] = {
        "message_id": event.message_id,
        "seq": event.seq,
        "direction": event.direction,
        "channel": event.channel,
        "from": event.sender,
        "to": event.recipient,
        "status": event.status.value if event.status else None,
        "detail": event.detail,
        "metadata": event.metadata,
    }
    if event.type == "message.received":
        data["content"] = event.content
        profile = (event.options or {}).get(SENDER_PROFILE)
        if profile:
            # WhatsApp's business-scoped user id and username of the sender.
            data["sender_profile"] = profile
    return event_envelope(event.id, event.type, event.created_at, data)


def event_envelope(event_id: str, type_: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The shape every event has, in the API and in webhooks."""
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created_at": at.isoformat(),
        "data": data,
    }


async def _place_after(database: Database, key: ApiKey, event_id: str | None) -> LogPosition | None:
    if event_id is None:
        return None
    async with database.read() as conn:
        place = await event_store.place_of(conn, key.account_id, key.mode, event_id)
    if place is None:
        raise NotFound(f"no event {event_id}", field="cursor")
    return place


async def list_events(
    database: Database, key: ApiKey, filters: EventFilter, *, after: str | None, limit: int
) -> tuple[list[LoggedEvent], bool]:
    """A page of the key's account's events, oldest first, after the event ``after``."""
    place = await _place_after(database, key, after)
    async with database.read() as conn:
        found = await event_store.read_log(
            conn, key.account_id, key.mode, after=place, filters=filters, limit=limit + 1
        )
    return found[:limit], len(found) > limit


async def stream_events(
    database: Database,
    feed: EventFeed,
    key: ApiKey,
    filters: EventFilter,
    *,
    after: str | None,
    idle_seconds: float,
) -> AsyncIterator[LoggedEvent]:
    """Every event after ``after`` (all new ones without it), then each new one as it comes.

    Raises ``NotFound`` at once if ``after`` names no event of the key's account.
    """
    place = await _place_after(database, key, after)
    if place is None:
        # Only what happens from now on: start after the newest settled event.
        async with database.read() as conn:
            place = await event_store.newest_place(conn, key.account_id)

    async def events() -> AsyncIterator[LoggedEvent]:
        nonlocal place
        with feed.open_stream():
            while True:
                ticket = feed.ticket()
                async with database.read() as conn:
                    batch = await event_store.read_log(
                        conn,
                        key.account_id,
                        key.mode,
                        after=place,
                        filters=filters,
                        limit=_STREAM_BATCH,
                    )
                for event in batch:
                    place = event.place
                    yield event
                if len(batch) < _STREAM_BATCH:
                    await feed.wait(ticket, idle_seconds)

    return events()
