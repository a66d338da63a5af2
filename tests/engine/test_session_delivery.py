"""Delivering through a session on a fake clock: the session's pace, and waiting for a
session that is not connected without spending attempts, until the give-up age."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatgate.channels.device_driver import DriverEvent, IncomingMessage, Outgoing, Receipt
from chatgate.channels.device_hosts import device_host
from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import FakeClock
from chatgate.engine.pacing import Pacer
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import Worker
from chatgate.services.delivery import DeliveryHandlers, DeliveryPolicy
from chatgate.services.dispatch import ConnectionAdapters, adapter_resolver, pace_resolver
from chatgate.services.session_events import SessionEvents
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs
from tests.services.session_world import SessionWorld, session_world


class PhoneDriver:
    """A connected device that takes every send."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def start(self, device_state: str | None) -> None:
        return None

    async def events(self) -> AsyncIterator[DriverEvent]:
        return
        yield

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"3EB0{len(self.sent)}"

    async def download(self, media_id: str) -> bytes:
        return b""

    async def stop(self) -> None:
        return None

    async def logout(self) -> None:
        return None


@pytest.fixture
async def world(settings: Settings, database: Database) -> SessionWorld:
    """A new account with keys, on the current store (with no jobs of other tests)."""
    return await session_world(settings, database)


@pytest.fixture
async def devices() -> AsyncIterator[dict[str, PhoneDriver]]:
    """The devices connected in this process, by session id."""
    connected: dict[str, PhoneDriver] = {}
    device_host().set_lookup(connected.get)
    yield connected
    device_host().set_lookup(None)


def _worker(
    world: SessionWorld, clock: FakeClock, max_age: timedelta, *, paced: bool = True
) -> Worker:
    connections = ConnectionAdapters(world.database, world.channels)
    handlers = DeliveryHandlers(
        world.database,
        httpx.AsyncClient(),
        adapter_resolver(SandboxAdapter(0, 0), connections),
        DeliveryPolicy(retry=RetryPolicy(base=1.0, cap=60.0, max_attempts=3), max_age=max_age),
        pacer=Pacer(None),
        resolve_pace=pace_resolver(pace_sandbox=False) if paced else lambda _m, _a: None,
        clock=clock,
    )
    return Worker(
        world.database,
        handlers.handlers(),
        LocalWakeup(),
        batch_size=10,
        lease_seconds=30,
        poll_seconds=0.05,
        clock=clock,
    )


async def _jobs(world: SessionWorld, message_ids: list[str]) -> dict[str, Any]:
    async with world.database.read() as conn:
        found = await conn.execute(select(jobs).where(jobs.c.message_id.in_(message_ids)))
        return {job.message_id: job for job in found}


async def _message(world: SessionWorld, message_id: str) -> Message:
    async with world.database.read() as conn:
        found = await message_store.get_message_by_id(conn, message_id)
    assert found is not None
    return found


async def test_the_worker_keeps_the_sessions_pace(
    world: SessionWorld, devices: dict[str, PhoneDriver]
) -> None:
    clock = FakeClock()
    # 20 a minute: one send every three seconds from this session.
    session = await world.session("desk", clock(), messages_per_minute=20)
    devices[session.id] = phone = PhoneDriver()
    accepted = await world.accept(clock(), "+1555", "+1556")
    ids = [m.id for m in accepted if isinstance(m, Message)]
    worker = _worker(world, clock, timedelta(hours=1))

    assert await worker.run_once() == 2
    assert [o.to for o in phone.sent] == ["+1555"]
    waiting = (await _jobs(world, ids))[ids[1]]
    wait = (waiting.run_at - clock()).total_seconds()
    assert 2.0 < wait <= 3.1  # the rest of the session's three seconds
    assert waiting.attempts == 0  # a paced wait is no attempt

    # Another session of the account keeps a pace of its own.
    other = await world.session("shop", clock(), messages_per_minute=20)
    devices[other.id] = PhoneDriver()
    [elsewhere] = await world.accept(clock(), "+1557", sender="shop")
    assert await worker.run_once() == 1
    assert (await _message(world, elsewhere.id)).status is Status.SENT  # type: ignore[union-attr]


async def test_a_send_waits_for_its_session_without_spending_attempts(
    world: SessionWorld, devices: dict[str, PhoneDriver]
) -> None:
    clock = FakeClock()
    session = await world.session("desk", clock(), messages_per_minute=600)
    [message] = await world.accept(clock(), "+1555")
    assert isinstance(message, Message)
    # (Unpaced: the pacer keeps real time, and the user's pace would mix its waits in.)
    worker = _worker(world, clock, timedelta(hours=1), paced=False)

    # Not connected here: more tries than the retry policy allows, none failing.
    for _ in range(5):
        assert await worker.run_once() == 1
        job = (await _jobs(world, [message.id]))[message.id]
        assert job.attempts == 0
        assert (job.run_at - clock()).total_seconds() == pytest.approx(2.0)
        clock.advance(2.0)
    assert (await _message(world, message.id)).status is Status.QUEUED

    devices[session.id] = phone = PhoneDriver()
    assert await worker.run_once() == 1
    assert (await _message(world, message.id)).status is Status.SENT
    assert [o.text for o in phone.sent] == ["hello"]


async def test_a_message_that_waited_past_its_give_up_age_fails(world: SessionWorld) -> None:
    clock = FakeClock()
    await world.session("desk", clock(), messages_per_minute=600)
    [message] = await world.accept(clock(), "+1555")
    assert isinstance(message, Message)
    worker = _worker(world, clock, timedelta(minutes=10), paced=False)
    assert await worker.run_once() == 1
    clock.advance(601)
    assert await worker.run_once() == 1
    failed = await _message(world, message.id)
    assert (failed.status, failed.error_code) == (Status.FAILED, "session_not_connected")


async def test_receipts_move_the_status_forward_only_and_messages_are_stored(
    world: SessionWorld, devices: dict[str, PhoneDriver]
) -> None:
    clock = FakeClock()
    session = await world.session("desk", clock(), messages_per_minute=600)
    devices[session.id] = PhoneDriver()
    [message] = await world.accept(clock(), "+1555")
    assert isinstance(message, Message)
    assert await _worker(world, clock, timedelta(hours=1)).run_once() == 1
    sent = await _message(world, message.id)
    assert (sent.status, sent.provider_message_id) == (Status.SENT, "3EB01")

    sink = SessionEvents(world.database, clock)
    await sink(session.id, Receipt("3EB01", "read"))
    await sink(session.id, Receipt("3EB01", "delivered"))  # late: recorded, not applied
    read = await _message(world, message.id)
    assert read.status is Status.READ
    async with world.database.read() as conn:
        events = await message_store.list_events(conn, read.id)
    assert [e.status for e in events if e.status is not None][-2:] == [
        Status.READ,
        Status.DELIVERED,
    ]

    await sink(session.id, IncomingMessage("3EB0-in", "+1555", "text", text="thanks!"))
    await sink(session.id, IncomingMessage("3EB0-in", "+1555", "text", text="thanks!"))
    async with world.database.read() as conn:
        inbound = await message_store.find_by_provider_id(
            conn, world.live.account_id, "whatsapp_web", "3EB0-in", "inbound"
        )
    assert inbound is not None
    assert (inbound.sender, inbound.recipient, inbound.connection_id) == (
        "+1555",
        session.phone or "",
        session.id,
    )
    assert inbound.content == {"type": "text", "text": "thanks!"}
