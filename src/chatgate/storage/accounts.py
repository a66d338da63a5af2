"""Queries on accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.records import Account
from chatgate.storage.tables import accounts
from chatgate.storage.types import utcnow


def _account(row: Any) -> Account:
    mapping = row._mapping
    return Account(id=mapping["id"], name=mapping["name"], created_at=mapping["created_at"])


async def insert_account(conn: AsyncConnection, name: str) -> Account:
    """Create an account named ``name``."""
    account = Account(id=new_id("acc"), name=name, created_at=utcnow())
    await conn.execute(
        insert(accounts).values(id=account.id, name=account.name, created_at=account.created_at)
    )
    return account


async def find_account_by_name(conn: AsyncConnection, name: str) -> Account | None:
    """The account named ``name``, if any."""
    row = (await conn.execute(select(accounts).where(accounts.c.name == name))).first()
    return _account(row) if row else None


async def get_account(conn: AsyncConnection, account_id: str) -> Account | None:
    """The account with ``account_id``, if any."""
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
    return _account(row) if row else None
