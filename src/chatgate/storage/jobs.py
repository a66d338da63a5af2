"""The jobs table: the durable queue that the worker claims from.

A job is claimed by stamping it with a worker id and a lease end; a job whose lease has run
out is claimable again, which is how the work of a dead worker is taken over.

A job that names a held connection (``held_by_connection``: a send through a session only
one worker keeps open) is claimed only by a worker that holds that connection, passed in as
``held``; while nobody holds the connection at all (it is stopped), any worker may claim it,
so that its give-up age still ends it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.notify import notify_at_commit
from chatgate.storage.staged import staged
from chatgate.storage.tables import jobs, session_holds

# The NOTIFY channel that wakes workers on PostgreSQL (engine/wakeup.py listens on it).
JOBS_CHANNEL = "chatgate_jobs"
_INSERT_JOBS = insert(jobs)


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of work: send a message, apply a receipt, ..."""

    id: int
    kind: str
    message_id: str | None
    payload: dict[str, Any] | None
    run_at: datetime
    attempts: int


def job_row(
    kind: str,
    run_at: datetime,
    *,
    message_id: str | None = None,
    payload: dict[str, Any] | None = None,
    held_by_connection: str | None = None,
) -> dict[str, Any]:
    """The column values of a new job (``held_by_connection``: only that connection's holder
    may claim it)."""
    return {
        "kind": kind,
        "message_id": message_id,
        "payload": payload,
        "held_by_connection": held_by_connection,
        "run_at": run_at,
        "attempts": 0,
        "locked_by": None,
        "locked_until": None,
        "created_at": run_at,
    }


async def enqueue(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new jobs (rows from :func:`job_row`) in the caller's transaction.

    On PostgreSQL this also notifies every listening worker, at commit and only then.
    """
    if not rows:
        return
    await conn.execute(_INSERT_JOBS, list(rows))
    await notify_at_commit(conn, JOBS_CHANNEL)


async def stage_jobs(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Like :func:`enqueue`, but the rows are staged: inserted when the transaction commits."""
    if not rows:
        return
    staged(conn).add(_INSERT_JOBS, rows)
    await notify_at_commit(conn, JOBS_CHANNEL)


def _claimable_by(held: Collection[str]) -> ColumnElement[bool]:
    """Jobs a worker holding the connections ``held`` may claim: those of no held
    connection, those of a connection it holds, and those of a connection nobody holds."""
    unheld = ~exists().where(session_holds.c.connection_id == jobs.c.held_by_connection)
    mine = [jobs.c.held_by_connection.in_(sorted(held))] if held else []
    return or_(jobs.c.held_by_connection.is_(None), *mine, unheld)


async def claim_due_jobs(
    conn: AsyncConnection,
    worker_id: str,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    held: Collection[str] = frozenset(),
) -> list[Job]:
    """Lease up to ``limit`` due jobs to ``worker_id``, oldest first (of the jobs of held
    connections, only those of the connections in ``held``, which ``worker_id`` holds).

    On PostgreSQL, ``SKIP LOCKED`` lets any number of workers claim at once without waiting
    on each other; on SQLite the caller's ``BEGIN IMMEDIATE`` makes it the only claimer.
    """
    due = (
        select(jobs.c.id)
        .where(
            jobs.c.run_at <= now,
            or_(jobs.c.locked_until.is_(None), jobs.c.locked_until < now),
            _claimable_by(held),
        )
        .order_by(jobs.c.run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(due.scalar_subquery()))
        .values(locked_by=worker_id, locked_until=now + lease, attempts=jobs.c.attempts + 1)
        .returning(
            jobs.c.id,
            jobs.c.kind,
            jobs.c.message_id,
            jobs.c.payload,
            jobs.c.run_at,
            jobs.c.attempts,
        )
    )
    claimed = [Job(**row._mapping) for row in result]
    claimed.sort(key=lambda job: (job.run_at, job.id))
    return claimed


async def finish_jobs(conn: AsyncConnection, job_ids: Sequence[int]) -> None:
    """Remove finished jobs so that the table holds only pending work."""
    if job_ids:
        await conn.execute(delete(jobs).where(jobs.c.id.in_(list(job_ids))))


async def remove_unclaimed(conn: AsyncConnection, message_id: str, kind: str) -> bool:
    """Delete a message's job of ``kind`` unless a worker holds it; ``True`` if deleted.

    On PostgreSQL a claim in progress holds the row: this waits for it, then sees it
    claimed and deletes nothing; a claim that comes second skips the deleted row.
    """
    result = await conn.execute(
        delete(jobs).where(
            jobs.c.message_id == message_id, jobs.c.kind == kind, jobs.c.locked_by.is_(None)
        )
    )
    return bool(result.rowcount)


async def reschedule_job(
    conn: AsyncConnection,
    job_id: int,
    run_at: datetime,
    *,
    count_attempt: bool = True,
    held_by_connection: str | None = None,
) -> None:
    """Release a job to run again at ``run_at``: a retry, or (not counted) a paced wait;
    from now on only for the holder of ``held_by_connection`` when one is named."""
    values: dict[str, Any] = {"run_at": run_at, "locked_by": None, "locked_until": None}
    if not count_attempt:
        values["attempts"] = jobs.c.attempts - 1
    if held_by_connection is not None:
        values["held_by_connection"] = held_by_connection
    await conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


async def extend_leases(
    conn: AsyncConnection, worker_id: str, job_ids: Sequence[int], until: datetime
) -> set[int]:
    """Push the lease end of the jobs this worker still holds; returns their ids.

    Run first in the transaction that writes a batch's outcomes, it also locks those rows,
    so that a job whose lease ran out and was taken over is never written twice.
    """
    if not job_ids:
        return set()
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(sorted(job_ids)), jobs.c.locked_by == worker_id)
        .values(locked_until=until)
        .returning(jobs.c.id)
    )
    return set(result.scalars())


async def release_jobs(conn: AsyncConnection, worker_id: str, job_ids: Sequence[int]) -> None:
    """Hand back jobs this worker holds but will not finish (shutdown)."""
    if job_ids:
        await conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(list(job_ids)), jobs.c.locked_by == worker_id)
            .values(locked_by=None, locked_until=None, attempts=jobs.c.attempts - 1)
        )


async def next_due_at(
    conn: AsyncConnection, held: Collection[str] = frozenset()
) -> datetime | None:
    """When the next job a worker holding ``held`` may claim becomes claimable (a pending
    run time or a lease end): another's held sends must not keep it polling."""
    claimable = _claimable_by(held)
    pending = await conn.scalar(
        select(func.min(jobs.c.run_at)).where(jobs.c.locked_until.is_(None), claimable)
    )
    lease_end = await conn.scalar(
        select(func.min(jobs.c.locked_until)).where(jobs.c.locked_until.is_not(None), claimable)
    )
    candidates: list[datetime] = [value for value in (pending, lease_end) if value is not None]
    return min(candidates) if candidates else None
