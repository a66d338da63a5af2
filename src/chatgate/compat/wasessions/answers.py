"""The dialect's answers, camelCase like the page's message answer, ids as UUIDs.

The page shows one answer, a send's ``202 {"id", "toPhone", "type", "status"}``; the
others are shaped the same way (see the package's docstring for each).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chatgate.compat.wasessions.ids import as_uuid
from chatgate.domain.records import ApiKey, Message
from chatgate.domain.status import Status
from chatgate.services.sessions import SessionView

# Our session states in the page's words (its stream's events: qr, connected, error).
SESSION_STATUSES: dict[str, str] = {
    "starting": "connecting",
    "scan_qr": "qr",
    "working": "connected",
    "stopped": "disconnected",
    "failed": "error",
}
SessionStatus = Literal["connecting", "qr", "connected", "disconnected", "error"]
# Our message statuses in the page's: accepted and not yet sent is "pending".
MESSAGE_STATUSES: dict[Status, str] = {
    Status.QUEUED: "pending",
    Status.SCHEDULED: "pending",
    Status.UNKNOWN: "pending",
    Status.SENT: "sent",
    Status.DELIVERED: "delivered",
    Status.READ: "read",
    Status.FAILED: "failed",
    Status.CANCELED: "failed",
    Status.RECEIVED: "received",
}
MessageStatus = Literal["pending", "sent", "delivered", "read", "failed", "received"]
UUID_EXAMPLE = "01935bf3-5c2a-3d7e-8f1a-2b3c4d5e6f70"


class SessionAnswer(BaseModel):
    """A session."""

    id: str = Field(examples=[UUID_EXAMPLE])
    sessionKey: str = Field(examples=["my-session"])
    status: SessionStatus
    phone: str | None = Field(description="the paired phone's number, once connected")
    pushName: str | None = Field(description="the paired phone's profile name")
    reason: str | None = Field(description="why the session is in error or was disconnected")
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, view: SessionView) -> SessionAnswer:
        """A session as the dialect shows it."""
        return cls(
            id=as_uuid(view.id),
            sessionKey=view.name,
            status=SESSION_STATUSES[view.state],
            phone=view.phone,
            pushName=view.phone_name,
            reason=view.reason,
            createdAt=view.created_at,
            updatedAt=view.updated_at,
        )


class SessionList(BaseModel):
    """Every session of the account, oldest first."""

    data: list[SessionAnswer]


def message_type(content: dict[str, Any]) -> str:
    """What a message is in the page's words: text, image, video or audio (or the native
    kind of what another API sent)."""
    if content.get("type") == "media":
        return str(content.get("media", {}).get("kind", "media"))
    return str(content.get("type", "text"))


class Sent(BaseModel):
    """A send's answer (202): the page's four fields."""

    id: str = Field(examples=[UUID_EXAMPLE])
    toPhone: str = Field(examples=["+237612345678"])
    type: str = Field(examples=["text"])
    status: MessageStatus = Field(examples=["pending"])

    @classmethod
    def of(cls, message: Message) -> Sent:
        """A message just accepted."""
        return cls(
            id=as_uuid(message.id),
            toPhone=message.recipient,
            type=message_type(message.content),
            status=MESSAGE_STATUSES[message.status],
        )


class MessageError(BaseModel):
    """Why a message failed."""

    code: str
    message: str | None


def _session_of(message: Message) -> str | None:
    for reference in (message.connection_id, message.sender):
        if reference is not None and reference.startswith("ses_"):
            return as_uuid(reference)
    return None


class MessageAnswer(Sent):
    """A message as ``GET /messages`` and ``GET /messages/{id}`` show it."""

    direction: Literal["outbound", "inbound"]
    fromPhone: str | None = Field(description="the sender's number, for an inbound message")
    sessionId: str | None = Field(description="the session that sent or received it")
    message: str | None = Field(description="the text")
    mediaUrl: str | None = Field(description="an image's, video's or audio's URL")
    caption: str | None
    ptt: bool | None = Field(description="for audio: sent as a voice note")
    error: MessageError | None
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, message: Message) -> MessageAnswer:
        """A stored message."""
        content = message.content
        media = content.get("media") if content.get("type") == "media" else None
        inbound = message.direction == "inbound"
        return cls(
            **Sent.of(message).model_dump(),
            direction="inbound" if inbound else "outbound",
            fromPhone=message.sender if inbound else None,
            sessionId=_session_of(message),
            message=content.get("text"),
            mediaUrl=media.get("url") if media else None,
            caption=media.get("caption") if media else None,
            ptt=bool(media.get("voice")) if media and media.get("kind") == "audio" else None,
            error=MessageError(code=message.error_code, message=message.error_message)
            if message.error_code
            else None,
            createdAt=message.created_at,
            updatedAt=message.updated_at,
        )


class MessageList(BaseModel):
    """A page of messages, newest first."""

    data: list[MessageAnswer]
    hasMore: bool
    nextCursor: str | None = Field(description="give it as cursor for the next page")


class KeyAnswer(BaseModel):
    """A key of this API: never its secret."""

    id: str = Field(examples=[UUID_EXAMPLE])
    name: str
    prefix: str = Field(description="the start of the secret, to recognise it")
    mode: Literal["live", "test"]
    createdAt: datetime
    revokedAt: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyAnswer:
        """A stored key."""
        return cls(
            id=as_uuid(key.id),
            name=key.name,
            prefix=key.display_prefix,
            mode=key.mode.value,
            createdAt=key.created_at,
            revokedAt=key.revoked_at,
        )


class CreatedKey(KeyAnswer):
    """A new key, with its secret: the only time it is shown."""

    key: str | None = Field(
        description="the secret; shown in this answer only (null when an Idempotency-Key "
        "replays the answer, since the secret is never stored)"
    )


class KeyList(BaseModel):
    """Every key of this API of the account, revoked ones included."""

    data: list[KeyAnswer]
