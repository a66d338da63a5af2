"""A session's channel connection: what makes a linked device a ``whatsapp_web`` channel.

Each session has a connection row of type ``whatsapp_web`` with the session's id and name
and no credentials (the device's keys are the session's), made, renamed and removed with
the session in the same transaction. Everything the engine does with connections then
works for sessions: a send's ``from`` finds it by id or name, a message's
``connection_id`` is the session's id, inbound is recorded against it, and its pace is the
session's: ``pacing.messages_per_minute`` is kept as the connection's ``rate_per_second``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.channels import ChannelType
from chatgate.storage import channels as channel_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.sessions import StoredSession

CHANNEL = ChannelType.WHATSAPP_WEB.value


def connection_settings(pacing: dict[str, Any]) -> dict[str, Any]:
    """The connection's settings for a session's pacing: its rate, per second."""
    return {"rate_per_second": int(pacing["messages_per_minute"]) / 60}


async def add_connection(conn: AsyncConnection, session: StoredSession) -> None:
    """Store the new session's connection (``IntegrityError`` if its name is taken by
    another channel of the account); the account's first is its default."""
    first = await channel_store.count_of_type(conn, session.account_id, CHANNEL) == 0
    await channel_store.insert_connection(
        conn,
        StoredConnection(
            id=session.id,
            account_id=session.account_id,
            type=CHANNEL,
            name=session.name,
            credentials=b"",
            settings=connection_settings(session.pacing),
            is_default=first,
            created_at=session.created_at,
            updated_at=session.created_at,
        ),
    )


async def sync_connection(conn: AsyncConnection, session: StoredSession, now: datetime) -> None:
    """Give the session's connection its name and pace as they are now."""
    values = {
        "name": session.name,
        "settings": connection_settings(session.pacing),
        "updated_at": now,
    }
    await channel_store.update_connection(conn, session.id, values)


async def remove_connection(conn: AsyncConnection, session: StoredSession) -> None:
    """Forget the session's connection; the next one becomes the default."""
    stored = await channel_store.get_connection(conn, session.id)
    if stored is None:
        return
    await channel_store.delete_connection(conn, stored.id)
    if stored.is_default:
        successor = await channel_store.find_connection(conn, stored.account_id, CHANNEL, None)
        if successor is not None:
            await channel_store.update_connection(conn, successor.id, {"is_default": True})
