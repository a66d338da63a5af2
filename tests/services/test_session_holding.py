"""Which sessions want holding, and what holding one does to the worker's session host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import pytest

from chatgate.config import Settings
from chatgate.domain.ids import new_id
from chatgate.services.audit import Actor
from chatgate.services.session_holding import SessionHolding
from chatgate.services.session_runner import SessionHost
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow
from tests.services.session_world import session_world


class FakeHost:
    """A session host that only remembers what it was told."""

    def __init__(self) -> None:
        self.runs: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def running(self) -> set[str]:
        return set(self.runs)

    def start(self, session_id: str) -> None:
        self.calls.append(("start", session_id))
        self.runs.add(session_id)

    async def stop(self, session_id: str) -> None:
        self.calls.append(("stop", session_id))
        self.runs.discard(session_id)

    async def remove(self, session_id: str) -> None:
        self.calls.append(("remove", session_id))
        self.runs.discard(session_id)

    async def close(self) -> None:
        self.calls.append(("close", ""))
        self.runs.clear()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def test_sessions_that_should_run_want_holding_and_deleted_ones_are_removed(
    settings: Settings, database: Database
) -> None:
    world = await session_world(settings, database)
    now = utcnow()
    working = await world.session("working", now)
    pairing = await world.session("pairing", now, state="scan_qr")
    failed = await world.session("failed", now, state="failed")
    stopped = await world.session("stopped", now)
    async with database.write() as conn:
        await world.sessions.stop(conn, Actor(world.live.account_id), stopped.id, now)
    deleted = new_id("ses")
    host = FakeHost()
    holding = SessionHolding(cast(SessionHost, host))
    known = {working.id, stopped.id, deleted}
    async with database.read() as conn:
        survey = await holding.survey(conn, known)
    # (The store may hold other tests' sessions too.)
    mine = {working.id, pairing.id, failed.id, stopped.id}
    assert survey.wanted & mine == {working.id, pairing.id}
    assert survey.removed == {deleted}


async def test_holding_a_session_runs_it_in_the_host() -> None:
    host = FakeHost()
    holding = SessionHolding(cast(SessionHost, host))
    held, gone = new_id("ses"), new_id("ses")
    await holding.open(held)
    await holding.open(gone)
    assert holding.open_ids() == {held, gone}
    await holding.remove(gone)  # deleted: its device is logged out
    await holding.close(held)  # held elsewhere now: stopped here, the device stays linked
    await holding.open(held)
    await holding.shutdown()  # the worker stops: every session handed back
    assert host.calls == [
        ("start", held),
        ("start", gone),
        ("remove", gone),
        ("stop", held),
        ("start", held),
        ("close", ""),
    ]
    assert holding.open_ids() == set()
