"""Messages that users send to an account: stored, and the conversation window opened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

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
    message = Message.new(
        account_id=account_id,
        mode=mode,
        direction="inbound",
        channel=channel,
        sender=sender,
        recipient=recipient,
        content=content,
        status=Status.RECEIVED,
        at=at,
        provider_message_id=provider_message_id,
    )
    await message_store.insert_messages(conn, [message_store.message_row(message, None)])
    await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])
    await conversation_store.record_inbound(conn, account_id, mode.value, channel, sender, at)
    return message
