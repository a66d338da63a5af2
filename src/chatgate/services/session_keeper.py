"""Runs the sessions that should run, in the worker: a session host kept in step with the store.

The keeper looks at the store when the worker starts (so that sessions that were running
start again by themselves, and a stopped or failed one stays as it is), whenever a
``session.status`` event was logged since its last look (a session created, removed, or
changed by another process), and every ``every`` seconds in any case. Each look starts the
sessions that should run and do not, stops those that no longer should, and logs out the
device of a session that was removed.

Every worker runs every session for now: run one worker with sessions. Sharing them out
between workers is the lease holder's job, which drives the same :class:`SessionHost`.
"""

from __future__ import annotations

import math
import time

import structlog

from chatgate.domain.sessions import SESSION_STATUS_EVENT
from chatgate.services.event_feed import EventFeed
from chatgate.services.session_runner import SessionHost
from chatgate.storage import events as event_store
from chatgate.storage import sessions as session_store
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LogPosition

log = structlog.get_logger(__name__)

STATUS_EVENTS = EventFilter(types=frozenset({SESSION_STATUS_EVENT}))
# States a session that should run is (re)started in; failed and stopped ones are left.
RUNNABLE = frozenset({"starting", "scan_qr", "working"})


class SessionKeeper:
    """Keeps this process's session host running exactly the sessions that should run."""

    def __init__(
        self, database: Database, host: SessionHost, feed: EventFeed, *, every: float = 10.0
    ) -> None:
        self.database = database
        self.host = host
        self.feed = feed
        self.every = every
        self._after: LogPosition | None = None
        self._next_look = -math.inf

    async def run(self) -> None:
        """Look now, on every session change and every ``every`` seconds, until cancelled."""
        with self.feed.open_stream():
            while True:
                ticket = self.feed.ticket()
                try:
                    if time.monotonic() >= self._next_look or await self._changed():
                        await self.look()
                except Exception:  # the store may be briefly away: look again soon
                    log.exception("sessions.keeper_failed")
                await self.feed.wait(ticket, max(0.0, self._next_look - time.monotonic()))

    async def _changed(self) -> bool:
        """Whether a session's status was logged since the last read."""
        async with self.database.read() as conn:
            events = await event_store.read_all_new(conn, self._after, STATUS_EVENTS)
        if events:
            self._after = events[-1].place
        return bool(events)

    async def look(self) -> set[str]:
        """Start and stop runners to match the store; the sessions running after it."""
        self._next_look = time.monotonic() + self.every
        async with self.database.read() as conn:
            if self._after is None:
                self._after = await event_store.newest_place(conn, None) or LogPosition(0, 0)
            wanted = {s.id: s for s in await session_store.wanted_sessions(conn)}
            running = self.host.running()
            gone = {
                sid
                for sid in running - set(wanted)
                if await session_store.get_session(conn, sid) is None
            }
        for session_id in running - set(wanted):
            if session_id in gone:
                await self.host.remove(session_id)
            else:
                await self.host.stop(session_id)
        for session_id, stored in wanted.items():
            if stored.state in RUNNABLE and session_id not in running:
                self.host.start(session_id)
        return self.host.running()
