"""The worker and delivery handlers on a fake clock: retries, hints, give-up, drain."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest

from chatgate.channels.base import (
    ChannelAdapter,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    SendResult,
    error_from_status,
    error_from_transport,
    parse_retry_after,
)
from chatgate.channels.sandbox import NoCredentials
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import FakeClock
from chatgate.engine.pacing import Pacer
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import Worker
from chatgate.services.delivery import DeliveryHandlers, DeliveryPolicy
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs
from tests.engine.conftest import store_message
from tests.support import until


class ScriptedPlatform(ChannelAdapter[NoCredentials]):
    """Answers each send with the next scripted error, then succeeds."""

    name = "scripted"
    credentials_model = NoCredentials

    def __init__(self, errors: Sequence[ProviderError] = (), latency: float = 0.0) -> None:
        super().__init__(NoCredentials())
        self.errors = list(errors)
        self.latency = latency
        self.sent: list[str] = []

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        return ProviderRequest("POST", "scripted://send", context={"id": message.id})

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(request.context["id"])
        return SendResult(provider_message_id=f"p{len(self.sent)}")


async def _queue_message(database: Database, clock: FakeClock) -> Message:
    return await store_message(database, Status.QUEUED, clock(), with_send_job=True)


def _worker(
    database: Database, platform: ChannelAdapter[Any], clock: FakeClock, **policy: Any
) -> Worker:
    retry = RetryPolicy(base=1.0, cap=60.0, max_attempts=policy.pop("max_attempts", 5))

    async def resolve(_message: Message) -> ChannelAdapter[Any]:
        return platform

    handlers = DeliveryHandlers(
        database,
        httpx.AsyncClient(),
        resolve,
        DeliveryPolicy(retry=retry, max_age=policy.pop("max_age", timedelta(hours=1))),
        pacer=Pacer(None),
        resolve_pace=lambda _message, _adapter: None,
        clock=clock,
    )
    return Worker(
        database,
        handlers.handlers(),
        LocalWakeup(),
        batch_size=10,
        lease_seconds=30,
        poll_seconds=0.05,
        clock=clock,
    )


async def _state(database: Database, message_id: str) -> tuple[Message, list[Any]]:
    async with database.read() as conn:
        message = await message_store.get_message_by_id(conn, message_id)
        pending = (await conn.execute(jobs.select().where(jobs.c.message_id == message_id))).all()
    assert message is not None
    return message, pending


async def test_retryable_errors_back_off_then_succeed(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    outage = ProviderError("unavailable", "503 from platform", retryable=True)
    platform = ScriptedPlatform([outage, outage])
    worker = _worker(database, platform, clock)

    assert await worker.run_once() == 1  # attempt 1 fails
    queued, [job] = await _state(database, message.id)
    assert queued.status is Status.QUEUED
    assert job.attempts == 1
    first_delay = (job.run_at - clock()).total_seconds()
    assert 0 <= first_delay <= 1.0  # full jitter under base * 2**0

    assert await worker.run_once() == 0  # not due yet: nothing happens without time moving
    clock.advance(first_delay + 0.001)
    assert await worker.run_once() == 1  # attempt 2 fails
    _, [job] = await _state(database, message.id)
    second_delay = (job.run_at - clock()).total_seconds()
    assert 0 <= second_delay <= 2.0
    clock.advance(second_delay + 0.001)
    assert await worker.run_once() == 1  # attempt 3 succeeds
    sent, pending = await _state(database, message.id)
    assert sent.status is Status.SENT
    assert pending == []
    assert platform.sent == [message.id]


async def test_platform_retry_hint_is_a_floor(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    throttled = ProviderError("throttled", "429", retryable=True, retry_after=42.0)
    worker = _worker(database, ScriptedPlatform([throttled]), clock)
    await worker.run_once()
    _, [job] = await _state(database, message.id)
    assert (job.run_at - clock()).total_seconds() == pytest.approx(42.0)
    clock.advance(41)
    assert await worker.run_once() == 0
    clock.advance(1.001)
    assert await worker.run_once() == 1


async def test_permanent_error_fails_at_once(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    refused = ProviderError("131026", "recipient cannot be reached", retryable=False)
    await _worker(database, ScriptedPlatform([refused]), clock).run_once()
    failed, pending = await _state(database, message.id)
    assert failed.status is Status.FAILED
    assert (failed.error_code, failed.error_message) == ("131026", "recipient cannot be reached")
    assert pending == []


async def test_gives_up_after_max_attempts(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    outage = ProviderError("unavailable", "down", retryable=True)
    worker = _worker(database, ScriptedPlatform([outage] * 10), clock, max_attempts=3)
    for _ in range(3):
        assert await worker.run_once() == 1
        clock.advance(10)
    failed, pending = await _state(database, message.id)
    assert failed.status is Status.FAILED
    assert failed.error_code == "unavailable"
    assert pending == []


async def test_gives_up_when_too_old(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    outage = ProviderError("unavailable", "down", retryable=True)
    worker = _worker(database, ScriptedPlatform([outage] * 10), clock, max_age=timedelta(minutes=5))
    await worker.run_once()
    clock.advance(6 * 60)
    await worker.run_once()
    failed, _ = await _state(database, message.id)
    assert failed.status is Status.FAILED


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base=1.0, cap=30.0, max_attempts=10)
    rng = random.Random(7)
    for attempts in range(1, 9):
        ceiling = min(30.0, 2.0 ** (attempts - 1))
        delays = [policy.delay(attempts, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # the whole range is used
    assert policy.should_retry(9)
    assert not policy.should_retry(10)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_http_failures_are_classified(status: int, retryable: bool) -> None:
    error = error_from_status(status, str(status), "x", headers={"retry-after": "7"})
    assert error.retryable is retryable
    assert error.retry_after == 7.0


def test_transport_failures_are_retryable_and_hints_parse() -> None:
    assert error_from_transport(httpx.ConnectTimeout("slow")).code == "timeout"
    assert error_from_transport(httpx.ConnectError("refused")).retryable
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None


async def test_stop_finishes_the_batch_in_hand(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    platform = ScriptedPlatform(latency=0.2)
    worker = _worker(database, platform, clock)
    worker.start()
    await until(lambda: _leased(database))
    await worker.drain(grace_seconds=5)
    sent, pending = await _state(database, message.id)
    assert sent.status is Status.SENT
    assert pending == []


async def test_work_unfinished_at_the_end_of_grace_is_released(database: Database) -> None:
    clock = FakeClock()
    message = await _queue_message(database, clock)
    worker = _worker(database, ScriptedPlatform(latency=30), clock)
    worker.start()
    await until(lambda: _leased(database))
    await worker.drain(grace_seconds=0.1)
    queued, [job] = await _state(database, message.id)
    assert queued.status is Status.QUEUED
    assert (job.locked_by, job.locked_until, job.attempts) == (None, None, 0)


async def _leased(database: Database) -> bool:
    async with database.read() as conn:
        return bool(
            await conn.scalar(
                jobs.select().where(jobs.c.locked_by.is_not(None)).with_only_columns(jobs.c.id)
            )
        )


async def test_a_batch_is_written_in_one_go(database: Database) -> None:
    """Sends and receipts of a whole batch are written together, not one by one."""
    clock = FakeClock()
    stored = [await _queue_message(database, clock) for _ in range(10)]
    platform = ScriptedPlatform()
    worker = _worker(database, platform, clock)
    assert await worker.run_once() == 10
    assert worker.batch_write_failures == 0
    for message in stored:
        sent, pending = await _state(database, message.id)
        assert sent.status is Status.SENT
        assert pending == []
    async with database.read() as conn:
        events = await message_store.list_events(conn, stored[0].id)
    assert [(e.seq, e.status) for e in events] == [(1, Status.QUEUED), (2, Status.SENT)]
