"""Connections one worker keeps open: each held by exactly one worker, through the store.

Some connections must be kept open by one process at a time, whether or not anything is
being sent: a bind to a platform's server (that hands users' messages and receipts only to
a bound session), a linked-device session (the platform replaces the first connection of a
device when a second one opens). Each worker runs one :class:`ConnectionKeeper`, which
holds such connections through a lease in the store (:mod:`chatgate.storage.session_holds`:
holder, expiry; renewing it is the heartbeat), opens those it holds, and closes those it no
longer holds or that were removed. What "open" means is a platform's own: a
:class:`HeldKind` plug-in, one per kind of connection, given to the keeper by whoever builds
the worker.

The keeper looks at the store:

- at start, and within moments of a connection of its kinds being made, changed or removed
  (those changes log events; the keeper reads the new ones whenever the process's event
  feed sees the log move, whichever process wrote them, on either store);
- every third of a hold's time in any case, which renews its holds;
- when another worker's hold on a wanted connection runs out (to take it over at once), or
  another worker released its holds (``wakeup``: it stopped gracefully).

A keeper that could not renew its holds for two thirds of their time (the store is away,
or so slow that a look outlasts that) closes its connections then, on a timer of its own,
before the holds run out and another worker may open them. A keeper that stops gracefully
(:meth:`ConnectionKeeper.close`) closes its connections and releases its holds at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.engine.clock import Clock, system_clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.services.event_feed import EventFeed
from chatgate.storage import events as event_store
from chatgate.storage import session_holds
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent, LogPosition

log = structlog.get_logger(__name__)

READ_BATCH = 500
# A look to take over a hold is made this long after it runs out (``held_until < now``).
TAKEOVER_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Survey:
    """What the store says of one kind's connections."""

    wanted: set[str]  # the connections that want holding now
    removed: set[str]  # of those this process knew, the ones gone from the store


class HeldKind(Protocol):
    """What holding a connection means for one kind of connection (a platform's plug-in).

    ``open``, ``close`` and ``remove`` are called only from the keeper's task, one at a
    time, and are idempotent: ``open`` of an open connection applies its current settings.
    """

    # The event types whose logging may mean a connection of this kind changed.
    event_types: frozenset[str]

    def wakes(self, event: LoggedEvent) -> bool:
        """Whether ``event`` (one of ``event_types``) changes a connection of this kind."""
        ...

    async def survey(self, conn: AsyncConnection, known: set[str]) -> Survey:
        """The connections that want holding, and which of ``known`` were removed."""
        ...

    def open_ids(self) -> set[str]:
        """The connections of this kind open in this process."""
        ...

    async def open(self, connection_id: str) -> None:
        """Open the connection this worker now holds (or keep it open)."""
        ...

    async def close(self, connection_id: str) -> None:
        """This worker does not hold the connection (any longer): close what holding it
        opened here."""
        ...

    async def remove(self, connection_id: str) -> None:
        """The connection was removed: close it for good (logging a device out, say)."""
        ...

    async def shutdown(self) -> None:
        """The worker stops: close every connection of this kind open here."""
        ...


class ConnectionKeeper:
    """Holds, opens and closes this worker's connections of ``kinds`` to match the store."""

    def __init__(
        self,
        database: Database,
        feed: EventFeed,
        kinds: Sequence[HeldKind],
        *,
        holder: str,
        hold_seconds: float,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
        wakeup: LocalWakeup | None = None,
        on_gain: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.feed = feed
        self.kinds = list(kinds)
        self.holder = holder
        self.hold = timedelta(seconds=hold_seconds)
        self.clock = clock
        self.monotonic = monotonic
        self.wakeup = wakeup
        self.on_gain = on_gain  # told when this worker takes new holds (their jobs wait)
        # The connections this keeper holds (and has opened), all kinds together.
        self.held: frozenset[str] = frozenset()
        self._held_of: list[set[str]] = [set() for _ in self.kinds]
        self._events = EventFilter(
            types=frozenset().union(*(kind.event_types for kind in self.kinds))
        )
        self._after: LogPosition | None = None  # the log is read up to here
        self._next_look = -math.inf
        self._renewed = -math.inf

    @property
    def _every(self) -> float:
        return self.hold.total_seconds() / 3

    def held_ids(self) -> frozenset[str]:
        """The connections this worker holds now (whose jobs only it claims)."""
        return self.held

    async def run(self) -> None:
        """Look now, on every change, every third of a hold and when a hold may be taken
        over, until cancelled."""
        with self.feed.open_stream():
            while True:
                ticket = self.feed.ticket()
                try:
                    # A store that hangs rather than refuses must not keep the connections
                    # open past the point where they are to be closed.
                    async with asyncio.timeout(self._until_drop()):
                        if self.monotonic() >= self._next_look or await self._changed():
                            await self.look()
                except Exception:  # the store may be briefly away: look again soon
                    log.exception("holds.keeper_failed", holder=self.holder)
                await self.drop_expired()
                # Wake for the next look, or to close the connections if the holds were not
                # renewed by then, whichever comes first.
                until_drop = self._until_drop()
                wait = self._next_look - self.monotonic()
                if until_drop is not None:
                    wait = min(wait, until_drop)
                await self._wait(ticket, max(0.0, wait))

    async def _wait(self, ticket: asyncio.Event, seconds: float) -> None:
        """Until the log moves, another worker released holds, or ``seconds`` passed."""
        if self.wakeup is None:
            await self.feed.wait(ticket, seconds)
            return
        released = asyncio.create_task(self.wakeup.wait(seconds))
        moved = asyncio.create_task(self.feed.wait(ticket, seconds))
        try:
            await asyncio.wait((released, moved), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (released, moved):
                task.cancel()
            await asyncio.gather(released, moved, return_exceptions=True)
        if released.done() and not released.cancelled() and released.result():
            self._next_look = -math.inf

    def _until_drop(self) -> float | None:
        """Seconds until the held connections are closed unless the holds are renewed
        (none when nothing is held)."""
        if not self.held:
            return None
        return max(0.0, self._renewed + 2 * self._every - self.monotonic())

    async def _changed(self) -> bool:
        """Whether a connection of a kind held here changed since the last read."""
        if self._after is None:
            return True
        async with self.database.read() as conn:
            events = await event_store.read_all_new(
                conn, self._after, self._events, batch=READ_BATCH
            )
        if events:
            self._after = events[-1].place
        return any(
            kind.wakes(event)
            for event in events
            for kind in self.kinds
            if event.type in kind.event_types
        )

    async def look(self) -> int:
        """Hold and open the connections no other worker holds, close those removed or held
        elsewhere; how many this keeper holds."""
        self._next_look = self.monotonic() + self._every
        # Each of these existed before the read below: one it does not find was removed.
        known = [
            kind.open_ids() | mine for kind, mine in zip(self.kinds, self._held_of, strict=True)
        ]
        async with self.database.read() as conn:
            if self._after is None:
                self._after = await event_store.newest_place(conn, None) or LogPosition(0, 0)
            surveys = [
                await kind.survey(conn, seen) for kind, seen in zip(self.kinds, known, strict=True)
            ]
        owner: dict[str, int] = {}
        for index, (kind, survey) in enumerate(zip(self.kinds, surveys, strict=True)):
            for removed in sorted(survey.removed):
                await self._step(kind.remove, removed)
                self._held_of[index].discard(removed)
            for connection_id in survey.wanted:
                owner.setdefault(connection_id, index)
        now, renewing = self.clock(), self.monotonic()
        async with self.database.write() as conn:
            held = await session_holds.hold(
                conn, self.holder, owner, now=now, until=now + self.hold
            )
            run_out = await session_holds.next_run_out(conn, self.holder, set(owner) - held)
        self._renewed = renewing
        if run_out is not None:
            # Take it over the moment it runs out, not a third of a hold later.
            takeover = renewing + (run_out - now).total_seconds() + TAKEOVER_MARGIN
            self._next_look = min(self._next_look, takeover)
        gained = held - self.held
        for index, kind in enumerate(self.kinds):
            mine = {connection_id for connection_id in held if owner[connection_id] == index}
            for connection_id in sorted(kind.open_ids() - mine):
                await self._step(kind.close, connection_id)
            for connection_id in sorted(mine):
                await self._step(kind.open, connection_id)
            self._held_of[index] = mine
        self.held = frozenset(held)
        if gained:
            log.info("holds.taken", holder=self.holder, connections=sorted(gained))
            if self.on_gain is not None:
                self.on_gain()
        return len(held)

    async def _step(self, step: Callable[[str], Awaitable[None]], connection_id: str) -> None:
        """Open, close or remove one connection: its trouble must not hold up the others."""
        try:
            await step(connection_id)
        except Exception:
            log.exception("holds.step_failed", holder=self.holder, connection_id=connection_id)

    async def drop_expired(self) -> None:
        """Close the connections whose holds are running out unrenewed: another worker may
        open them once they have."""
        if self._until_drop() != 0.0:
            return
        log.warning("holds.expired", holder=self.holder, connections=len(self.held))
        for kind, mine in zip(self.kinds, self._held_of, strict=True):
            for connection_id in sorted(mine):
                await self._step(kind.close, connection_id)
            mine.clear()
        self.held = frozenset()

    async def let_go(self) -> None:
        """Give up this keeper's holds (its connections are closed): another worker opens
        them on its next look rather than once they run out."""
        self.held = frozenset()
        for mine in self._held_of:
            mine.clear()
        try:
            async with self.database.write() as conn:
                await session_holds.release(conn, self.holder)
        except Exception:  # not fatal: the holds run out
            log.exception("holds.release_failed", holder=self.holder)

    async def close(self) -> None:
        """The worker stops (its :meth:`run` is cancelled): close every connection, then
        release the holds, so that another worker takes them over at once but never opens
        one while it is still open here."""
        for kind in self.kinds:
            try:
                await kind.shutdown()
            except Exception:  # one kind's trouble must not keep the others open
                log.exception("holds.shutdown_failed", holder=self.holder)
        await self.let_go()
