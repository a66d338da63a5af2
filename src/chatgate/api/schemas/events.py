"""The event log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class EventType(StrEnum):
    """The kinds of event in an account's log."""

    MESSAGE_RECEIVED = "message.received"
    MESSAGE_STATUS = "message.status"
    MESSAGE_FALLBACK = "message.fallback"
    MESSAGE_LINK_CLICKED = "message.link_clicked"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"
    CHANNEL_STATUS = "channel.status"
    SESSION_STATUS = "session.status"
    SESSION_QR = "session.qr"


class EventOut(BaseModel):
    """One event: what happened to a message, with the message's own ``metadata``."""

    id: str = Field(examples=["evt_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["event"] = "event"
    type: str = Field(examples=["message.status"])
    created_at: datetime
    data: dict[str, Any] = Field(
        description="message_id, seq (the event's number in the message's history), "
        "direction, channel, from, to, status, detail, metadata (as sent, unchanged); "
        "content too for message.received; for an event of the account itself "
        "(webhook.endpoint_disabled: endpoint_id, reason, failing_since), what happened"
    )


class EventList(BaseModel):
    """A page of the log, oldest first."""

    object: Literal["list"] = "list"
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")
