"""Queries on the audit log: one row per change or refused authentication, never edited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import id_floor
from chatgate.storage.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which object, from where, and how it ended."""

    id: str
    account_id: str | None
    api_key_id: str | None
    source_ip: str | None
    action: str
    target: str | None
    outcome: str
    detail: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries of an account's log to list."""

    action: str | None = None
    api_key_id: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


_FIELDS = tuple(AuditEntry.__dataclass_fields__)


async def insert_entries(conn: AsyncConnection, entries: list[AuditEntry]) -> None:
    """Append ``entries`` to the log."""
    if entries:
        await conn.execute(
            insert(audit_log), [{name: getattr(e, name) for name in _FIELDS} for e in entries]
        )


async def list_entries(
    conn: AsyncConnection,
    account_id: str,
    filters: AuditFilter,
    *,
    before: str | None,
    limit: int,
) -> list[AuditEntry]:
    """The account's entries newest first, older than the id ``before`` when given."""
    query = select(audit_log).where(audit_log.c.account_id == account_id)
    equal = {
        audit_log.c.action: filters.action,
        audit_log.c.api_key_id: filters.api_key_id,
        audit_log.c.target: filters.target,
        audit_log.c.outcome: filters.outcome,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(audit_log.c.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(audit_log.c.created_at < filters.until)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    rows = await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
    return [AuditEntry(**{name: row._mapping[name] for name in _FIELDS}) for row in rows]


async def prune_unowned(conn: AsyncConnection, action: str, before: datetime) -> int:
    """Delete the entries of ``action`` that belong to no account (refusals of keys nobody
    holds) made before ``before``; how many went. Ids sort by time: the account index
    finds them."""
    floor = id_floor("aud", int(before.timestamp() * 1000))
    result = await conn.execute(
        delete(audit_log).where(
            audit_log.c.account_id.is_(None),
            audit_log.c.id < floor,
            audit_log.c.action == action,
        )
    )
    return int(result.rowcount or 0)
