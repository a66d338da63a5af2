"""Where a reader of the whole event log has come to; one row per reader, locked while used.

A reader holds its row's lock for the whole transaction that reads the next events and
writes what they lead to, so two processes never relay the same events: on PostgreSQL the
second one skips the locked row and waits for its next turn; SQLite has one writer anyway.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage import events as event_store
from chatgate.storage.events import LogPosition
from chatgate.storage.tables import log_cursors
from chatgate.storage.upsert import insert_or_ignore


async def _locked(conn: AsyncConnection, name: str) -> LogPosition | None:
    row = (
        await conn.execute(
            select(log_cursors.c.txid, log_cursors.c.position)
            .where(log_cursors.c.name == name)
            .with_for_update(skip_locked=True)
        )
    ).first()
    return LogPosition(row.txid, row.position) if row else None


async def read_cursor(conn: AsyncConnection, name: str) -> LogPosition | None:
    """Where the reader stands, without holding it (``None``: it has not started)."""
    row = (
        await conn.execute(
            select(log_cursors.c.txid, log_cursors.c.position).where(log_cursors.c.name == name)
        )
    ).first()
    return LogPosition(row.txid, row.position) if row else None


async def hold_cursor(conn: AsyncConnection, name: str) -> LogPosition | None:
    """Lock the reader's cursor for this transaction and return it; ``None`` if another
    transaction holds it. A new reader starts after the newest event (it relays what comes)."""
    held = await _locked(conn, name)
    if held is not None:
        return held
    exists = await conn.scalar(select(log_cursors.c.name).where(log_cursors.c.name == name))
    if exists is not None:
        return None
    start = await event_store.newest_place(conn, None) or LogPosition(0, 0)
    await insert_or_ignore(
        conn, log_cursors, {"name": name, "txid": start.txid, "position": start.position}
    )
    return await _locked(conn, name)


async def move_cursor(conn: AsyncConnection, name: str, place: LogPosition) -> None:
    """Record that the reader has handled every event up to ``place`` (cursor held)."""
    await conn.execute(
        update(log_cursors)
        .where(log_cursors.c.name == name)
        .values(txid=place.txid, position=place.position)
    )
