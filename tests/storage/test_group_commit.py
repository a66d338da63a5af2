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


async def test_a_group_caught_in_a_deadlock_is_run_again_unit_by_unit(
    postgres_url: str,
) -> None:
    """On PostgreSQL a group's units may lock rows another transaction wants in the other
    order; whichever side the server aborts, every unit of the group is written."""
    settings = Settings(database_url=postgres_url)
    grouped, other = Database(settings), Database(settings)
    try:
        first = await grouped.transact(lambda conn: insert_account(conn, f"dl-a-{id(grouped)}"))
        second = await grouped.transact(lambda conn: insert_account(conn, f"dl-b-{id(grouped)}"))
        group_holds_first = asyncio.Event()
        other_holds_second = asyncio.Event()

        async def add_to(conn: AsyncConnection, account_id: str, amount: int) -> None:
            await conn.execute(
                accounts.update()
                .where(accounts.c.id == account_id)
                .values(balance=accounts.c.balance + amount)
            )

        runs_of_first: list[str] = []

        async def lock_first(conn: AsyncConnection) -> str:
            runs_of_first.append("run")
            await add_to(conn, first.id, 1)
            group_holds_first.set()
            return "first"

        async def then_second(conn: AsyncConnection) -> str:
            await other_holds_second.wait()
            await add_to(conn, second.id, 10)
            return "second"

        async def the_other_order() -> str:
            await group_holds_first.wait()
            try:
                async with other.write() as conn:
                    await add_to(conn, second.id, 100)
                    other_holds_second.set()
                    await add_to(conn, first.id, 100)
            except Exception as error:  # the server chose this side
                other_holds_second.set()
                return type(error).__name__
            return "committed"

        results = await asyncio.wait_for(
            asyncio.gather(
                grouped.transact(lock_first), grouped.transact(then_second), the_other_order()
            ),
            timeout=60,
        )
        assert results[:2] == ["first", "second"]
        # There was a deadlock, and one side gave way: the other transaction, or the group
        # (whose units then ran again, one by one).
        assert results[2] != "committed" or len(runs_of_first) == 2
        async with grouped.read() as conn:
            balances = dict(
                (
                    await conn.execute(
                        select(accounts.c.id, accounts.c.balance).where(
                            accounts.c.id.in_([first.id, second.id])
                        )
                    )
                ).all()
            )
        other_added = 100 if results[2] == "committed" else 0
        assert balances == {first.id: 1 + other_added, second.id: 10 + other_added}
    finally:
        await grouped.dispose()
        await other.dispose()
