"""A bound SMPP session for every SMPP connection, whether or not anything is being sent.

An SMSC hands users' messages and receipts only to a bound session: a connection that only
receives, or any connection after a restart, would get nothing until its next send. So
every worker runs a keeper, which binds the SMPP connections it holds
(:mod:`chatgate.storage.session_holds`: one worker per connection, however many run):

- at start, and within moments of a connection being made, given new credentials or
  removed: those changes log a ``channel.status`` event in their own transaction, and the
  keeper reads the new ones whenever the process's event feed sees the log move, whichever
  process wrote them, on either store;
- every third of a hold's time in any case, which renews its holds and takes over those of
  a worker that died (and picks up a change of settings, which logs no event).

A removed connection's session is unbound at once and never bound again in this process
(:meth:`~chatgate.channels.sms_smpp_pool.SessionPool.remove_connection`); a changed one is
bound again with its new credentials; one another worker holds now is closed here. A
session that loses its connection binds again by itself. A keeper that could not renew its
holds for two thirds of their time (the store is away, or so slow that a look outlasts
that) closes its sessions then, on a timer of its own, before the holds run out and
another worker may bind them.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta

import structlog

from chatgate.channels.sms_smpp import SmppAdapter
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.channels.sms_smpp_session import SessionConfig
from chatgate.engine.clock import Clock, system_clock
from chatgate.services.channels import CHANNEL_STATUS_EVENT, CONNECTION_CHANGES, ChannelService
from chatgate.services.event_feed import EventFeed
from chatgate.storage import channels as channel_store
from chatgate.storage import events as event_store
from chatgate.storage import session_holds
from chatgate.storage.channels import StoredConnection
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent, LogPosition

log = structlog.get_logger(__name__)

SMS = "sms"
CHANNEL_EVENTS = EventFilter(types=frozenset({CHANNEL_STATUS_EVENT}))
READ_BATCH = 500


def _changes_a_connection(event: LoggedEvent) -> bool:
    detail = event.detail or {}
    return detail.get("type") == SMS and detail.get("status") in CONNECTION_CHANGES


class SmppSessionKeeper:
    """Opens and closes this worker's SMPP sessions to match the connections it holds."""

    def __init__(
        self,
        database: Database,
        channels: ChannelService,
        pool: SessionPool,
        feed: EventFeed,
        *,
        holder: str,
        hold_seconds: float,
        clock: Clock = system_clock,
    ) -> None:
        self.database = database
        self.channels = channels
        self.pool = pool
        self.feed = feed
        self.holder = holder
        self.hold = timedelta(seconds=hold_seconds)
        self.clock = clock
        # The connections whose sessions this keeper holds open.
        self.held: set[str] = set()
        self._after: LogPosition | None = None  # the log is read up to here
        self._next_look = -math.inf
        self._renewed = -math.inf
        # Versions of connections whose adapter could not be built (said once each).
        self._skipped: set[tuple[str, datetime | None]] = set()

    @property
    def _every(self) -> float:
        return self.hold.total_seconds() / 3

    async def run(self) -> None:
        """Look now, on every change of a connection and every third of a hold, until
        cancelled."""
        with self.feed.open_stream():
            while True:
                ticket = self.feed.ticket()
                try:
                    # A store that hangs rather than refuses must not keep the sessions
                    # open past the point where they are to be closed.
                    async with asyncio.timeout(self._until_drop()):
                        if time.monotonic() >= self._next_look or await self._changed():
                            await self.look()
                except Exception:  # the store may be briefly away: look again soon
                    log.exception("smpp.keeper_failed")
                await self._drop_expired()
                # Wake for the next look, or to close the sessions if the holds were not
                # renewed by then, whichever comes first.
                until_drop = self._until_drop()
                wait = self._next_look - time.monotonic()
                if until_drop is not None:
                    wait = min(wait, until_drop)
                await self.feed.wait(ticket, max(0.0, wait))

    def _until_drop(self) -> float | None:
        """Seconds until the held sessions are closed unless the holds are renewed (none
        when nothing is held)."""
        if not self.held:
            return None
        return max(0.0, self._renewed + 2 * self._every - time.monotonic())

    async def _changed(self) -> bool:
        """Whether an SMS connection was made, changed or removed since the last read."""
        if self._after is None:
            return True
        async with self.database.read() as conn:
            events = await event_store.read_all_new(
                conn, self._after, CHANNEL_EVENTS, batch=READ_BATCH
            )
        if events:
            self._after = events[-1].place
        return any(_changes_a_connection(event) for event in events)

    async def look(self) -> int:
        """Hold and bind the SMPP connections no other worker holds, close the sessions of
        those removed or held elsewhere; how many this keeper holds."""
        self._next_look = time.monotonic() + self._every
        # Each of these existed before the read below: one it does not find was removed.
        known = self.pool.connection_ids() | self.held
        async with self.database.read() as conn:
            if self._after is None:
                self._after = await event_store.newest_place(conn, None) or LogPosition(0, 0)
            stored = await channel_store.of_type(conn, SMS)
        for removed in known - {connection.id for connection in stored}:
            await self.pool.remove_connection(removed)
            self.held.discard(removed)
        configs = self._configs(stored)
        now, renewing = self.clock(), time.monotonic()
        async with self.database.write() as conn:
            held = await session_holds.hold(
                conn, self.holder, configs, now=now, until=now + self.hold
            )
        self._renewed = renewing
        for connection_id in self.pool.connection_ids() - held:
            # Held elsewhere, no longer SMPP, or opened by a send with what is now stale.
            if connection_id in self.held or self.pool.config(connection_id) != configs.get(
                connection_id
            ):
                await self.pool.close_connection(connection_id)
        for connection_id in held:
            self.pool.session(connection_id, configs[connection_id])
        self.held = held
        return len(held)

    def _configs(self, stored: list[StoredConnection]) -> dict[str, SessionConfig]:
        configs: dict[str, SessionConfig] = {}
        for connection in stored:
            try:
                adapter = self.channels.adapter(connection)
            except Exception:  # undecryptable or no longer valid: leave it to the sends
                version = (connection.id, connection.updated_at)
                if version not in self._skipped:
                    self._skipped.add(version)
                    log.warning("smpp.keeper_skipped", connection_id=connection.id)
                continue
            smpp = getattr(adapter, "provider", adapter)
            if isinstance(smpp, SmppAdapter):
                configs[connection.id] = smpp.session_config
        return configs

    async def _drop_expired(self) -> None:
        """Close the sessions whose holds are running out unrenewed: another worker may
        bind them once they have."""
        if self._until_drop() == 0.0:
            log.warning("smpp.holds_expired", connections=len(self.held))
            for connection_id in self.held:
                await self.pool.close_connection(connection_id)
            self.held = set()

    async def let_go(self) -> None:
        """Give up this keeper's holds (its sessions are closed): another worker binds them
        on its next look rather than once they run out."""
        self.held = set()
        try:
            async with self.database.write() as conn:
                await session_holds.release(conn, self.holder)
        except Exception:  # not fatal: the holds run out
            log.exception("smpp.release_failed", holder=self.holder)
