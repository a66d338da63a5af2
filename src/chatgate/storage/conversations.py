"""Per-recipient conversation state that the channel rules consult."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import conversations
from chatgate.storage.upsert import insert_or_ignore


async def last_inbound_at(
    conn: AsyncConnection, account_id: str, mode: str, channel: str, peer: str
) -> datetime | None:
    """When ``peer`` last wrote to the account on ``channel``; ``None`` if never."""
    value: datetime | None = await conn.scalar(
        select(conversations.c.last_inbound_at).where(
            conversations.c.account_id == account_id,
            conversations.c.mode == mode,
            conversations.c.channel == channel,
            conversations.c.peer == peer,
        )
    )
    return value


async def record_inbound(
    conn: AsyncConnection, account_id: str, mode: str, channel: str, peer: str, at: datetime
) -> None:
    """Note that ``peer`` wrote at ``at``, opening or extending the service window."""
    key = {"account_id": account_id, "mode": mode, "channel": channel, "peer": peer}
    await insert_or_ignore(conn, conversations, {**key, "last_inbound_at": at})
    # Platforms redeliver and reorder: an older message never shortens the window.
    await conn.execute(
        update(conversations)
        .where(
            *(conversations.c[name] == value for name, value in key.items()),
            conversations.c.last_inbound_at < at,
        )
        .values(last_inbound_at=at)
    )
