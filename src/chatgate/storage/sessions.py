"""Stored linked-device sessions (see ``tables.sessions``).

``device_state`` is stored as the encrypted bytes the service hands over; nothing here ever
sees a device's keys in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import sessions


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session row; ``device_state`` is the encrypted blob (``None`` until paired)."""

    id: str
    account_id: str
    name: str
    state: str
    reason: str | None
    wanted: bool
    phone: str | None
    push_name: str | None
    jid: str | None
    device_state: bytes | None
    qr: str | None
    pacing: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime


def _session(row: Any) -> StoredSession:
    values = dict(row._mapping)
    if values["device_state"] is not None:
        values["device_state"] = bytes(values["device_state"])
    return StoredSession(**values)


async def insert_session(conn: AsyncConnection, session: StoredSession) -> None:
    """Store a new session (``IntegrityError`` if its name is taken in its account)."""
    values = {name: getattr(session, name) for name in StoredSession.__slots__}
    await conn.execute(sessions.insert().values(**values))


async def get_session(
    conn: AsyncConnection, session_id: str, account_id: str | None = None
) -> StoredSession | None:
    """One session by id (within ``account_id`` when given)."""
    query = select(sessions).where(sessions.c.id == session_id)
    if account_id is not None:
        query = query.where(sessions.c.account_id == account_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _session(row)


async def find_session(
    conn: AsyncConnection, account_id: str, reference: str
) -> StoredSession | None:
    """The account's session named ``reference`` by id or by name."""
    row = (
        await conn.execute(
            select(sessions).where(
                sessions.c.account_id == account_id,
                (sessions.c.id == reference) | (sessions.c.name == reference),
            )
        )
    ).first()
    return None if row is None else _session(row)


async def list_sessions(conn: AsyncConnection, account_id: str) -> list[StoredSession]:
    """Every session of an account, oldest first."""
    rows = await conn.execute(
        select(sessions).where(sessions.c.account_id == account_id).order_by(sessions.c.id)
    )
    return [_session(row) for row in rows]


async def wanted_sessions(conn: AsyncConnection) -> list[StoredSession]:
    """Every session that should run, of every account, oldest first."""
    rows = await conn.execute(select(sessions).where(sessions.c.wanted).order_by(sessions.c.id))
    return [_session(row) for row in rows]


async def update_session(conn: AsyncConnection, session_id: str, values: dict[str, Any]) -> None:
    """Change columns of a session (``IntegrityError`` if a new name is taken)."""
    await conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


async def delete_session(conn: AsyncConnection, session_id: str) -> None:
    """Forget a session, its device keys with it."""
    await conn.execute(delete(sessions).where(sessions.c.id == session_id))
