"""``/v1/events``: the account's event log, a page at a time or as a live stream (SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse

from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.events import EventList, EventOut, EventType
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import events as event_service
from chatgate.storage.events import EventFilter

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)
EVENT_ID = r"^evt_[0-9A-Z]{26}$"
MESSAGE_ID = r"^msg_[0-9A-Z]{26}$"
# A comment line this often keeps proxies from closing a quiet stream.
PING_SECONDS = 15
# The id an EventSource sends when it reconnects to a stream of the log's events.
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=EVENT_ID,
        description="sent by an EventSource that reconnects: resume after this event",
    ),
]


def event_filter(
    type: Annotated[
        list[EventType] | None, Query(description="only these types (repeat the parameter)")
    ] = None,
    message_id: Annotated[
        str | None, Query(pattern=MESSAGE_ID, description="only the events of this message")
    ] = None,
) -> EventFilter:
    """The filters a request asks for, shared by the list and the stream."""
    return EventFilter(types=frozenset(t.value for t in type or ()), message_id=message_id)


@router.get("", response_model=EventList)
async def list_events(
    request: Request,
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
    filters: EventFilter = Depends(event_filter),
    cursor: Annotated[
        str | None, Query(pattern=EVENT_ID, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EventList:
    """The account's events oldest first, in the order they were committed."""
    found, has_more = await event_service.list_events(
        gateway_of(request).database, key, filters, after=cursor, limit=limit
    )
    data = [EventOut.model_validate(event_service.event_payload(event)) for event in found]
    return EventList(data=data, has_more=has_more, next_cursor=found[-1].id if found else cursor)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_events(
    request: Request,
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
    filters: EventFilter = Depends(event_filter),
    after: Annotated[
        str | None, Query(pattern=EVENT_ID, description="resume after this event")
    ] = None,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """Every new event of the account as it is committed; resumable with ``Last-Event-ID``.

    Each SSE message has the event's id as ``id``, its type as ``event`` and the event as
    ``data`` (JSON). Without ``Last-Event-ID`` or ``after`` the stream starts from now.
    """
    gateway = gateway_of(request)
    events = await event_service.stream_events(
        gateway.database,
        gateway.event_feed,
        key,
        filters,
        after=last_event_id or after,
        idle_seconds=PING_SECONDS,
    )

    async def messages() -> AsyncIterator[dict[str, Any]]:
        async for event in events:
            payload = event_service.event_payload(event)
            yield {"id": event.id, "event": event.type, "data": orjson.dumps(payload).decode()}

    return EventSourceResponse(messages(), ping=PING_SECONDS)
