"""A send of the dialect: the session it goes from, and the native command it becomes.

A send goes from the session its body names (``session``: a session_key or an id;
``sessionId``: an id), else from the account's default session: its only working one, or
the oldest working one when it has several. The session must be working (``connected``):
otherwise 409 ``session_not_connected``, for test keys too, since on this API a session is
the whole point (a test key's send is then simulated by the sandbox, as every test send is).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api.errors import describe_validation_error
from chatgate.compat.wasessions.answers import SESSION_STATUSES
from chatgate.compat.wasessions.errors import vendor_field
from chatgate.compat.wasessions.ids import our_id
from chatgate.compat.wasessions.requests import AudioMessage, MediaMessage, TextMessage
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import Content
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Conflict, InvalidRequest, NotFound
from chatgate.services.send_command import SendCommand
from chatgate.storage import sessions as session_store
from chatgate.storage.sessions import StoredSession

Send = TextMessage | MediaMessage | AudioMessage
# The native refusals that mean "this session cannot send now": the session's own (a live
# send's check at accept) and a whatsapp_web channel the account does not have.
NOT_CONNECTED = frozenset({"session_not_connected", "channel_not_configured"})


def not_connected(session: StoredSession, field: str) -> Conflict:
    """The page's 409: the session cannot send now."""
    return Conflict(
        f"session {session.name!r} is not connected: it is {SESSION_STATUSES[session.state]}; "
        "scan its QR code (GET /sessions/{id}/stream) or send from a connected one",
        code="session_not_connected",
        field=field,
    )


def _named(sessions: list[StoredSession], body: Send) -> tuple[StoredSession, str] | None:
    """The session the body names and the field naming it; ``None`` when it names none."""
    if body.session is not None and body.sessionId is not None:
        raise InvalidRequest("give session or sessionId, not both", field="sessionId")
    field = "sessionId" if body.sessionId is not None else "session"
    given = body.sessionId or body.session
    if given is None:
        return None
    wanted = our_id("ses", given)
    for session in sessions:
        if session.id == wanted or (field == "session" and session.name == given):
            return session, field
    raise NotFound(f"no session {given!r}", field=field)


async def sending_session(conn: AsyncConnection, key: ApiKey, body: Send) -> StoredSession:
    """The working session ``body`` goes from; 404 or 409 when there is none."""
    sessions = await session_store.list_sessions(conn, key.account_id)
    named = _named(sessions, body)
    if named is not None:
        session, field = named
        if session.state != "working":
            raise not_connected(session, field)
        return session
    working = [session for session in sessions if session.state == "working"]
    if working:
        return working[0]  # listed oldest first
    if not sessions:
        raise NotFound(
            "this account has no session: create one (POST /sessions) and scan its QR code",
            field="session",
        )
    raise not_connected(sessions[0], "session")


def _native_content(body: Send, mime_type: str | None) -> dict[str, Any]:
    if isinstance(body, TextMessage):
        return {"type": "text", "text": body.message}
    media: dict[str, Any]
    if isinstance(body, MediaMessage):
        media = {"url": str(body.mediaUrl), "kind": body.mediaType}
        if body.caption is not None:
            media["caption"] = body.caption
    else:
        media = {"url": str(body.audioUrl), "kind": "audio", "voice": body.ptt}
    if mime_type is not None:
        media["mime_type"] = mime_type
    return {"type": "media", "media": media}


class _NativeContent(BaseModel):
    content: Content


def recipient(raw: str) -> str:
    """``to`` in E.164: a number of a possible length for its country. Whether it is on
    WhatsApp is WhatsApp's to say, and a linked device asks it; the numbering plans'
    metadata lags behind new ranges (the page's own example, +237612345678, is one it does
    not know), so the stricter check of the native API is not made here."""
    text = raw.strip()
    text = text if text.startswith("+") else f"+{text}"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidRequest("is not a phone number", code="invalid_address", field="to") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidRequest(
            "is not a phone number of a possible length for its country",
            code="invalid_address",
            field="to",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def send_command(body: Send, session: StoredSession, mime_type: str | None) -> SendCommand:
    """The command of a native send on ``whatsapp_web`` from the session, its content
    checked by the native content model."""
    try:
        content = _NativeContent.model_validate({"content": _native_content(body, mime_type)})
    except ValidationError as exc:
        code, field, message = describe_validation_error(dict(exc.errors()[0]))
        raise InvalidRequest(message, code=code, field=dialect_field(field, body)) from None
    return SendCommand(
        channel=ChannelType.WHATSAPP_WEB,
        to=recipient(body.to),
        content=content.content.model_dump(mode="json", exclude_none=True),
        sender=session.id,
    )


def dialect_field(field: str | None, body: Send) -> str | None:
    """The body's name of a native field."""
    return vendor_field(field, audio=isinstance(body, AudioMessage))


def refusal(error: ChatgateError, session: StoredSession, body: Send) -> ChatgateError:
    """A native refusal of the send, as the dialect words it."""
    field = "sessionId" if body.sessionId is not None else "session"
    if error.code in NOT_CONNECTED:
        return not_connected(session, field)
    named = dialect_field(error.field, body)
    if named == error.field:
        return error
    return type(error)(
        error.message, code=error.code, field=named, headers=error.headers, details=error.details
    )
