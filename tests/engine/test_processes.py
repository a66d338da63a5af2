"""Many processes on one PostgreSQL: exactly-once dispatch, and nothing lost to kill -9."""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, and_, func, select

from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.status import Status, moves_forward
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.billing import Billing
from chatgate.services.job_kinds import SEND_JOB
from chatgate.services.keys import KeySpec, create_key
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs, message_events, messages
from chatgate.storage.types import utcnow
from tests.processes import chatgate_env, free_port, processes
from tests.support import channel_service, text_message, until

pytestmark = pytest.mark.slow

WORKER_SETTINGS: dict[str, object] = {
    "sandbox_pacing": False,
    "sandbox_delivered_after": 0.05,
    "sandbox_read_after": 0.1,
    "worker_lease_seconds": 2,
    "worker_poll_seconds": 0.5,
}


# How long the simulated platform takes to answer a send: mostly at once, a few slowly.
LATENCIES = (0.01, 0.01, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0)


async def _count(database: Database, account_id: str, *statuses: Status) -> int:
    async with database.read() as conn:
        value = await conn.scalar(
            select(func.count())
            .select_from(messages)
            .where(
                messages.c.account_id == account_id,
                messages.c.status.in_([s.value for s in statuses]),
            )
        )
    return int(value or 0)


async def _wait_for(
    database: Database, account_id: str, total: int, *statuses: Status, limit: float
) -> None:
    async def reached() -> bool:
        return await _count(database, account_id, *statuses) >= total

    await until(reached, limit=limit)


def _platform_log(path: Path) -> Counter[str]:
    return Counter(line.split()[0] for line in path.read_text().splitlines() if line)


async def test_two_workers_dispatch_each_message_exactly_once(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=fresh_postgres_url)
    database = Database(settings)
    record = tmp_path / "platform.log"
    total = 5000
    try:
        account = await create_account(database, "exactly-once")
        async with database.write() as conn:
            key, _ = await create_key(
                conn, Actor(account.id), KeySpec("k", KeyMode.TEST, frozenset({"*"}))
            )
        sandbox = SandboxAdapter(0, 0)
        for start in range(0, total, 1000):
            commands = [
                SendCommand(ChannelType.SMS, f"+1415555{n:04d}", {"type": "text", "text": f"n{n}"})
                for n in range(start, start + 1000)
            ]
            async with database.write() as conn:
                await accept_messages(
                    conn,
                    key,
                    commands,
                    sandbox=sandbox,
                    channels=channel_service(),
                    billing=Billing(settings),
                    now=utcnow(),
                )
        env = chatgate_env(
            fresh_postgres_url, sandbox_record_path=record, log_level="info", **WORKER_SETTINGS
        )
        with processes(tmp_path) as running:
            workers = [running.start(["worker"], env, f"worker{i}") for i in range(2)]
            await _wait_for(database, account.id, total, Status.READ, limit=240)
            assert [running.stop(w) for w in workers] == [0, 0]
        async with database.read() as conn:
            sent_events = (
                await conn.execute(
                    select(message_events.c.message_id, func.count())
                    .where(message_events.c.status == Status.SENT.value)
                    .group_by(message_events.c.message_id)
                )
            ).all()
            leftover = await conn.scalar(select(func.count()).select_from(jobs))
    finally:
        await database.dispose()
    assert len(sent_events) == total
    assert {count for _, count in sent_events} == {1}
    sends = _platform_log(record)
    assert len(sends) == total
    assert set(sends.values()) == {1}
    assert leftover == 0
    # Both workers took part.
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all("worker.started" in log for log in logs)


def check_history(events: list[Any], stored: Status) -> str | None:
    """What is wrong with one message's history, or ``None`` if it is consistent: numbered
    without gaps, from ``queued`` to a final state, and leading to the ``stored`` status
    (a status is never written without its event, nor an event without its status)."""
    seqs = [event.seq for event in events]
    if seqs != list(range(1, len(events) + 1)):
        return f"event sequence has gaps or repeats: {seqs}"
    statuses = [Status(event.status) for event in events if event.status]
    if not statuses or statuses[0] is not Status.QUEUED:
        return f"does not start queued: {statuses}"
    current = statuses[0]
    for status in statuses[1:]:
        if moves_forward(current, status):
            current = status
    if current not in (Status.READ, Status.FAILED):
        return f"never reached a final state: {statuses}"
    if current is not stored:
        return f"its events lead to {current.value}, but it is stored as {stored.value}"
    return None


@dataclass(frozen=True)
class KillSnapshot:
    """A killed worker's work as the store and the platform had it at the kill."""

    # Send jobs the worker held (claimed, outcome not written).
    held: int
    # Of their messages, those the platform had accepted (each will be sent again).
    in_flight: frozenset[str]
    # How often the platform had accepted each of those messages by then.
    sent_before: Counter[str]


def _held_by(pid: int) -> ColumnElement[bool]:
    return and_(jobs.c.locked_by.like(f"%:{pid}:%"), jobs.c.kind == SEND_JOB)


async def _until_holding_sends(database: Database, pid: int, limit: float) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while asyncio.get_running_loop().time() < deadline:
        async with database.read() as conn:
            if await conn.scalar(select(func.count()).select_from(jobs).where(_held_by(pid))):
                return
        await asyncio.sleep(0.005)


async def _kill_snapshot(database: Database, pid: int, record: Path) -> KillSnapshot:
    platform = _platform_log(record)
    async with database.read() as conn:
        held = [
            row.message_id
            for row in await conn.execute(select(jobs.c.message_id).where(_held_by(pid)))
        ]
    in_flight = frozenset(mid for mid in held if platform[mid] > 0)
    return KillSnapshot(len(held), in_flight, Counter({mid: platform[mid] for mid in in_flight}))


async def test_kill_minus_nine_loses_nothing(fresh_postgres_url: str, tmp_path: Path) -> None:
    """5,000 messages through the API while workers are killed at random and restarted."""
    settings = Settings(database_url=fresh_postgres_url)
    database = Database(settings)
    record = tmp_path / "platform.log"
    rng = random.Random(2026)
    port = free_port()
    kills: list[KillSnapshot] = []
    accepted: list[str] = []
    try:
        account = await create_account(database, "chaos")
        async with database.write() as conn:
            _, secret = await create_key(
                conn,
                Actor(account.id),
                KeySpec("k", KeyMode.TEST, frozenset({"*"}), rate_limit=100_000),
            )
        env = chatgate_env(fresh_postgres_url, sandbox_record_path=record, **WORKER_SETTINGS)
        with processes(tmp_path) as running:
            running.start(["serve", "--no-worker", "--no-migrate", "--port", str(port)], env, "api")
            workers = [running.start(["worker"], env, f"worker{i}") for i in range(2)]
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                await until(lambda: _ready(client), limit=30)

                async def send_all() -> None:
                    for batch in range(10):
                        # A platform answers some sends at once and others late: a send's
                        # outcome must not wait for the slowest of its batch.
                        items = [
                            {
                                "channel": "sms",
                                "to": f"+1415555{batch * 500 + i:04d}",
                                "content": {"type": "text", "text": "x"},
                                "metadata": {"sandbox": {"latency": rng.choice(LATENCIES)}},
                            }
                            for i in range(500)
                        ]
                        response = await client.post(
                            "/v1/messages/batch",
                            json={"messages": items},
                            headers={"Authorization": f"Bearer {secret}"},
                        )
                        assert response.status_code == 202, response.text
                        accepted.extend(r["message"]["id"] for r in response.json()["results"])
                        await asyncio.sleep(rng.uniform(0.05, 0.4))

                sender = asyncio.create_task(send_all())
                for kill in range(6):
                    await asyncio.sleep(rng.uniform(0.1, 0.6))
                    index = rng.randrange(len(workers))
                    victim = workers[index]
                    # A kill that finds the worker idle tests nothing: wait (a little) for
                    # it to hold sends, then kill it at some moment of their round trip.
                    await _until_holding_sends(database, victim.pid, limit=3.0)
                    await asyncio.sleep(rng.uniform(0.0, 0.5))
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    # Nobody sends the victim's jobs until their lease ends: what the
                    # platform has of them now, it had at the kill.
                    kills.append(await _kill_snapshot(database, victim.pid, record))
                    workers[index] = running.start(["worker"], env, f"worker{index}-{kill}")
                await sender
            await _wait_for(
                database, account.id, len(accepted), Status.READ, Status.FAILED, limit=300
            )
            for worker in workers:
                running.stop(worker)
        async with database.read() as conn:
            rows = (
                await conn.execute(
                    select(message_events)
                    .where(message_events.c.account_id == account.id)
                    .order_by(message_events.c.message_id, message_events.c.seq)
                )
            ).all()
            statuses = {
                row.id: Status(row.status)
                for row in await conn.execute(
                    select(messages.c.id, messages.c.status).where(
                        messages.c.account_id == account.id
                    )
                )
            }
    finally:
        await database.dispose()
    assert len(accepted) == 5000
    assert len(statuses) == 5000
    histories: dict[str, list[Any]] = {}
    for row in rows:
        histories.setdefault(row.message_id, []).append(row)
    assert set(histories) == set(accepted)
    problems = {
        mid: problem
        for mid, events in histories.items()
        if (problem := check_history(events, statuses[mid]))
    }
    assert problems == {}
    sends = _platform_log(record)
    assert set(sends) == set(accepted)  # every message reached the platform
    duplicated = {mid for mid, count in sends.items() if count > 1}
    explained: set[str] = set()
    print(f"\nchaos: {len(kills)} kills of a worker")
    for number, kill in enumerate(kills, 1):
        # Sent again after the kill, having reached the platform before it.
        again = {mid for mid in kill.in_flight if sends[mid] > kill.sent_before[mid]}
        explained |= again
        print(
            f"  kill {number}: jobs held {kill.held}, sends in flight (answered, not "
            f"written) {len(kill.in_flight)}, of which sent again {len(again)}"
        )
        assert len(again) <= len(kill.in_flight)
    duplicates = sum(sends[mid] - 1 for mid in duplicated)
    print(f"  duplicate platform sends in all: {duplicates} of {len(accepted)} messages")
    # Every duplicate is a send that was in flight at a kill: none comes from anywhere else
    # (two live workers sending one message, say).
    assert duplicated <= explained
    assert duplicates <= sum(len(kill.in_flight) for kill in kills)


async def test_sqlite_worker_of_its_own_takes_jobs_at_once(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """On SQLite an API process and a worker process of its own: the worker learns of each
    commit from the file's data version, not from its poll (here a minute long)."""
    path = tmp_path / "split.db"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite:///{path}"
    database = Database(Settings(database_url=database_url))
    port = free_port()
    try:
        account = await create_account(database, "split")
        async with database.write() as conn:
            _, secret = await create_key(
                conn, Actor(account.id), KeySpec("k", KeyMode.TEST, frozenset({"*"}))
            )
        env = chatgate_env(database_url, **{**WORKER_SETTINGS, "worker_poll_seconds": 60})
        with processes(tmp_path) as running:
            running.start(["serve", "--no-worker", "--no-migrate", "--port", str(port)], env, "api")
            running.start(["worker"], {**env, "CHATGATE_LOG_LEVEL": "info"}, "worker")
            worker_log = tmp_path / "worker.log"

            async def worker_started() -> bool:
                return worker_log.exists() and "worker.started" in worker_log.read_text()

            await until(worker_started, limit=30)
            headers = {"Authorization": f"Bearer {secret}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await until(lambda: _ready(client), limit=30)
                # Each message is sent once the started worker sits in its minute-long wait.
                for sent in (1, 2):
                    await asyncio.sleep(0.5)  # not a timing assert: lets the worker settle
                    response = await client.post(
                        "/v1/messages", json=text_message(), headers=headers
                    )
                    assert response.status_code == 202, response.text
                    await _wait_for(database, account.id, sent, Status.READ, limit=20)
    finally:
        await database.dispose()


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False
