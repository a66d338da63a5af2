"""Staged writes: run together at the commit, parents first, and never after a rollback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.config import Settings
from chatgate.storage import messages as message_store
from chatgate.storage.accounts import insert_account
from chatgate.storage.database import Database
from chatgate.storage.staged import staged
from chatgate.storage.tables import accounts, message_events, messages
from chatgate.storage.types import utcnow
from tests.support import queued_sms


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


async def _count(conn: AsyncConnection, table: Table, account_id: str) -> int:
    where = table.c.account_id == account_id
    return int(await conn.scalar(select(func.count()).select_from(table).where(where)) or 0)


async def test_rows_staged_by_many_units_are_inserted_at_the_commit_parents_first(
    database: Database,
) -> None:
    account = await database.transact(lambda conn: insert_account(conn, f"staged-{id(database)}"))

    async def stage(conn: AsyncConnection, n: int) -> None:
        message = queued_sms(account.id, f"staged {n}")
        # Children first: the flush still inserts each message before its event.
        staged(conn).add(message_store.INSERT_EVENTS, [message_store.first_event_row(message)])
        staged(conn).add(message_store.INSERT_MESSAGES, [message_store.message_row(message, None)])
        # Not visible yet inside the transaction: staged rows wait for the commit.
        assert await _count(conn, messages, account.id) == 0

    async with database.write() as conn:
        for n in range(5):
            await stage(conn, n)
    async with database.read() as conn:
        assert await _count(conn, messages, account.id) == 5
        assert await _count(conn, message_events, account.id) == 5


async def test_a_statement_staged_to_run_once_runs_once_after_the_rows(
    database: Database,
) -> None:
    name = f"once-{id(database)}"
    # Run twice, the insert would break the account's unique name.
    once = insert(accounts).values(id=f"acc_{name}", name=name, created_at=utcnow())
    async with database.write() as conn:
        for _ in range(3):
            staged(conn).add_once("the account", once, {})
        assert await conn.scalar(select(func.count()).where(accounts.c.name == name)) == 0
    async with database.read() as conn:
        assert await conn.scalar(select(func.count()).where(accounts.c.name == name)) == 1


async def test_staged_rows_are_dropped_when_the_transaction_rolls_back(database: Database) -> None:
    account = await database.transact(lambda conn: insert_account(conn, f"rollback-{id(database)}"))
    message = queued_sms(account.id, "rolled back")

    async def stage_then_fail() -> None:
        async with database.write() as conn:
            message_store.stage_new_messages(
                conn,
                [message_store.message_row(message, None)],
                [message_store.first_event_row(message)],
            )
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await stage_then_fail()
    async with database.read() as conn:
        assert await _count(conn, messages, account.id) == 0
        # Nothing staged is left on the pooled connection for its next transaction.
        with pytest.raises(RuntimeError):
            staged(conn)


async def test_staging_needs_a_write_transaction(database: Database) -> None:
    async with database.engine.connect() as conn, conn.begin():
        with pytest.raises(RuntimeError, match=r"Database\.write"):
            staged(conn).add(insert(accounts), [{}])


async def test_a_cancelled_transaction_ends_cancelled(database: Database) -> None:
    """Cancelled mid-statement, a transaction's connection is refused any further use until
    rolled back: taking the staged writes off must not raise in place of the cancellation."""
    started = asyncio.Event()

    async def slow() -> None:
        async with database.write() as conn:
            started.set()
            if database.is_sqlite:
                await asyncio.sleep(5)
            else:
                await conn.execute(text("SELECT pg_sleep(5)"))

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
