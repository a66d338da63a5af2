"""``/api/v1/sessions``: the account's linked-device sessions, each the native session
(``/v1/sessions``) shown the page's way, and its pairing stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection
from sse_starlette import EventSourceResponse

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.routes.events import LastEventId
from chatgate.api.routes.sessions import stream_response
from chatgate.api.state import gateway_of
from chatgate.compat.wasessions.answers import SessionAnswer, SessionList
from chatgate.compat.wasessions.auth import require
from chatgate.compat.wasessions.errors import ERROR_RESPONSES
from chatgate.compat.wasessions.ids import as_uuid, our_id
from chatgate.compat.wasessions.requests import CreateSession, UpdateSession
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.domain.sessions import SessionPacing
from chatgate.errors import NotFound
from chatgate.services.session_plan import check_session_room
from chatgate.services.session_stream import StreamMessage
from chatgate.services.sessions import SessionService
from chatgate.storage import sessions as session_store
from chatgate.storage.sessions import StoredSession
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/api/v1/sessions", tags=["Sessions"], responses=ERROR_RESPONSES)
MANAGE = Depends(require(Scope.CHANNELS_MANAGE))
SessionIdPath = Annotated[
    str, Path(alias="id", max_length=64, description="the session's id (a UUID, or ses_…)")
]


def _session_id(given: str) -> str:
    found = our_id("ses", given)
    if found is None:
        raise NotFound(f"no session {given!r}", field="id")
    return found


async def _stored(request: Request, key: ApiKey, given: str) -> StoredSession:
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        return await gateway.sessions.get(conn, key.account_id, _session_id(given))


@router.post("", status_code=201, response_model=SessionAnswer)
async def create_session(
    body: CreateSession,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = MANAGE,
) -> Response:
    """Create a session: it starts at once; follow its stream for the QR code to scan."""
    gateway = gateway_of(request)

    async def produce(conn: AsyncConnection) -> SessionAnswer:
        await check_session_room(conn, gateway.settings.plan(key.plan), key.account_id)
        stored = await gateway.sessions.create(
            conn,
            actor_of(request, key),
            name=body.session_key,
            pacing=SessionPacing(),
            now=utcnow(),
        )
        return SessionAnswer.of(SessionService.view(stored))

    return await idempotency.respond(request, key, 201, produce)


@router.get("", response_model=SessionList)
async def list_sessions(request: Request, key: ApiKey = MANAGE) -> SessionList:
    """Every session of the account, oldest first."""
    async with gateway_of(request).database.read() as conn:
        found = await session_store.list_sessions(conn, key.account_id)
    return SessionList(data=[SessionAnswer.of(SessionService.view(s)) for s in found])


@router.get("/{id}", response_model=SessionAnswer)
async def get_session(
    request: Request, session_id: SessionIdPath, key: ApiKey = MANAGE
) -> SessionAnswer:
    """One session: its status, the paired phone, why it is in error."""
    return SessionAnswer.of(SessionService.view(await _stored(request, key, session_id)))


@router.patch("/{id}", response_model=SessionAnswer)
async def update_session(
    body: UpdateSession, request: Request, session_id: SessionIdPath, key: ApiKey = MANAGE
) -> SessionAnswer:
    """Rename a session (``session_key``), or run it again or stop it (``status``)."""
    gateway = gateway_of(request)
    sessions = gateway.sessions
    actor = actor_of(request, key)
    ours = _session_id(session_id)
    async with gateway.database.write() as conn:
        stored = await sessions.get(conn, key.account_id, ours)
        if body.session_key is not None:
            stored = await sessions.update(
                conn, actor, ours, name=body.session_key, pacing=None, now=utcnow()
            )
        if body.status == "connecting":
            stored = await sessions.pair_again(conn, actor, ours, utcnow())
        elif body.status == "disconnected":
            stored = await sessions.stop(conn, actor, ours, utcnow())
    return SessionAnswer.of(SessionService.view(stored))


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_session(
    request: Request, session_id: SessionIdPath, key: ApiKey = MANAGE
) -> Response:
    """Log the device out and forget the session."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        await gateway.sessions.remove(conn, actor_of(request, key), _session_id(session_id))
    return Response(status_code=204)


# The page's three events; the native stream's ``disconnected`` (a connection that ended
# and is being made again) is not among them, and the session's status shows it.
_EVENTS = frozenset({"qr", "connected", "error"})


def _shaped(message: StreamMessage) -> tuple[str, dict[str, Any]] | None:
    """A native stream message the page's way (camelCase, the session's UUID), or
    ``None`` for an event the page does not have."""
    if message.event not in _EVENTS:
        return None
    return message.event, _data(message)


def _data(message: StreamMessage) -> dict[str, Any]:
    native = message.data
    data: dict[str, Any] = {"sessionId": as_uuid(str(native["session_id"]))}
    if message.event == "qr":
        return {**data, "qr": native["qr"], "image": native["png"]}
    data["status"] = "connected" if message.event == "connected" else "error"
    if message.event == "connected":
        return {**data, "phone": native.get("phone"), "pushName": native.get("phone_name")}
    return {**data, "reason": native.get("reason")}


@router.get(
    "/{id}/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_session(
    request: Request,
    session_id: SessionIdPath,
    key: ApiKey = MANAGE,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """The session's QR codes and connection as they happen: ``qr`` (``qr``, and ``image``:
    a PNG data URL of it), ``connected`` (``phone``, ``pushName``), ``error`` (``reason``);
    resumable with ``Last-Event-ID``."""
    stored = await _stored(request, key, session_id)
    return await stream_response(request, key, stored, last_event_id, _shaped)
