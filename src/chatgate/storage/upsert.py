"""Dialect-aware ``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


@cache
def insert_or_ignore_statement(dialect_name: str, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` (for one row or many)."""
    # Built once per table: constructing statements is a visible cost on the hot path.
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def insert_or_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """Insert ``values`` unless the primary key exists; ``True`` if a row was inserted."""
    result = await conn.execute(insert_or_ignore_statement(conn.dialect.name, table), values)
    return bool(result.rowcount)
