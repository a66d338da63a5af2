"""Stored channel connections: an account's configured platform identities.

Credentials are stored as the encrypted bytes the service hands over; nothing here ever
sees them in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import channel_connections, inbound_log


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """A connection row; ``credentials`` is the encrypted blob (empty for a connection
    that has none: a linked-device session's)."""

    id: str
    account_id: str
    type: str
    name: str
    credentials: bytes
    settings: dict[str, Any]
    is_default: bool
    created_at: datetime
    updated_at: datetime | None


def _connection(row: Any) -> StoredConnection:
    return StoredConnection(
        id=row.id,
        account_id=row.account_id,
        type=row.type,
        name=row.name,
        credentials=b"" if row.credentials is None else bytes(row.credentials),
        settings=row.settings,
        is_default=row.is_default,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def insert_connection(conn: AsyncConnection, connection: StoredConnection) -> None:
    """Store a new connection."""
    await conn.execute(
        channel_connections.insert().values(
            id=connection.id,
            account_id=connection.account_id,
            type=connection.type,
            name=connection.name,
            credentials=connection.credentials or None,
            settings=connection.settings,
            is_default=connection.is_default,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
        )
    )


async def get_connection(
    conn: AsyncConnection, connection_id: str, account_id: str | None = None
) -> StoredConnection | None:
    """One connection by id (within ``account_id`` when given)."""
    query = select(channel_connections).where(channel_connections.c.id == connection_id)
    if account_id is not None:
        query = query.where(channel_connections.c.account_id == account_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _connection(row)


async def find_connection(
    conn: AsyncConnection, account_id: str, channel_type: str, reference: str | None
) -> StoredConnection | None:
    """The connection a send names by id or name, or else the type's default one."""
    query = select(channel_connections).where(
        channel_connections.c.account_id == account_id,
        channel_connections.c.type == channel_type,
    )
    if reference is None:
        query = query.order_by(
            channel_connections.c.is_default.desc(), channel_connections.c.created_at
        )
    else:
        query = query.where(
            (channel_connections.c.id == reference) | (channel_connections.c.name == reference)
        )
    row = (await conn.execute(query.limit(1))).first()
    return None if row is None else _connection(row)


async def list_connections(conn: AsyncConnection, account_id: str) -> list[StoredConnection]:
    """Every connection of an account, oldest first."""
    rows = await conn.execute(
        select(channel_connections)
        .where(channel_connections.c.account_id == account_id)
        .order_by(channel_connections.c.created_at, channel_connections.c.id)
    )
    return [_connection(row) for row in rows]


async def of_type(conn: AsyncConnection, channel_type: str) -> list[StoredConnection]:
    """Every connection of ``channel_type``, of every account."""
    rows = await conn.execute(
        select(channel_connections).where(channel_connections.c.type == channel_type)
    )
    return [_connection(row) for row in rows]


async def count_of_type(conn: AsyncConnection, account_id: str, channel_type: str) -> int:
    """How many connections of ``channel_type`` the account has."""
    found = await conn.scalar(
        select(func.count()).where(
            channel_connections.c.account_id == account_id,
            channel_connections.c.type == channel_type,
        )
    )
    return int(found or 0)


async def update_connection(
    conn: AsyncConnection, connection_id: str, values: dict[str, Any]
) -> None:
    """Change some columns of a connection."""
    await conn.execute(
        update(channel_connections)
        .where(channel_connections.c.id == connection_id)
        .values(**values)
    )


async def clear_default(conn: AsyncConnection, account_id: str, channel_type: str) -> None:
    """No connection of ``channel_type`` is the default any more."""
    await conn.execute(
        update(channel_connections)
        .where(
            channel_connections.c.account_id == account_id,
            channel_connections.c.type == channel_type,
        )
        .values(is_default=False)
    )


async def delete_connection(conn: AsyncConnection, connection_id: str) -> None:
    """Remove a connection."""
    await conn.execute(delete(channel_connections).where(channel_connections.c.id == connection_id))


async def all_credentials(conn: AsyncConnection) -> list[tuple[str, bytes]]:
    """Every connection's id and encrypted credentials (for re-encryption)."""
    rows = await conn.execute(
        select(channel_connections.c.id, channel_connections.c.credentials).where(
            channel_connections.c.credentials.is_not(None)
        )
    )
    return [(row.id, bytes(row.credentials)) for row in rows]


async def log_inbound(
    conn: AsyncConnection,
    *,
    entry_id: str,
    connection_id: str,
    kind: str,
    detail: dict[str, Any] | None,
    at: datetime,
) -> None:
    """Keep a webhook (or a refusal of one) that did not become a message or a status."""
    await conn.execute(
        inbound_log.insert().values(
            id=entry_id, connection_id=connection_id, kind=kind, detail=detail, created_at=at
        )
    )


async def prune_inbound_log(conn: AsyncConnection, kind: str, before: datetime) -> int:
    """Delete the entries of ``kind`` made before ``before``; how many went."""
    result = await conn.execute(
        delete(inbound_log).where(inbound_log.c.kind == kind, inbound_log.c.created_at < before)
    )
    return int(result.rowcount or 0)


async def list_inbound_log(
    conn: AsyncConnection, connection_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest entries of a connection's inbound log."""
    rows = await conn.execute(
        select(inbound_log)
        .where(inbound_log.c.connection_id == connection_id)
        .order_by(inbound_log.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]
