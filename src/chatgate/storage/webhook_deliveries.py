"""The webhook delivery queue: one row per (event, endpoint), leased while it is being sent.

A delivery is ``pending`` until an attempt succeeds (``delivered``) or the retry schedule
runs out (``failed``); it is claimed like a job (``locked_by``, ``locked_until``), and only
the holder of its lease may write its outcome. Deliveries of a disabled endpoint stay
pending and are not claimed until it is enabled again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.notify import notify_at_commit
from chatgate.storage.staged import staged
from chatgate.storage.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from chatgate.storage.upsert import insert_or_ignore_statement

# The NOTIFY channel that wakes webhook senders on PostgreSQL (delivered at commit).
WEBHOOKS_CHANNEL = "chatgate_webhooks"

_TIME = webhook_deliveries.c.next_attempt_at.type

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one endpoint."""

    id: str
    account_id: str
    endpoint_id: str
    event_id: str | None
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


_DELIVERY_FIELDS = tuple(Delivery.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a delivery, as the receiver answered it."""

    delivery_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


def delivery_of(values: Mapping[Any, Any]) -> Delivery:
    """A delivery from its column values (a stored row's, or :func:`delivery_row`'s)."""
    return Delivery(**{name: values[name] for name in _DELIVERY_FIELDS})


def delivery_row(
    delivery_id: str,
    account_id: str,
    endpoint_id: str,
    event_id: str | None,
    event_type: str,
    payload: str,
    now: datetime,
) -> dict[str, Any]:
    """The column values of a new delivery, due at once."""
    return {
        "id": delivery_id,
        "account_id": account_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "locked_by": None,
        "locked_until": None,
        "last_status_code": None,
        "last_error": None,
        "created_at": now,
        "finished_at": None,
    }


async def add_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue deliveries; one that exists already for its (event, endpoint) is left alone."""
    if rows:
        statement = insert_or_ignore_statement(conn.dialect.name, webhook_deliveries)
        await conn.execute(statement, list(rows))
        await notify_at_commit(conn, WEBHOOKS_CHANNEL)


_DUE = (
    select(webhook_deliveries.c.id, webhook_deliveries.c.endpoint_id)
    .where(
        webhook_deliveries.c.status == PENDING,
        webhook_deliveries.c.next_attempt_at <= bindparam("b_now", type_=_TIME),
        or_(
            webhook_deliveries.c.locked_until.is_(None),
            webhook_deliveries.c.locked_until < bindparam("b_now", type_=_TIME),
        ),
        webhook_deliveries.c.endpoint_id.in_(
            select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(True))
        ),
        webhook_deliveries.c.endpoint_id.not_in(bindparam("b_full", expanding=True)),
    )
    .order_by(webhook_deliveries.c.next_attempt_at)
    .limit(bindparam("b_scan", type_=Integer()))
    .with_for_update(skip_locked=True, of=webhook_deliveries)
)
_LEASE = (
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(locked_by=bindparam("b_worker"), locked_until=bindparam("b_until", type_=_TIME))
    .returning(*webhook_deliveries.c)
)


async def claim_due(
    conn: AsyncConnection,
    worker_id: str,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_endpoint: int,
    busy: Mapping[str, int] | None = None,
) -> list[Delivery]:
    """Lease up to ``limit`` due deliveries of enabled endpoints, oldest due first, and no
    more for one endpoint than its room: ``per_endpoint`` less its ``busy`` deliveries.

    Two fixed statements (their compiled forms are reused): the due deliveries, locked
    (``SKIP LOCKED`` on PostgreSQL), then the lease of those that fit.
    """
    busy = busy or {}
    # A name no endpoint has: an empty NOT IN list is not written alike by every dialect.
    full = [e for e, n in busy.items() if n >= per_endpoint] or ["-"]
    due = await conn.execute(_DUE, {"b_now": now, "b_full": full, "b_scan": limit * 2})
    taken: dict[str, int] = {}
    chosen: list[str] = []
    for delivery_id, endpoint_id in due:
        if len(chosen) == limit:
            break
        if busy.get(endpoint_id, 0) + taken.get(endpoint_id, 0) < per_endpoint:
            taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
            chosen.append(delivery_id)
    if not chosen:
        return []
    rows = await conn.execute(
        _LEASE, {"b_ids": chosen, "b_worker": worker_id, "b_until": now + lease}
    )
    claimed = [delivery_of(row._mapping) for row in rows]
    claimed.sort(key=lambda d: (d.next_attempt_at or now, d.id))
    return claimed


async def release(conn: AsyncConnection, worker_id: str, delivery_ids: Sequence[str]) -> None:
    """Hand back deliveries this worker holds but will not send now."""
    if delivery_ids:
        await conn.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id.in_(list(delivery_ids)),
                webhook_deliveries.c.locked_by == worker_id,
            )
            .values(locked_by=None, locked_until=None)
        )


async def next_due_at(conn: AsyncConnection) -> datetime | None:
    """When the next pending delivery becomes due."""
    due: datetime | None = await conn.scalar(
        select(func.min(webhook_deliveries.c.next_attempt_at)).where(
            webhook_deliveries.c.status == PENDING
        )
    )
    return due


# Built once: the sender writes one of these per attempt.
_RECORD_OUTCOME = (
    update(webhook_deliveries)
    .where(
        webhook_deliveries.c.id == bindparam("b_id"),
        webhook_deliveries.c.locked_by == bindparam("b_worker"),
    )
    .values(
        status=bindparam("b_status"),
        attempts=webhook_deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next", type_=_TIME),
        locked_by=None,
        locked_until=None,
        last_status_code=bindparam("b_code", type_=Integer()),
        last_error=bindparam("b_error", type_=Text()),
        finished_at=bindparam("b_finished", type_=_TIME),
    )
)
_INSERT_ATTEMPTS = insert(webhook_attempts)


async def lock_held(conn: AsyncConnection, worker_id: str, delivery_ids: Sequence[str]) -> set[str]:
    """Which of these deliveries ``worker_id`` still holds, locked for the rest of the
    transaction (in id order, so that two writers never deadlock)."""
    if not delivery_ids:
        return set()
    rows = await conn.execute(
        select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.id.in_(sorted(delivery_ids)),
            webhook_deliveries.c.locked_by == worker_id,
        )
        .order_by(webhook_deliveries.c.id)
        .with_for_update()
    )
    return set(rows.scalars())


def stage_outcomes(
    conn: AsyncConnection,
    worker_id: str,
    outcomes: Sequence[tuple[Delivery, Attempt, str, datetime | None]],
) -> None:
    """Stage each delivery's new state and its attempt (deliveries held and locked by
    ``worker_id``: see :func:`lock_held`), as one statement each for all of them."""
    writes = staged(conn)
    writes.add(
        _RECORD_OUTCOME,
        [
            {
                "b_id": delivery.id,
                "b_worker": worker_id,
                "b_status": status,
                "b_next": due,
                "b_code": attempt.status_code,
                "b_error": attempt.error,
                "b_finished": None if status == PENDING else attempt.attempted_at,
            }
            for delivery, attempt, status, due in outcomes
        ],
    )
    writes.add(
        _INSERT_ATTEMPTS,
        [
            {
                "delivery_id": attempt.delivery_id,
                "endpoint_id": delivery.endpoint_id,
                "attempted_at": attempt.attempted_at,
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "response_excerpt": attempt.response_excerpt,
                "error": attempt.error,
            }
            for delivery, attempt, _, _ in outcomes
        ],
    )


async def get_delivery(conn: AsyncConnection, account_id: str, delivery_id: str) -> Delivery | None:
    """The account's delivery ``delivery_id``."""
    row = (
        await conn.execute(
            select(webhook_deliveries).where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.account_id == account_id,
            )
        )
    ).first()
    return delivery_of(row._mapping) if row else None


async def list_deliveries(
    conn: AsyncConnection, endpoint_id: str, *, before_id: str | None, limit: int
) -> list[Delivery]:
    """An endpoint's deliveries, newest first."""
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(webhook_deliveries.c.id < before_id)
    return [delivery_of(row._mapping) for row in await conn.execute(query)]


async def attempts_of(
    conn: AsyncConnection, delivery_ids: Sequence[str]
) -> dict[str, list[Attempt]]:
    """The attempts of these deliveries, oldest first, by delivery."""
    found: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    rows = await conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(webhook_attempts.c.id)
    )
    for row in rows:
        found[row.delivery_id].append(
            Attempt(
                delivery_id=row.delivery_id,
                attempted_at=row.attempted_at,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                response_excerpt=row.response_excerpt,
                error=row.error,
            )
        )
    return found


def _requeued(now: datetime) -> dict[str, Any]:
    # Due now, with the whole retry schedule ahead, under the same id.
    return {"status": PENDING, "attempts": 0, "next_attempt_at": now, "finished_at": None}


async def requeue(conn: AsyncConnection, delivery_ids: Sequence[str], now: datetime) -> int:
    """Make deliveries due again now, with the whole retry schedule ahead of them (a
    replay), keeping their ids; returns how many."""
    if not delivery_ids:
        return 0
    result = await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(list(delivery_ids)))
        .values(**_requeued(now))
    )
    await notify_at_commit(conn, WEBHOOKS_CHANNEL)
    return int(result.rowcount or 0)


async def requeue_undelivered_since(
    conn: AsyncConnection, endpoint_id: str, since: datetime, now: datetime
) -> int:
    """Make due now, as :func:`requeue` does, every delivery to the endpoint made at or after
    ``since`` that has not been delivered: failed, or pending in its retry schedule. One a
    sender holds is left alone: it is being sent, and sending it again beside that would
    send it twice. Returns how many.

    One statement, so that no claim comes in between: on PostgreSQL a delivery claimed
    meanwhile is seen with its lease and left alone, and one requeued here is claimed once.
    """
    result = await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status != DELIVERED,
            webhook_deliveries.c.created_at >= since,
            or_(
                webhook_deliveries.c.locked_until.is_(None),
                webhook_deliveries.c.locked_until < now,
            ),
        )
        .values(**_requeued(now))
    )
    await notify_at_commit(conn, WEBHOOKS_CHANNEL)
    return int(result.rowcount or 0)
