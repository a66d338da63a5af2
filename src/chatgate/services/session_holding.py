"""Holding a linked-device session: its runner in this worker's session host.

A device may be connected by one process at a time (the platform replaces the first
connection when a second one opens), so each session that should run is held by exactly
one worker through the worker's connection keeper
(:mod:`chatgate.services.held_connections`); a session's id is its connection id in the
holds. This plug has the worker's :class:`~chatgate.services.session_runner.SessionHost`
run exactly the sessions the worker holds:

- a session wanted and in a state a runner carries on from (``starting``, ``scan_qr``,
  ``working``) wants holding; a stopped or failed one does not, and stays as it is;
- one held here is started (resumed from its stored device keys, no new QR, when it was
  paired), one no longer held here is stopped (the device stays linked), one removed is
  logged out;
- every ``session.status`` event (a session created, stopped, started, removed, or changed
  by another process) makes the keeper look again;
- a worker that stops hands its sessions back ``starting`` (reason ``worker_stopped``) and
  then releases them, so that another worker resumes them at once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.sessions import SESSION_STATUS_EVENT
from chatgate.services.held_connections import Survey
from chatgate.services.session_runner import SessionHost
from chatgate.storage import sessions as session_store
from chatgate.storage.events import LoggedEvent

# States a session that should run is (re)started in; failed and stopped ones are left.
RUNNABLE = frozenset({"starting", "scan_qr", "working"})


class SessionHolding:
    """The linked-device sessions' plug of the connection keeper."""

    event_types = frozenset({SESSION_STATUS_EVENT})

    def __init__(self, host: SessionHost) -> None:
        self.host = host

    def wakes(self, event: LoggedEvent) -> bool:
        """Every state change of a session may change whether it wants holding."""
        return True

    async def survey(self, conn: AsyncConnection, known: set[str]) -> Survey:
        """The sessions that should run, and those of ``known`` that were deleted."""
        wanted = {
            stored.id
            for stored in await session_store.wanted_sessions(conn)
            if stored.state in RUNNABLE
        }
        removed = {
            session_id
            for session_id in known - wanted
            if await session_store.get_session(conn, session_id) is None
        }
        return Survey(wanted=wanted, removed=removed)

    def open_ids(self) -> set[str]:
        """The sessions whose runner runs in this process."""
        return self.host.running()

    async def open(self, connection_id: str) -> None:
        """Run the session here (no-op while it runs)."""
        self.host.start(connection_id)

    async def close(self, connection_id: str) -> None:
        """Stop running the session here; the device stays linked."""
        await self.host.stop(connection_id)

    async def remove(self, connection_id: str) -> None:
        """The session was deleted: log its device out."""
        await self.host.remove(connection_id)

    async def shutdown(self) -> None:
        """Stop every runner, handing the sessions back ``starting``."""
        await self.host.close()
