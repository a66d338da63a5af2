"""A session's pairing stream: its QR codes and its state changes, as Server-Sent Events.

The stream is the account's event log seen through one session: each ``session.qr`` event
becomes ``qr`` (the code and a PNG data URL of it), each ``session.status`` event becomes
``connected`` (working), ``error`` (failed, or removed: the stream ends then) or
``disconnected`` (back to starting or stopped after a connection ended; a reason says why).
Every message carries its event's id, so an EventSource that reconnects resumes with
``Last-Event-ID``. A stream opened without it starts with the session as it is now (its
current QR code, or ``connected``, or ``error``), as messages without an id.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import AsyncIterator
from typing import Any

import segno

from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.domain.sessions import SESSION_QR_EVENT, SESSION_STATUS_EVENT
from chatgate.errors import NotFound
from chatgate.services import events as event_service
from chatgate.services.event_feed import EventFeed
from chatgate.services.sessions import REMOVED
from chatgate.storage import sessions as session_store
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent
from chatgate.storage.sessions import StoredSession

SESSION_EVENTS = EventFilter(types=frozenset({SESSION_STATUS_EVENT, SESSION_QR_EVENT}))


@dataclasses.dataclass(frozen=True, slots=True)
class StreamMessage:
    """One Server-Sent Event: its id (``None`` for the opening snapshot), name and data."""

    id: str | None
    event: str
    data: dict[str, Any]


def qr_png(code: str) -> bytes:
    """The QR code as a PNG image, big enough for a phone's camera on a screen."""
    image = io.BytesIO()
    segno.make(code, error="l").save(image, kind="png", scale=6, border=2)
    return image.getvalue()


def qr_data(code: str) -> dict[str, Any]:
    """The data of a ``qr`` message: the code, and a PNG data URL of it."""
    png = base64.b64encode(qr_png(code)).decode("ascii")
    return {"qr": code, "png": f"data:image/png;base64,{png}"}


def _status_message(event_id: str | None, detail: dict[str, Any]) -> StreamMessage | None:
    state, reason = detail.get("state"), detail.get("reason")
    facts = {"session_id": detail.get("session_id"), "state": state, "reason": reason}
    if state == "working":
        facts.update(phone=detail.get("phone"), phone_name=detail.get("phone_name"))
        return StreamMessage(event_id, "connected", facts)
    if state in ("failed", REMOVED):
        return StreamMessage(event_id, "error", {**facts, "reason": reason or state})
    if state in ("starting", "stopped") and reason is not None:
        return StreamMessage(event_id, "disconnected", facts)
    return None


def _message(event: LoggedEvent) -> StreamMessage | None:
    detail = event.detail or {}
    if event.type == SESSION_QR_EVENT:
        return StreamMessage(
            event.id, "qr", {"session_id": detail.get("session_id"), **qr_data(detail["qr"])}
        )
    return _status_message(event.id, detail)


def snapshot(stored: StoredSession) -> StreamMessage | None:
    """The session as it is now, as the message a stream opens with."""
    if stored.state == "scan_qr" and stored.qr is not None:
        return StreamMessage(None, "qr", {"session_id": stored.id, **qr_data(stored.qr)})
    detail = {
        "session_id": stored.id,
        "state": stored.state,
        "reason": stored.reason,
        "phone": stored.phone,
        "phone_name": stored.push_name,
    }
    return _status_message(None, detail) if stored.state != "starting" else None


async def session_stream(
    database: Database,
    feed: EventFeed,
    key: ApiKey,
    stored: StoredSession,
    *,
    after: str | None,
    idle_seconds: float,
) -> AsyncIterator[StreamMessage]:
    """The session's messages after the event ``after`` (from now, after a snapshot,
    without it); 404 at once if ``after`` names no event of the account."""
    # Sessions are live objects: a test key managing them reads their live events.
    live = dataclasses.replace(key, mode=KeyMode.LIVE)
    try:
        events = await event_service.stream_events(
            database, feed, live, SESSION_EVENTS, after=after, idle_seconds=idle_seconds
        )
    except NotFound as exc:
        raise NotFound(exc.message, field="Last-Event-ID") from None
    opening = None
    if after is None:
        # Read after the stream's start was fixed: a change in between is in the snapshot
        # or the stream (or both), never lost.
        async with database.read() as conn:
            now = await session_store.get_session(conn, stored.id)
        opening = snapshot(now or stored)

    async def messages() -> AsyncIterator[StreamMessage]:
        said: tuple[str, dict[str, Any]] | None = None
        if opening is not None:
            said = (opening.event, opening.data)
            yield opening
        async for event in events:
            if (event.detail or {}).get("session_id") != stored.id:
                continue
            message = _message(event)
            # The opening snapshot may also come as the event it shows: said once.
            if message is None or (message.event, message.data) == said:
                continue
            said = (message.event, message.data)
            yield message
            if message.data.get("state") == REMOVED:
                return

    return messages()
