"""The event log is read in commit order: a reader that resumes after an event misses none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.keys import KeyMode
from chatgate.storage import events as event_store
from chatgate.storage import messages as message_store
from chatgate.storage.accounts import insert_account
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LogPosition
from tests.support import queued_sms, settings_for


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[Database]:
    db = Database(settings_for(postgres_url))
    yield db
    await db.dispose()


async def _read(database: Database, account_id: str, after: LogPosition | None) -> list[str]:
    async with database.read() as conn:
        found = await event_store.read_log(
            conn, account_id, KeyMode.TEST, after=after, filters=EventFilter(), limit=100
        )
    return [event.content["text"] for event in found]


async def test_an_event_committed_late_is_not_skipped_by_a_reader_that_moved_on(
    database: Database,
) -> None:
    """PostgreSQL: the earlier transaction takes the smaller place but commits last."""
    account = await database.transact(lambda conn: insert_account(conn, f"log-{id(database)}"))

    async def write(conn: AsyncConnection, text: str) -> None:
        message = queued_sms(account.id, text)
        await message_store.insert_messages(conn, [message_store.message_row(message, None)])
        await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])

    async with database.write() as slow:
        await write(slow, "early, slow")
        async with database.write() as quick:
            await write(quick, "late, quick")
        # The quick one is committed, but the slow one could still commit before it:
        # nothing after the slow one's place is readable yet.
        assert await _read(database, account.id, None) == []
    # Readable once every transaction older than theirs is over (others run in the cluster,
    # so the early one may become readable before the late one, never the other way).
    async with asyncio.timeout(10):
        while len(readable := await _read(database, account.id, None)) < 2:
            assert readable in ([], ["early, slow"])
            await asyncio.sleep(0.01)
    assert readable == ["early, slow", "late, quick"]
    async with database.read() as conn:
        [first, second] = await event_store.read_log(
            conn, account.id, KeyMode.TEST, after=None, filters=EventFilter(), limit=10
        )
        newest = await event_store.newest_place(conn, account.id)
    assert await _read(database, account.id, first.place) == ["late, quick"]
    assert newest == second.place
    assert await _read(database, account.id, newest) == []
