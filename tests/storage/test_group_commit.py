"""Group commit: units share a transaction, fail alone, and are answered after the commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.config import Settings
from chatgate.storage.accounts import insert_account
from chatgate.storage.database import Database
from chatgate.storage.tables import accounts
from chatgate.storage.types import utcnow


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


@pytest.mark.parametrize("failure", [ValueError, IntegrityError])
async def test_concurrent_units_commit_and_one_failure_stays_alone(
    database: Database, failure: type[Exception]
) -> None:
    """A unit that raises, in Python or in the store (which on PostgreSQL aborts the whole
    transaction), fails alone: the others of its group are written."""
    prefix = f"gc-{id(database)}-{failure.__name__}-"

    def unit(n: int) -> Callable[[AsyncConnection], Awaitable[int]]:
        async def write(conn: AsyncConnection) -> int:
            row = {"id": f"acc_{prefix}{n}", "name": f"{prefix}{n}", "created_at": utcnow()}
            await conn.execute(insert(accounts).values(**row))
            if n == 13 and failure is ValueError:
                raise ValueError("unit 13 refuses")
            if n == 13:
                await conn.execute(insert(accounts).values(**row))  # the same id again
            return n

        return write

    results = await asyncio.gather(
        *(database.transact(unit(n)) for n in range(40)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, Exception)] == [results[13]]
    assert isinstance(results[13], failure)
    assert [r for r in results if not isinstance(r, Exception)] == [n for n in range(40) if n != 13]
    async with database.read() as conn:
        names = set(
            await conn.scalars(select(accounts.c.name).where(accounts.c.name.like(f"{prefix}%")))
        )
    assert names == {f"{prefix}{n}" for n in range(40) if n != 13}


async def test_a_unit_is_answered_only_once_committed(
    database: Database, settings: Settings
) -> None:
    """What a unit wrote is visible to a separate connection as soon as its caller resumes."""
    name = f"visible-{id(database)}"
    account = await database.transact(lambda conn: insert_account(conn, name))
    other = Database(settings)
    try:
        async with other.read() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(accounts).where(accounts.c.id == account.id)
            )
    finally:
        await other.dispose()
    assert count == 1
