"""Conversation threads follow the outbound messages accepted on them: their last message,
the time the business last wrote, and the unread count that an answer clears.

These follow the event log (``services/log_follower``) rather than being written at accept,
so that many sends to one peer do not queue on its thread's row; a thread shows a new
outbound message a moment after it is accepted. The upsert keeps the later message, so a
repeated batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.services.log_follower import LogFollower
from chatgate.storage import conversations as thread_store
from chatgate.storage.conversations import OutboundStart
from chatgate.storage.events import LogPosition


class ThreadUpdates(LogFollower[OutboundStart]):
    """Moves each thread on as outbound messages are accepted on it."""

    cursor = "threads"

    async def find(
        self, conn: AsyncConnection, after: LogPosition, up_to: LogPosition, limit: int
    ) -> Sequence[OutboundStart]:
        """Outbound messages accepted in that part of the log."""
        return await thread_store.outbound_starts(conn, after, up_to, limit)

    async def handle(self, conn: AsyncConnection, items: Sequence[OutboundStart]) -> None:
        """Move their threads on."""
        await thread_store.record_outbound(conn, items)
