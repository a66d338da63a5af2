"""MessageHub's answers: everything under ``data``, camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from chatgate.compat.messagehub.errors import error_object
from chatgate.domain.records import Message
from chatgate.storage.distributions import Distribution


class ErrorObject(BaseModel):
    """What went wrong, and which field of the request it is about."""

    code: str = Field(examples=["invalid_request"])
    message: str
    field: str | None = Field(default=None, examples=["to"])


class ErrorAnswer(BaseModel):
    """Every refusal: ``{"error": {"code", "message", "field"}}``."""

    error: ErrorObject


class Sent(BaseModel):
    """A message accepted, with its status at that moment."""

    messageId: str = Field(examples=["msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    channel: str = Field(examples=["whatsapp"])
    status: str = Field(examples=["queued"])

    @classmethod
    def of(cls, message: Message) -> Sent:
        """A stored message's answer."""
        return cls(messageId=message.id, channel=message.channel, status=message.status.value)


class SendAnswer(BaseModel):
    """``messages/send``'s answer."""

    data: Sent


class Refused(BaseModel):
    """One item of a batch (or recipient of a distribution) refused, by its index."""

    error: ErrorObject
    index: int


class BatchAnswer(BaseModel):
    """``messages/batch``'s answer: one entry per message, in order."""

    data: list[Sent | Refused]


class MessageError(BaseModel):
    """Why a message failed, as the platform said."""

    code: str
    message: str | None = None


class MessageStatus(BaseModel):
    """A message as ``GET messages/{messageId}`` shows it."""

    id: str = Field(examples=["msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    status: str = Field(examples=["delivered"])
    channel: str = Field(examples=["whatsapp"])
    to: str
    direction: str = Field(examples=["outbound"])
    error: MessageError | None = None
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, message: Message) -> MessageStatus:
        """A stored message's status."""
        error = (
            MessageError(code=message.error_code, message=message.error_message)
            if message.error_code
            else None
        )
        return cls(
            id=message.id,
            status=message.status.value,
            channel=message.channel,
            to=message.recipient,
            direction=message.direction,
            error=error,
            createdAt=message.created_at,
            updatedAt=message.updated_at,
        )


class MessageAnswer(BaseModel):
    """``GET messages/{messageId}``'s answer."""

    data: MessageStatus


class Delivered(BaseModel):
    """One recipient of a distribution, accepted."""

    index: int
    messageId: str
    channel: str
    to: str
    status: str = Field(examples=["queued"])


class Distributed(BaseModel):
    """A distribution: its id and every recipient's result, in order."""

    distributionId: str = Field(examples=["dst_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    accepted: int
    rejected: int
    results: list[Delivered | Refused]

    @classmethod
    def of(cls, made: Distribution) -> Distributed:
        """A stored distribution's answer (its messages were queued just now)."""
        results = [_result(entry) for entry in made.results]
        return cls(
            distributionId=made.id,
            accepted=made.accepted,
            rejected=made.refused,
            results=results,
        )


def _result(entry: dict[str, Any]) -> Delivered | Refused:
    if entry.get("status") != "accepted":
        error = entry.get("error") or {}
        return Refused(
            index=entry["index"],
            error=ErrorObject(
                **error_object(
                    str(error.get("code", "invalid_request")),
                    str(error.get("message", "refused")),
                    error.get("field"),
                )
            ),
        )
    return Delivered(
        index=entry["index"],
        messageId=entry["message_id"],
        channel=entry["channel"],
        to=entry["to"],
        status="queued",
    )


class DistributeAnswer(BaseModel):
    """``content/distribute``'s answer."""

    data: Distributed
