"""Stored webhook endpoints. Their signing secrets are the encrypted bytes the service hands
over; nothing here sees them in clear."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.keys import KeyMode
from chatgate.storage.events import LogMark, parse_mark
from chatgate.storage.staged import staged
from chatgate.storage.tables import webhook_attempts, webhook_deliveries, webhook_endpoints


@dataclass(frozen=True, slots=True)
class StoredEndpoint:
    """An endpoint row; ``sealed_secrets`` is the encrypted blob."""

    id: str
    account_id: str
    mode: KeyMode
    api_key_id: str | None
    url: str
    description: str | None
    event_types: tuple[str, ...] | None
    enabled: bool
    disabled_reason: str | None
    sealed_secrets: bytes
    plain_signature: bool
    failing_since: datetime | None
    # Where the event log stood when it was made: it receives the events that follow.
    log_mark: LogMark
    created_at: datetime
    updated_at: datetime
    # The payloads' shape and signature (services/webhook_formats.py): "standard" or a
    # dialect's.
    format: str = "standard"

    def wants(self, event_type: str) -> bool:
        """Whether the endpoint subscribed to events of ``event_type`` (all, by default)."""
        return self.event_types is None or event_type in self.event_types


def _endpoint(row: Any) -> StoredEndpoint:
    return StoredEndpoint(
        id=row.id,
        account_id=row.account_id,
        mode=KeyMode(row.mode),
        api_key_id=row.api_key_id,
        url=row.url,
        description=row.description,
        event_types=tuple(row.event_types) if row.event_types is not None else None,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        sealed_secrets=bytes(row.secrets),
        plain_signature=row.plain_signature,
        failing_since=row.failing_since,
        log_mark=parse_mark(row.log_mark),
        created_at=row.created_at,
        updated_at=row.updated_at,
        format=row.format,
    )


def _values(endpoint: StoredEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "account_id": endpoint.account_id,
        "mode": endpoint.mode.value,
        "api_key_id": endpoint.api_key_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types) if endpoint.event_types is not None else None,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "secrets": endpoint.sealed_secrets,
        "plain_signature": endpoint.plain_signature,
        "failing_since": endpoint.failing_since,
        "log_mark": str(endpoint.log_mark),
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "format": endpoint.format,
    }


async def insert_endpoint(conn: AsyncConnection, endpoint: StoredEndpoint) -> None:
    """Store a new endpoint."""
    await conn.execute(webhook_endpoints.insert().values(**_values(endpoint)))


async def save_endpoint(conn: AsyncConnection, endpoint: StoredEndpoint) -> None:
    """Write every field of an endpoint that exists."""
    values = _values(endpoint)
    for fixed in ("id", "account_id", "mode", "log_mark", "created_at"):
        del values[fixed]
    await conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint.id).values(**values)
    )


async def get_endpoint(
    conn: AsyncConnection, account_id: str, mode: KeyMode, endpoint_id: str
) -> StoredEndpoint | None:
    """The account's endpoint ``endpoint_id`` of ``mode``, if there is one."""
    row = (
        await conn.execute(
            select(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.account_id == account_id,
                webhook_endpoints.c.mode == mode.value,
            )
        )
    ).first()
    return _endpoint(row) if row else None


async def endpoint_by_id(conn: AsyncConnection, endpoint_id: str) -> StoredEndpoint | None:
    """The endpoint ``endpoint_id`` of whichever account (for the delivery engine only)."""
    row = (
        await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    ).first()
    return _endpoint(row) if row else None


async def list_endpoints(
    conn: AsyncConnection, account_id: str, mode: KeyMode
) -> list[StoredEndpoint]:
    """The account's endpoints of ``mode``, oldest first."""
    rows = await conn.execute(
        select(webhook_endpoints)
        .where(
            webhook_endpoints.c.account_id == account_id,
            webhook_endpoints.c.mode == mode.value,
        )
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return [_endpoint(row) for row in rows]


async def endpoints_by_id(
    conn: AsyncConnection, endpoint_ids: Sequence[str]
) -> dict[str, StoredEndpoint]:
    """These endpoints, by id (for the delivery engine only)."""
    if not endpoint_ids:
        return {}
    rows = await conn.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.id.in_(sorted(set(endpoint_ids))))
    )
    return {row.id: _endpoint(row) for row in rows}


async def any_enabled(conn: AsyncConnection) -> bool:
    """Whether any account has an enabled endpoint."""
    found = await conn.scalar(
        select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(True)).limit(1)
    )
    return found is not None


async def enabled_endpoints_of(
    conn: AsyncConnection, account_ids: Sequence[str]
) -> list[StoredEndpoint]:
    """Every enabled endpoint of these accounts, whatever its mode."""
    if not account_ids:
        return []
    rows = await conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.account_id.in_(sorted(set(account_ids))),
            webhook_endpoints.c.enabled.is_(True),
        )
    )
    return [_endpoint(row) for row in rows]


async def delete_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    """Remove an endpoint with its deliveries and their attempts."""
    deliveries = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.endpoint_id == endpoint_id
    )
    await conn.execute(
        delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(deliveries))
    )
    await conn.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    )
    await conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))


_WORKS_AGAIN = (
    update(webhook_endpoints)
    .where(
        webhook_endpoints.c.id == bindparam("b_id"),
        webhook_endpoints.c.failing_since.is_not(None),
    )
    .values(failing_since=None)
)


def stage_working(conn: AsyncConnection, endpoint_ids: Sequence[str]) -> None:
    """Stage the end of these endpoints' runs of failures (a delivery went through)."""
    staged(conn).add(_WORKS_AGAIN, [{"b_id": endpoint_id} for endpoint_id in endpoint_ids])


async def note_failures(
    conn: AsyncConnection, endpoint_ids: Sequence[str], at: datetime
) -> dict[str, datetime]:
    """Start these endpoints' runs of failures where none runs; since when each has failed."""
    if not endpoint_ids:
        return {}
    chosen = webhook_endpoints.c.id.in_(sorted(endpoint_ids))
    await conn.execute(
        update(webhook_endpoints)
        .where(chosen, webhook_endpoints.c.failing_since.is_(None))
        .values(failing_since=at)
    )
    rows = await conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.failing_since).where(chosen)
    )
    return {row.id: row.failing_since for row in rows if row.failing_since is not None}


async def disable_endpoint(
    conn: AsyncConnection, endpoint_id: str, reason: str, at: datetime
) -> bool:
    """Disable an enabled endpoint; ``True`` if this call disabled it."""
    result = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=at)
    )
    return bool(result.rowcount)
