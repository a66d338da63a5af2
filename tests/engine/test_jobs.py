"""Claiming jobs with leases, writing their outcomes, and statuses that never move backward."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from chatgate.domain.status import Status, replaced_by
from chatgate.engine.clock import system_clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import Outcome, Worker, finish
from chatgate.services.delivery import apply_status
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job
from chatgate.storage.tables import jobs
from chatgate.storage.types import utcnow
from tests.engine.conftest import store_message
from tests.support import until


async def test_a_dead_workers_jobs_are_taken_over_after_the_lease(database: Database) -> None:
    now = utcnow()
    async with database.write() as conn:
        await job_store.enqueue(
            conn, [job_store.job_row("noop", now, payload={"n": i}) for i in range(3)]
        )
    lease = timedelta(seconds=30)
    async with database.write() as conn:
        first = await job_store.claim_due_jobs(conn, "dead-worker", now=now, lease=lease, limit=10)
    assert len(first) == 3
    assert all(job.attempts == 1 for job in first)
    async with database.write() as conn:
        assert (
            await job_store.claim_due_jobs(
                conn, "other", now=now + timedelta(seconds=29), lease=lease, limit=10
            )
            == []
        )
    async with database.write() as conn:
        taken = await job_store.claim_due_jobs(
            conn, "other", now=now + timedelta(seconds=31), lease=lease, limit=10
        )
    assert sorted(job.id for job in taken) == sorted(job.id for job in first)
    assert all(job.attempts == 2 for job in taken)
    async with database.write() as conn:
        await job_store.finish_jobs(conn, [job.id for job in taken])
        assert await job_store.next_due_at(conn) is None


async def test_future_jobs_wait_for_their_time(database: Database) -> None:
    now = utcnow()
    async with database.write() as conn:
        await job_store.enqueue(conn, [job_store.job_row("later", now + timedelta(seconds=60))])
        assert (
            await job_store.claim_due_jobs(conn, "w", now=now, lease=timedelta(seconds=5), limit=5)
            == []
        )
        due = await job_store.next_due_at(conn)
    assert due is not None
    assert abs((due - (now + timedelta(seconds=60))).total_seconds()) < 0.001


async def test_a_late_receipt_is_recorded_without_regressing(database: Database) -> None:
    message = await store_message(database, Status.SENT, utcnow())
    async with database.write() as conn:
        await apply_status(conn, message, Status.READ, None, utcnow())
        await apply_status(conn, message, Status.DELIVERED, None, utcnow())  # arrives late
    async with database.read() as conn:
        stored = await message_store.get_message_by_id(conn, message.id)
        events = await message_store.list_events(conn, message.id)
    assert stored is not None
    assert stored.status is Status.READ
    assert [event.status for event in events] == [Status.SENT, Status.READ, Status.DELIVERED]
    assert [event.seq for event in events] == [1, 2, 3]


async def test_a_slow_kind_does_not_hold_back_the_rest_of_its_batch(database: Database) -> None:
    release = asyncio.Event()

    async def slow(batch: Sequence[Job]) -> Sequence[Outcome]:
        await release.wait()
        return [finish(job) for job in batch]

    async def fast(batch: Sequence[Job]) -> Sequence[Outcome]:
        return [finish(job) for job in batch]

    now = system_clock()
    async with database.write() as conn:
        await job_store.enqueue(
            conn, [job_store.job_row("slow", now), job_store.job_row("fast", now)]
        )
    worker = Worker(
        database,
        {"slow": slow, "fast": fast},
        LocalWakeup(),
        batch_size=10,
        lease_seconds=30,
        poll_seconds=0.05,
    )
    batch = asyncio.create_task(worker.run_once())

    async def kinds_left() -> list[str]:
        async with database.read() as conn:
            return list((await conn.execute(select(jobs.c.kind))).scalars())

    async def only_slow_left() -> bool:
        return await kinds_left() == ["slow"]

    await until(only_slow_left, limit=5)
    assert not batch.done()
    release.set()
    assert await batch == 2
    assert await kinds_left() == []


async def test_several_statuses_of_one_message_recorded_together_keep_their_order(
    database: Database,
) -> None:
    now = utcnow()
    message = await store_message(database, Status.SENT, now)
    records = [
        message_store.StatusRecord(
            message.id,
            message.account_id,
            status,
            None,
            now + timedelta(seconds=offset),
            replaces=replaced_by(status),
        )
        for status, offset in ((Status.READ, 2), (Status.DELIVERED, 1))
    ]
    async with database.write() as conn:
        await message_store.record_statuses(conn, records)
    async with database.read() as conn:
        events = await message_store.list_events(conn, message.id)
        stored = await message_store.get_message_by_id(conn, message.id)
    assert [(event.seq, event.status) for event in events] == [
        (1, Status.SENT),
        (2, Status.DELIVERED),
        (3, Status.READ),
    ]
    assert stored is not None
    assert stored.status is Status.READ
