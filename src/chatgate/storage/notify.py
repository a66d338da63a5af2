"""Waking other processes at commit: PostgreSQL ``NOTIFY`` (SQLite has only this process)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.staged import staged_or_none

_NOTIFY = text("SELECT pg_notify(:channel, '')")


async def notify_at_commit(conn: AsyncConnection, channel: str) -> None:
    """On PostgreSQL, notify ``channel``'s listeners when the caller's transaction commits.

    Once per transaction: every request of a group commit asks, and one round trip each
    would only repeat what the server folds into one notification anyway.
    """
    if conn.dialect.name != "postgresql":
        return
    writes = staged_or_none(conn)
    if writes is None:
        await conn.execute(_NOTIFY, {"channel": channel})
    else:
        writes.add_once(f"notify:{channel}", _NOTIFY, {"channel": channel})
