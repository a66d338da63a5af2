"""Which worker keeps each connection open: a hold per connection, renewed.

A worker that keeps connections open (binds to a platform's server, linked-device
sessions) takes a hold on each connection before it opens it, and renews its holds while it
lives: a connection another worker holds is left to it, so every connection is open once
however many workers run. A hold that ran out (its worker died or lost the store) is taken over by
the next worker that looks; a worker that stops gracefully releases its holds at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.notify import notify_at_commit
from chatgate.storage.tables import session_holds
from chatgate.storage.upsert import insert_or_ignore_statement

# The NOTIFY channel that tells the other workers holds were released (PostgreSQL).
HOLDS_CHANNEL = "chatgate_holds"


async def hold(
    conn: AsyncConnection,
    holder: str,
    connection_ids: Collection[str],
    *,
    now: datetime,
    until: datetime,
) -> set[str]:
    """Hold, until ``until``, those of ``connection_ids`` that are free, ran out or are
    ``holder``'s already; returns every one of them ``holder`` holds now.

    ``connection_ids`` are all the connections that want a session: a hold of any other
    connection (one removed since) is dropped, ``holder``'s at once, another's once it ran
    out (a connection made since another worker read the list is that worker's to hold).
    """
    wanted = sorted(connection_ids)
    mine_or_free = or_(session_holds.c.holder == holder, session_holds.c.held_until < now)
    await conn.execute(
        delete(session_holds).where(session_holds.c.connection_id.not_in(wanted), mine_or_free)
    )
    if not wanted:
        return set()
    # Two workers taking over the same run-out holds would wait for each other, and could
    # deadlock: each takes what the other has not locked (the rest is the other's anyway).
    takeable = (
        select(session_holds.c.connection_id)
        .where(session_holds.c.connection_id.in_(wanted), mine_or_free)
        .with_for_update(skip_locked=True)
    )
    await conn.execute(
        update(session_holds)
        .where(session_holds.c.connection_id.in_(takeable))
        .values(holder=holder, held_until=until)
    )
    await conn.execute(
        insert_or_ignore_statement(conn.dialect.name, session_holds),
        [{"connection_id": cid, "holder": holder, "held_until": until} for cid in wanted],
    )
    rows = await conn.execute(
        select(session_holds.c.connection_id).where(
            session_holds.c.connection_id.in_(wanted), session_holds.c.holder == holder
        )
    )
    return set(rows.scalars())


async def release(conn: AsyncConnection, holder: str) -> None:
    """Give up every hold of ``holder`` (it stops): another worker may take them at once,
    and is told so at commit (``HOLDS_CHANNEL``)."""
    await conn.execute(delete(session_holds).where(session_holds.c.holder == holder))
    await notify_at_commit(conn, HOLDS_CHANNEL)


async def next_run_out(
    conn: AsyncConnection, holder: str, connection_ids: Collection[str]
) -> datetime | None:
    """When the first hold of another worker on one of ``connection_ids`` runs out (``None``
    when another holds none): the moment ``holder`` may take it over if it is not renewed."""
    if not connection_ids:
        return None
    found: datetime | None = await conn.scalar(
        select(func.min(session_holds.c.held_until)).where(
            session_holds.c.connection_id.in_(sorted(connection_ids)),
            session_holds.c.holder != holder,
        )
    )
    return found
