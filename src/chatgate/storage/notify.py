"""Waking other processes at commit: PostgreSQL ``NOTIFY`` (SQLite has only this process)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_NOTIFY = text("SELECT pg_notify(:channel, '')")


async def notify_at_commit(conn: AsyncConnection, channel: str) -> None:
    """On PostgreSQL, notify ``channel``'s listeners when the caller's transaction commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": channel})
