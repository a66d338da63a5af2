"""Jobs of a held connection: claimed only by the worker that holds it, on either store."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from chatgate.config import Settings
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import FakeClock
from chatgate.services.job_kinds import SEND_JOB, send_job_row
from chatgate.storage import jobs as job_store
from chatgate.storage import session_holds
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs
from chatgate.storage.types import utcnow
from tests.engine.test_session_delivery import _jobs, _worker
from tests.services.session_world import session_world

LEASE = timedelta(seconds=30)
HOLD = timedelta(seconds=30)


async def _hold(database: Database, holder: str, connection_id: str, now: datetime) -> None:
    async with database.write() as conn:
        held = await session_holds.hold(conn, holder, [connection_id], now=now, until=now + HOLD)
    assert held == {connection_id}


async def _claim(
    database: Database, worker: str, now: datetime, held: frozenset[str] = frozenset()
) -> list[int]:
    async with database.write() as conn:
        claimed = await job_store.claim_due_jobs(
            conn, worker, now=now, lease=LEASE, limit=10, held=held
        )
    return [job.id for job in claimed]


async def _enqueue(database: Database, rows: list[dict[str, object]]) -> None:
    async with database.write() as conn:
        await job_store.enqueue(conn, rows)


async def test_a_held_connections_job_goes_to_its_holder_only(database: Database) -> None:
    now = utcnow()
    session = new_id("ses")
    await _hold(database, "holder", session, now)
    await _enqueue(
        database,
        [
            job_store.job_row(SEND_JOB, now, held_by_connection=session),
            job_store.job_row(SEND_JOB, now),  # any worker's
        ],
    )
    # Another worker takes the free job, and neither claims nor waits for the held one.
    other = await _claim(database, "other", now, frozenset({new_id("ses")}))
    assert len(other) == 1
    assert await _claim(database, "other", now) == []
    async with database.read() as conn:
        assert await job_store.next_due_at(conn) is not None
        assert await job_store.next_due_at(conn, frozenset({new_id("ses")})) is not None
    async with database.write() as conn:
        await job_store.finish_jobs(conn, other)
        assert await job_store.next_due_at(conn) is None
        assert await job_store.next_due_at(conn, frozenset({session})) == now
    held = await _claim(database, "holder", now, frozenset({session}))
    assert len(held) == 1
    assert held != other


async def test_a_held_job_follows_its_connection_to_the_next_holder(database: Database) -> None:
    now = utcnow()
    session = new_id("ses")
    await _hold(database, "dead", session, now)
    await _enqueue(database, [job_store.job_row(SEND_JOB, now, held_by_connection=session)])
    assert await _claim(database, "dead", now, frozenset({session})) != []
    # The holder dies with the job in hand: its job lease and its hold run out; the worker
    # that takes the connection over takes the job, and nobody else does.
    later = now + max(LEASE, HOLD) + timedelta(seconds=1)
    assert await _claim(database, "bystander", later) == []
    await _hold(database, "heir", session, later)
    assert await _claim(database, "bystander", later) == []
    assert len(await _claim(database, "heir", later, frozenset({session}))) == 1


async def test_a_job_of_a_connection_nobody_holds_is_anyones(database: Database) -> None:
    # (A stopped session holds nothing: its sends must still reach their give-up age.)
    now = utcnow()
    await _enqueue(database, [job_store.job_row(SEND_JOB, now, held_by_connection=new_id("ses"))])
    assert len(await _claim(database, "anyone", now)) == 1


def test_a_live_send_through_a_held_channel_names_its_connection() -> None:
    def message(channel: str, connection_id: str | None) -> Message:
        return Message.new(
            account_id=new_id("acct"),
            mode=KeyMode.LIVE,
            direction="outbound",
            channel=channel,
            sender=None,
            recipient="+14155550123",
            content={"type": "text", "text": "hi"},
            status=Status.QUEUED,
            at=utcnow(),
            connection_id=connection_id,
        )

    session, sms = new_id("ses"), new_id("ch")
    assert send_job_row(message("whatsapp_web", session))["held_by_connection"] == session
    assert send_job_row(message("sms", sms))["held_by_connection"] is None
    # A sandbox message has no connection: it is nobody's to hold.
    assert send_job_row(message("whatsapp_web", None))["held_by_connection"] is None


async def test_a_send_that_waits_for_a_held_session_waits_for_its_holder(
    settings: Settings, database: Database
) -> None:
    world = await session_world(settings, database)
    clock = FakeClock()
    session = await world.session("desk", clock(), messages_per_minute=600)
    [message] = await world.accept(clock(), "+1555")
    assert isinstance(message, Message)
    # As a fallback step's send is written: no connection is known until it is sent.
    async with database.write() as conn:
        await conn.execute(
            update(jobs).where(jobs.c.message_id == message.id).values(held_by_connection=None)
        )
    # Made by a worker that does not run the session: it waits for the one that does.
    assert await _worker(world, clock, timedelta(hours=1), paced=False).run_once() == 1
    (job,) = (await _jobs(world, [message.id])).values()
    assert (job.held_by_connection, job.attempts) == (session.id, 0)
