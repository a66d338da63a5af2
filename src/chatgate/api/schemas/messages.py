"""Bodies of ``/v1/messages``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatgate.api.schemas.common import ApiModel, ErrorBody
from chatgate.domain.addresses import InvalidAddress, normalize_address
from chatgate.domain.channels import ChannelType
from chatgate.domain.content import Content
from chatgate.domain.records import Message, MessageEvent
from chatgate.domain.status import Status

MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 1000


class SendMessageRequest(ApiModel):
    """A message to send."""

    channel: ChannelType
    to: str = Field(min_length=1, max_length=256, examples=["+14155550123"])
    from_: str | None = Field(
        default=None,
        alias="from",
        min_length=1,
        max_length=256,
        description="which of the account's senders to use; the channel's default if absent",
    )
    content: Content
    metadata: dict[str, Any] | None = Field(
        default=None, description="your own data, echoed back unchanged in every event"
    )
    reply_to: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(orjson.dumps(value)) > MAX_METADATA_BYTES:
            raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
        return value

    @model_validator(mode="after")
    def _address(self) -> SendMessageRequest:
        try:
            self.to = normalize_address(self.channel, self.to)
        except InvalidAddress as exc:
            raise ValueError(f"to: {exc}") from exc
        return self


class BatchRequest(ApiModel):
    """Up to 1,000 messages; each is checked on its own."""

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class SendError(BaseModel):
    """Why a message failed at the platform."""

    code: str
    message: str | None = None


class MessageEventOut(BaseModel):
    """One step of a message's history."""

    type: str
    status: Status | None
    at: datetime
    detail: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: MessageEvent) -> MessageEventOut:
        """Render a stored event."""
        return cls(type=event.type, status=event.status, at=event.created_at, detail=event.detail)


class MessageOut(BaseModel):
    """A message as the API shows it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(examples=["msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["message"] = "message"
    direction: Literal["outbound", "inbound"]
    channel: ChannelType
    from_: str | None = Field(alias="from")
    to: str
    content: dict[str, Any]
    metadata: dict[str, Any] | None
    reply_to: str | None
    status: Status
    error: SendError | None
    provider_message_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def fields_of(cls, message: Message) -> dict[str, Any]:
        """The model's fields taken from a stored message."""
        return {
            "id": message.id,
            "direction": message.direction,
            "channel": message.channel,
            "from": message.sender,
            "to": message.recipient,
            "content": message.content,
            "metadata": message.metadata,
            "reply_to": message.reply_to,
            "status": message.status,
            "error": SendError(code=message.error_code, message=message.error_message)
            if message.error_code
            else None,
            "provider_message_id": message.provider_message_id,
            "created_at": message.created_at,
            "updated_at": message.updated_at,
        }

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        """Render a stored message."""
        return cls(**cls.fields_of(message))


class MessageDetail(MessageOut):
    """A message with its status history."""

    events: list[MessageEventOut]

    @classmethod
    def with_events(cls, message: Message, events: list[MessageEvent]) -> MessageDetail:
        """Render a stored message and its history."""
        return cls(**cls.fields_of(message), events=[MessageEventOut.of(e) for e in events])

    @classmethod
    def new(cls, message: Message) -> MessageDetail:
        """Render a message just written, whose history is its first event."""
        first = MessageEventOut(
            type="message.status" if message.direction == "outbound" else "message.received",
            status=message.status,
            at=message.created_at,
        )
        return cls(**cls.fields_of(message), events=[first])


class MessageList(BaseModel):
    """A page of messages, newest first."""

    object: Literal["list"] = "list"
    data: list[MessageOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")


class BatchItemResult(BaseModel):
    """The outcome of one item of a batch."""

    index: int
    status: Literal["accepted", "rejected"]
    message: MessageOut | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    """One result per item, in the order given."""

    accepted: int
    rejected: int
    results: list[BatchItemResult]


class SandboxInboundRequest(ApiModel):
    """A message a simulated user sends to the account (test keys only)."""

    channel: ChannelType
    from_: str = Field(alias="from", min_length=1, max_length=256, examples=["123456789"])
    content: Content

    @model_validator(mode="after")
    def _address(self) -> SandboxInboundRequest:
        try:
            self.from_ = normalize_address(self.channel, self.from_)
        except InvalidAddress as exc:
            raise ValueError(f"from: {exc}") from exc
        return self
