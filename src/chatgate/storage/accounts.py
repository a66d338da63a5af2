"""Queries on accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.records import Account
from chatgate.storage.tables import accounts
from chatgate.storage.types import utcnow


def _account(row: Any) -> Account:
    mapping = row._mapping
    return Account(
        id=mapping["id"],
        name=mapping["name"],
        created_at=mapping["created_at"],
        plan=mapping["plan"],
        currency=mapping["currency"],
        balance=mapping["balance"],
        held=mapping["held"],
        prices=mapping["prices"],
    )


async def insert_account(conn: AsyncConnection, name: str, plan: str | None = None) -> Account:
    """Create an account named ``name`` (with no credit) on ``plan`` (None: the default)."""
    account = Account(id=new_id("acc"), name=name, created_at=utcnow(), plan=plan)
    await conn.execute(
        insert(accounts).values(
            id=account.id, name=account.name, created_at=account.created_at, plan=plan
        )
    )
    return account


async def find_account_by_name(conn: AsyncConnection, name: str) -> Account | None:
    """The account named ``name``, if any."""
    row = (await conn.execute(select(accounts).where(accounts.c.name == name))).first()
    return _account(row) if row else None


async def get_account(
    conn: AsyncConnection, account_id: str, *, for_update: bool = False
) -> Account | None:
    """The account with ``account_id``, if any (locked for this transaction if asked)."""
    query = select(accounts).where(accounts.c.id == account_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _account(row) if row else None


async def set_billing(
    conn: AsyncConnection,
    account_id: str,
    *,
    plan: str | None = None,
    prices: dict[str, int] | None = None,
    currency: str | None = None,
    clear_prices: bool = False,
) -> None:
    """Change the account's plan, prices or currency (``None`` leaves one alone)."""
    values: dict[str, Any] = {}
    if plan is not None:
        values["plan"] = plan
    if prices is not None or clear_prices:
        values["prices"] = prices
    if currency is not None:
        values["currency"] = currency
    if values:
        await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
