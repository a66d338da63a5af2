"""Session holds: each connection held by one worker, taken over once its hold ran out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from chatgate.domain.ids import new_id
from chatgate.storage import session_holds
from chatgate.storage.database import Database
from chatgate.storage.tables import session_holds as holds_table
from chatgate.storage.types import utcnow
from tests.support import settings_for

HOLD = timedelta(seconds=10)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(settings_for(database_url))
    yield db
    await db.dispose()


async def _hold(database: Database, holder: str, ids: Collection[str], now: datetime) -> set[str]:
    async with database.write() as conn:
        return await session_holds.hold(conn, holder, ids, now=now, until=now + HOLD)


async def _rows(database: Database, ids: Collection[str]) -> dict[str, str]:
    async with database.read() as conn:
        rows = await conn.execute(
            select(holds_table.c.connection_id, holds_table.c.holder).where(
                holds_table.c.connection_id.in_(list(ids))
            )
        )
        return {row.connection_id: row.holder for row in rows}


async def test_a_connection_is_held_by_one_worker_until_its_hold_runs_out(
    database: Database,
) -> None:
    first, second = new_id("w"), new_id("w")
    ids = {new_id("ch"), new_id("ch")}
    now = utcnow()
    assert await _hold(database, first, ids, now) == ids
    assert await _hold(database, second, ids, now + timedelta(seconds=1)) == set()
    # Renewed by its holder, the hold lasts; unrenewed, the other worker takes it over.
    assert await _hold(database, first, ids, now + timedelta(seconds=5)) == ids
    assert await _hold(database, second, ids, now + timedelta(seconds=14)) == set()
    later = now + timedelta(seconds=16)
    assert await _hold(database, second, ids, later) == ids
    assert await _hold(database, first, ids, later) == set()
    assert set((await _rows(database, ids)).values()) == {second}


async def test_the_holds_of_removed_connections_are_dropped(database: Database) -> None:
    first, second = new_id("w"), new_id("w")
    kept, removed, elsewhere = new_id("ch"), new_id("ch"), new_id("ch")
    now = utcnow()
    assert await _hold(database, first, {kept, removed}, now) == {kept, removed}
    assert await _hold(database, second, {elsewhere}, now) == {elsewhere}
    # ``removed`` is no longer listed: its holder lets it go at once. ``elsewhere`` is not
    # listed either (made after this worker read the list): its holder keeps it.
    assert await _hold(database, first, {kept}, now + timedelta(seconds=1)) == {kept}
    assert await _rows(database, {kept, removed, elsewhere}) == {
        kept: first,
        elsewhere: second,
    }
    # A hold that ran out, of a connection no longer listed, goes whoever held it.
    assert await _hold(database, first, {kept}, now + timedelta(seconds=11)) == {kept}
    assert await _rows(database, {kept, removed, elsewhere}) == {kept: first}


async def test_a_stopping_worker_releases_its_holds(database: Database) -> None:
    first, second = new_id("w"), new_id("w")
    ids = {new_id("ch")}
    now = utcnow()
    assert await _hold(database, first, ids, now) == ids
    async with database.write() as conn:
        await session_holds.release(conn, first)
    assert await _hold(database, second, ids, now + timedelta(seconds=1)) == ids


async def test_a_worker_learns_when_anothers_hold_runs_out(database: Database) -> None:
    first, second = new_id("w"), new_id("w")
    mine, theirs = new_id("ch"), new_id("ch")
    now = utcnow()
    assert await _hold(database, second, {theirs}, now) == {theirs}
    assert await _hold(database, first, {mine, theirs}, now + timedelta(seconds=2)) == {mine}
    async with database.read() as conn:
        # Its own holds and connections nobody holds tell it nothing.
        assert await session_holds.next_run_out(conn, first, {mine, new_id("ch")}) is None
        assert await session_holds.next_run_out(conn, first, {mine, theirs}) == now + HOLD
