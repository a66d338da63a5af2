"""Claiming jobs with leases, and statuses that never move backward."""

from __future__ import annotations

from datetime import timedelta

from chatgate.domain.status import Status
from chatgate.services.delivery import apply_status
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow
from tests.engine.conftest import store_message


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
