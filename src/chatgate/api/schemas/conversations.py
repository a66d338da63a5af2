"""Conversation threads as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chatgate.api.schemas.messages import MessageOut
from chatgate.services.conversations import ThreadView


class WindowOut(BaseModel):
    """The channel's service window: free-form messages are allowed while it is open."""

    hours: int | None = Field(description="its length; null on a channel without one")
    open: bool
    open_until: datetime | None = Field(description="null when the peer has never written")


class ConversationOut(BaseModel):
    """One thread: a peer on a channel of the account."""

    id: str = Field(examples=["cnv_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])
    object: Literal["conversation"] = "conversation"
    channel: str
    peer: str = Field(description="the peer's address on the channel")
    connection_id: str | None
    contact_id: str | None
    unread: int = Field(description="inbound messages since the business last wrote or read")
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    last_message: MessageOut | None
    window: WindowOut

    @classmethod
    def of(cls, view: ThreadView, now: datetime) -> ConversationOut:
        """Render a thread as it stands at ``now``."""
        thread, window = view.thread, view.window
        return cls(
            id=thread.id,
            channel=thread.channel,
            peer=thread.peer,
            connection_id=thread.connection_id,
            contact_id=thread.contact_id,
            unread=thread.unread,
            last_inbound_at=thread.last_inbound_at,
            last_outbound_at=thread.last_outbound_at,
            last_message=MessageOut.of(view.last_message) if view.last_message else None,
            window=WindowOut(
                hours=window.hours, open=window.is_open(now), open_until=window.open_until
            ),
        )


class ConversationList(BaseModel):
    """A page of threads, the most recently active first."""

    object: Literal["list"] = "list"
    data: list[ConversationOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")
