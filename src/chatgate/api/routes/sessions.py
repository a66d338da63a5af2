"""``/v1/sessions``: linked-device sessions (a WhatsApp phone paired by QR code).

A session is created ``starting``; the worker that runs it shows QR codes (``scan_qr``)
until the phone scans one (``working``). ``GET /v1/sessions/{id}/stream`` follows that as
Server-Sent Events, ``GET /v1/sessions/{id}/qr.png`` is the code shown now.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection
from sse_starlette import EventSourceResponse

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.routes.events import PING_SECONDS, LastEventId
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.sessions import (
    CreateSessionRequest,
    SessionList,
    SessionOut,
    UpdateSessionRequest,
)
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Conflict
from chatgate.services.audit import Actor
from chatgate.services.session_plan import check_session_room
from chatgate.services.session_stream import StreamMessage, qr_png, session_stream
from chatgate.services.sessions import SessionService
from chatgate.storage import sessions as session_store
from chatgate.storage.sessions import StoredSession
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERROR_RESPONSES)
SESSION_ID = Path(pattern=r"^ses_[0-9A-Z]{26}$", description="the session's id, ses_…")
MANAGE = Depends(require(Scope.CHANNELS_MANAGE))


async def _stored(request: Request, key: ApiKey, session_id: str) -> StoredSession:
    """The key's account's session ``session_id``, or 404."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        return await gateway.sessions.get(conn, key.account_id, session_id)


@router.post("", status_code=201, response_model=SessionOut)
async def create_session(
    body: CreateSessionRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = MANAGE,
) -> Response:
    """Create a session; it starts at once: follow its stream for the QR code to scan."""
    gateway = gateway_of(request)

    async def produce(conn: AsyncConnection) -> SessionOut:
        # The plan's sessions (the free plan's 10): 429 session_limit_reached past them.
        await check_session_room(conn, gateway.settings.plan(key.plan), key.account_id)
        stored = await gateway.sessions.create(
            conn,
            actor_of(request, key),
            name=body.name,
            pacing=body.pacing_settings(),
            now=utcnow(),
        )
        return SessionOut.of(gateway.sessions.view(stored))

    return await idempotency.respond(request, key, 201, produce)


@router.get("", response_model=SessionList)
async def list_sessions(request: Request, key: ApiKey = MANAGE) -> SessionList:
    """Every session of the account, oldest first."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        found = await session_store.list_sessions(conn, key.account_id)
    return SessionList(data=[SessionOut.of(gateway.sessions.view(s)) for s in found])


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(
    request: Request, session_id: str = SESSION_ID, key: ApiKey = MANAGE
) -> SessionOut:
    """One session: its state, the reason of a failure, the paired phone."""
    stored = await _stored(request, key, session_id)
    return SessionOut.of(SessionService.view(stored))


@router.patch("/{session_id}", response_model=SessionOut)
async def update_session(
    body: UpdateSessionRequest,
    request: Request,
    session_id: str = SESSION_ID,
    key: ApiKey = MANAGE,
) -> SessionOut:
    """Rename a session or change its pacing."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        stored = await gateway.sessions.update(
            conn,
            actor_of(request, key),
            session_id,
            name=body.name,
            pacing=body.pacing_given(),
            now=utcnow(),
        )
    return SessionOut.of(gateway.sessions.view(stored))


Change = Callable[[AsyncConnection, Actor], Awaitable[StoredSession]]


async def _changed(request: Request, key: ApiKey, change: Change) -> SessionOut:
    """Make ``change`` as the key's actor in one transaction; the session after it."""
    async with gateway_of(request).database.write() as conn:
        stored = await change(conn, actor_of(request, key))
    return SessionOut.of(SessionService.view(stored))


@router.post("/{session_id}/start", response_model=SessionOut)
async def start_session(
    request: Request, session_id: str = SESSION_ID, key: ApiKey = MANAGE
) -> SessionOut:
    """Run a stopped or failed session again (one logged out shows a new QR code)."""
    sessions = gateway_of(request).sessions
    return await _changed(
        request, key, lambda conn, actor: sessions.pair_again(conn, actor, session_id, utcnow())
    )


@router.post("/{session_id}/stop", response_model=SessionOut)
async def stop_session(
    request: Request, session_id: str = SESSION_ID, key: ApiKey = MANAGE
) -> SessionOut:
    """Stop a session; the device stays linked, and a start resumes it without a QR code."""
    sessions = gateway_of(request).sessions
    return await _changed(
        request, key, lambda conn, actor: sessions.stop(conn, actor, session_id, utcnow())
    )


@router.delete("/{session_id}", status_code=204)
async def delete_session(
    request: Request, session_id: str = SESSION_ID, key: ApiKey = MANAGE
) -> Response:
    """Log the device out and forget the session and its keys."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        await gateway.sessions.remove(conn, actor_of(request, key), session_id)
    return Response(status_code=204)


@router.get(
    "/{session_id}/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_session(
    request: Request,
    session_id: str = SESSION_ID,
    key: ApiKey = MANAGE,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """The session's QR codes and state changes as they happen: ``qr`` (``qr``, ``png``: a
    data URL), ``connected``, ``disconnected``, ``error``; resumable with ``Last-Event-ID``."""
    stored = await _stored(request, key, session_id)
    return await stream_response(request, key, stored, last_event_id)


# How a route shows one message of a session's stream: its event and data, or ``None`` to
# leave it out.
Shape = Callable[[StreamMessage], tuple[str, dict[str, Any]] | None]


def _as_is(message: StreamMessage) -> tuple[str, dict[str, Any]]:
    return message.event, message.data


async def stream_response(
    request: Request,
    key: ApiKey,
    stored: StoredSession,
    last_event_id: str | None,
    shape: Shape = _as_is,
) -> EventSourceResponse:
    """The session's stream as Server-Sent Events (each message as ``shape`` shows it),
    after the event ``last_event_id`` or, without it, from now after a snapshot."""
    gateway = gateway_of(request)
    found = await session_stream(
        gateway.database,
        gateway.event_feed,
        key,
        stored,
        after=last_event_id,
        idle_seconds=PING_SECONDS,
    )

    async def messages() -> AsyncIterator[dict[str, Any]]:
        async for message in found:
            shown = shape(message)
            if shown is None:
                continue
            sse = {"event": shown[0], "data": orjson.dumps(shown[1]).decode()}
            yield sse if message.id is None else {"id": message.id, **sse}

    return EventSourceResponse(messages(), ping=PING_SECONDS)


@router.get(
    "/{session_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the QR code to scan now"}},
)
async def session_qr(
    request: Request, session_id: str = SESSION_ID, key: ApiKey = MANAGE
) -> Response:
    """The QR code the session shows now, as a PNG image (409 when it shows none)."""
    stored = await _stored(request, key, session_id)
    if stored.state != "scan_qr" or stored.qr is None:
        raise Conflict(
            f"the session shows no QR code now: it is {stored.state}", code="no_qr", field="id"
        )
    return Response(
        qr_png(stored.qr), media_type="image/png", headers={"Cache-Control": "no-store"}
    )
