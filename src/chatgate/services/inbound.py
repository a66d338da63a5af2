"""Messages that users send to an account: stored, and the conversation window opened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.storage import conversations as conversation_store
from chatgate.storage import messages as message_store


async def record_inbound(
    conn: AsyncConnection,
    *,
    account_id: str,
    mode: KeyMode,
    channel: str,
    sender: str,
    recipient: str,
    content: dict[str, Any],
    provider_message_id: str | None,
    at: datetime,
) -> Message:
    """Store a received message and note that ``sender`` wrote, in the caller's transaction."""
    message = Message(
        id=new_id("msg", now_ms=int(at.timestamp() * 1000)),
        account_id=account_id,
        mode=mode,
        direction="inbound",
        channel=channel,
        sender=sender,
        recipient=recipient,
        content=content,
        metadata=None,
        reply_to=None,
        status=Status.RECEIVED,
        error_code=None,
        error_message=None,
        provider_message_id=provider_message_id,
        created_at=at,
        updated_at=at,
    )
    await message_store.insert_messages(conn, [message_store.message_row(message, None)])
    await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])
    await conversation_store.record_inbound(conn, account_id, mode.value, channel, sender, at)
    return message
