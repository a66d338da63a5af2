"""The connection keeper: two workers' keepers on one store, with a fake clock.

Each connection is held and opened by one keeper; the other opens it only once the hold has
run out unrenewed, or at once when the first releases it on a graceful stop. A keeper that
could not renew in time closes its connections before another may take them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.engine.clock import FakeClock
from chatgate.engine.wakeup import LocalWakeup, PostgresListener
from chatgate.services.event_feed import EventFeed
from chatgate.services.held_connections import ConnectionKeeper, Survey
from chatgate.storage.database import Database, postgres_dsn
from chatgate.storage.events import LoggedEvent
from chatgate.storage.session_holds import HOLDS_CHANNEL
from chatgate.storage.tables import session_holds
from tests.support import settings_for, until

HOLD = 30.0  # renewed every 10 s, closed unrenewed after 20 s, taken over after 30 s


class FakeKind:
    """Connections of a kind that exist only in memory: which are stored, which are open."""

    event_types = frozenset({"test.connection"})

    def __init__(self, stored: Iterable[str]) -> None:
        self.stored = set(stored)
        self.wanted = set(self.stored)
        self.opened: set[str] = set()
        self.opens = 0  # how many times a connection was opened from closed
        self.removed: list[str] = []
        self.shut = False
        self.broken: set[str] = set()  # connections that cannot be opened

    def wakes(self, event: LoggedEvent) -> bool:
        return True

    async def survey(self, conn: AsyncConnection, known: set[str]) -> Survey:
        return Survey(wanted=set(self.wanted), removed=known - self.stored)

    def open_ids(self) -> set[str]:
        return set(self.opened)

    async def open(self, connection_id: str) -> None:
        if connection_id in self.broken:
            raise OSError(f"{connection_id} cannot be opened")
        self.opens += connection_id not in self.opened
        self.opened.add(connection_id)

    async def close(self, connection_id: str) -> None:
        self.opened.discard(connection_id)

    async def remove(self, connection_id: str) -> None:
        self.opened.discard(connection_id)
        self.removed.append(connection_id)

    async def shutdown(self) -> None:
        self.opened.clear()
        self.shut = True


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(settings_for(database_url))
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _keeper(database: Database, clock: FakeClock, *kinds: FakeKind) -> ConnectionKeeper:
    return ConnectionKeeper(
        database,
        EventFeed(database, 0.2),
        kinds,
        holder=new_id("worker"),
        hold_seconds=HOLD,
        clock=clock,
        monotonic=lambda: clock.now.timestamp(),
    )


async def _holders(database: Database, ids: Iterable[str]) -> dict[str, str]:
    async with database.read() as conn:
        rows = await conn.execute(
            select(session_holds.c.connection_id, session_holds.c.holder).where(
                session_holds.c.connection_id.in_(sorted(ids))
            )
        )
        return {row.connection_id: row.holder for row in rows}


async def test_one_keeper_holds_and_opens_each_connection(
    database: Database, clock: FakeClock
) -> None:
    ids = {new_id("ch"), new_id("ch")}
    first_kind, second_kind = FakeKind(ids), FakeKind(ids)
    first, second = _keeper(database, clock, first_kind), _keeper(database, clock, second_kind)
    gains: list[tuple[str, frozenset[str]]] = []
    for keeper in (first, second):
        keeper.on_gain = lambda keeper=keeper: gains.append((keeper.holder, keeper.held))
    assert await first.look() == 2
    clock.advance(1)
    assert await second.look() == 0
    assert (first_kind.opened, second_kind.opened) == (ids, set())
    assert first.held_ids() == ids
    assert second.held_ids() == frozenset()
    assert await _holders(database, ids) == dict.fromkeys(ids, first.holder)
    # The worker is told once, when it took them: their waiting jobs are its now.
    clock.advance(HOLD / 3)
    assert await first.look() == 2
    assert gains == [(first.holder, ids)]


async def test_renewed_holds_last_and_unrenewed_ones_are_taken_over(
    database: Database, clock: FakeClock
) -> None:
    ids = {new_id("ch")}
    first_kind, second_kind = FakeKind(ids), FakeKind(ids)
    first, second = _keeper(database, clock, first_kind), _keeper(database, clock, second_kind)
    await first.look()
    for _ in range(6):  # a minute of renewals every third of the hold
        clock.advance(HOLD / 3)
        assert await first.look() == 1
        assert await second.look() == 0
    # The first stops renewing (it died): nobody else opens it before the hold runs out.
    clock.advance(HOLD - 0.5)
    assert await second.look() == 0
    assert second_kind.opened == set()
    clock.advance(1)
    assert await second.look() == 1
    assert second_kind.opened == ids
    assert second_kind.opens == 1
    assert await _holders(database, ids) == dict.fromkeys(ids, second.holder)
    # Back from the dead, the first finds it held elsewhere and closes its own.
    assert await first.look() == 0
    assert first_kind.opened == set()


async def test_a_keeper_that_cannot_renew_closes_before_another_may_open(
    database: Database, clock: FakeClock
) -> None:
    ids = {new_id("ch")}
    kind = FakeKind(ids)
    keeper = _keeper(database, clock, kind)
    await keeper.look()
    clock.advance(2 * HOLD / 3 - 1)  # the store is away: no look has renewed the hold
    await keeper.drop_expired()
    assert kind.opened == ids
    clock.advance(1)
    await keeper.drop_expired()
    assert kind.opened == set()
    assert keeper.held_ids() == frozenset()


async def test_a_graceful_stop_hands_the_connections_over_at_once(
    database: Database, clock: FakeClock
) -> None:
    ids = {new_id("ch"), new_id("ch")}
    first_kind, second_kind = FakeKind(ids), FakeKind(ids)
    first, second = _keeper(database, clock, first_kind), _keeper(database, clock, second_kind)
    await first.look()
    await second.look()
    await first.close()
    assert first_kind.shut
    assert first_kind.opened == set()
    assert await _holders(database, ids) == {}
    # No time passes: the other takes them on its next look.
    assert await second.look() == 2
    assert second_kind.opened == ids


async def test_connections_no_longer_wanted_or_removed_are_let_go(
    database: Database, clock: FakeClock
) -> None:
    kept, stopped, removed = new_id("ch"), new_id("ch"), new_id("ch")
    kind = FakeKind({kept, stopped, removed})
    keeper = _keeper(database, clock, kind)
    await keeper.look()
    kind.wanted = {kept}
    kind.stored = {kept, stopped}
    clock.advance(1)
    assert await keeper.look() == 1
    assert kind.opened == {kept}
    assert kind.removed == [removed]  # a removed one is removed, a stopped one only closed
    assert await _holders(database, {kept, stopped, removed}) == {kept: keeper.holder}


async def test_a_connection_that_cannot_be_opened_holds_up_no_other(
    database: Database, clock: FakeClock
) -> None:
    broken, fine = new_id("ch"), new_id("ch")
    kind = FakeKind({broken, fine})
    kind.broken = {broken}
    keeper = _keeper(database, clock, kind)
    assert await keeper.look() == 2
    assert kind.opened == {fine}
    # Held still: it is opened here once it can be, never by another worker meanwhile.
    kind.broken = set()
    clock.advance(HOLD / 3)
    await keeper.look()
    assert kind.opened == {broken, fine}


async def test_each_kind_opens_only_its_own_connections(
    database: Database, clock: FakeClock
) -> None:
    binds, sessions = FakeKind({new_id("ch")}), FakeKind({new_id("ses")})
    keeper = _keeper(database, clock, binds, sessions)
    assert await keeper.look() == 2
    assert binds.opened == binds.stored
    assert sessions.opened == sessions.stored
    assert keeper.held_ids() == binds.stored | sessions.stored
    await keeper.close()
    assert binds.shut
    assert sessions.shut


async def test_running_keepers_hand_a_stopping_ones_connections_over_at_once(
    database: Database, database_url: str
) -> None:
    if database.is_sqlite:
        pytest.skip("one worker holds everything on SQLite: there is nobody to hand over to")
    ids = {new_id("ch")}
    released = LocalWakeup()
    listener = PostgresListener(postgres_dsn(database_url), {HOLDS_CHANNEL: released})
    listening = asyncio.create_task(listener.run())
    kinds = [FakeKind(ids), FakeKind(ids)]
    # Real time, and a hold far longer than the test: only the release can move them.
    keepers = [
        ConnectionKeeper(
            database,
            EventFeed(database, 0.2),
            [kind],
            holder=new_id("worker"),
            hold_seconds=HOLD,
            wakeup=wakeup,
        )
        for kind, wakeup in zip(kinds, (LocalWakeup(), released), strict=True)
    ]
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        first = asyncio.create_task(keepers[0].run())

        async def first_holds() -> bool:
            return kinds[0].opened == ids

        await until(first_holds)
        # The second has looked (held by the first): running, it looks again only when told
        # (it was told once already, as the listener connected), or a third of a hold later.
        assert await keepers[1].look() == 0
        await released.wait(0)
        second = asyncio.create_task(keepers[1].run())
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await keepers[0].close()

        async def second_holds() -> bool:
            return kinds[1].opened == ids

        await until(second_holds, limit=HOLD / 6)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await keepers[1].close()
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
