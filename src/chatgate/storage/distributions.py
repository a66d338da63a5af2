"""Queries on distributions: one content sent to many recipients, and each one's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import distributions, messages


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution as stored; ``results`` has one entry per recipient, in order."""

    id: str
    account_id: str
    mode: str
    api_key_id: str | None
    content: dict[str, Any]
    results: list[dict[str, Any]]
    accepted: int
    refused: int
    created_at: datetime


_FIELDS = tuple(Distribution.__dataclass_fields__)


async def insert_distribution(conn: AsyncConnection, distribution: Distribution) -> None:
    """Store a distribution (its messages are written beside it)."""
    await conn.execute(
        insert(distributions).values(**{name: getattr(distribution, name) for name in _FIELDS})
    )


async def get_distribution(
    conn: AsyncConnection, account_id: str, mode: str, distribution_id: str
) -> Distribution | None:
    """The account's distribution of ``mode``, if any."""
    row = (
        await conn.execute(
            select(distributions).where(
                distributions.c.id == distribution_id,
                distributions.c.account_id == account_id,
                distributions.c.mode == mode,
            )
        )
    ).first()
    return Distribution(**{name: row._mapping[name] for name in _FIELDS}) if row else None


async def status_counts(conn: AsyncConnection, distribution_id: str) -> dict[str, int]:
    """How many of the distribution's messages stand at each status now."""
    rows = await conn.execute(
        select(messages.c.status, func.count())
        .where(messages.c.distribution_id == distribution_id)
        .group_by(messages.c.status)
    )
    # Not dict(rows): a result has keys() (its column names), so dict would read it as a mapping.
    return {row[0]: row[1] for row in rows}
