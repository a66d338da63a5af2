"""Results asked of a platform whose webhooks did not report them (``result_poll`` jobs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx

from chatgate.channels.base import (
    ChannelAdapter,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    SendResult,
    StatusUpdate,
)
from chatgate.channels.sandbox import NoCredentials
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import FakeClock
from chatgate.engine.pacing import Pacer
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import Worker
from chatgate.services.delivery import DeliveryHandlers, DeliveryPolicy, apply_status
from chatgate.services.job_kinds import RESULT_POLL_JOB
from chatgate.services.result_poll import MAX_POLLS
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs
from tests.engine.conftest import store_message

POLL_AFTER = 10.0


class AskablePlatform(ChannelAdapter[NoCredentials]):
    """Accepts every send, then answers result queries from a script (``None``: not yet)."""

    name = "askable"
    credentials_model = NoCredentials

    def __init__(self, answers: Sequence[StatusUpdate | ProviderError | None]) -> None:
        super().__init__(NoCredentials())
        self.answers = list(answers)
        self.asked: list[str] = []

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        return ProviderRequest("POST", "askable://send")

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        return SendResult(provider_message_id="R1:1", poll_after=POLL_AFTER)

    async def poll_status(
        self, provider_message_id: str, http: httpx.AsyncClient
    ) -> StatusUpdate | None:
        self.asked.append(provider_message_id)
        answer = self.answers.pop(0)
        if isinstance(answer, ProviderError):
            raise answer
        return answer


def _update(status: Status, code: str) -> StatusUpdate:
    return StatusUpdate(
        status=status,
        platform_status=code,
        at=FakeClock()(),
        raw={},
        provider_message_id="R1:1",
        error_code=code if status is Status.FAILED else None,
        error_message="NotKakaoUser" if status is Status.FAILED else None,
    )


def _worker(database: Database, platform: ChannelAdapter[Any], clock: FakeClock) -> Worker:
    async def resolve(_message: Message) -> ChannelAdapter[Any]:
        return platform

    handlers = DeliveryHandlers(
        database,
        httpx.AsyncClient(),
        resolve,
        DeliveryPolicy(retry=RetryPolicy(base=1.0, cap=60.0), max_age=timedelta(hours=1)),
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


async def _sent(database: Database, worker: Worker, clock: FakeClock) -> Message:
    message = await store_message(database, Status.QUEUED, clock(), with_send_job=True)
    assert await worker.run_once() == 1
    sent, [poll] = await _state(database, message.id)
    assert sent.status is Status.SENT
    assert poll.kind == RESULT_POLL_JOB
    assert (poll.run_at - clock()).total_seconds() == POLL_AFTER
    return sent


async def test_a_result_not_yet_in_is_asked_again_later_then_applied(database: Database) -> None:
    clock = FakeClock()
    platform = AskablePlatform([None, None, _update(Status.DELIVERED, "1000")])
    worker = _worker(database, platform, clock)
    message = await _sent(database, worker, clock)
    waits = []
    for _ in range(2):
        assert await worker.run_once() == 0  # not due yet
        _, [poll] = await _state(database, message.id)
        clock.advance((poll.run_at - clock()).total_seconds())
        assert await worker.run_once() == 1
        _, [poll] = await _state(database, message.id)
        waits.append((poll.run_at - clock()).total_seconds())
    # Each time twice as late.
    assert waits == [POLL_AFTER, 2 * POLL_AFTER]
    clock.advance(waits[-1])
    assert await worker.run_once() == 1
    delivered, pending = await _state(database, message.id)
    assert delivered.status is Status.DELIVERED
    assert pending == []
    assert platform.asked == ["R1:1"] * 3


async def test_a_failure_found_by_asking_fails_the_message_with_its_code(
    database: Database,
) -> None:
    clock = FakeClock()
    platform = AskablePlatform([_update(Status.FAILED, "3019")])
    worker = _worker(database, platform, clock)
    message = await _sent(database, worker, clock)
    clock.advance(POLL_AFTER)
    assert await worker.run_once() == 1
    failed, pending = await _state(database, message.id)
    assert (failed.status, failed.error_code) == (Status.FAILED, "3019")
    assert pending == []


async def test_a_result_reported_by_webhook_first_is_not_asked_for(database: Database) -> None:
    clock = FakeClock()
    platform = AskablePlatform([])
    worker = _worker(database, platform, clock)
    message = await _sent(database, worker, clock)
    async with database.write() as conn:
        await apply_status(conn, message, Status.DELIVERED, {"platform_status": "1000"}, clock())
    clock.advance(POLL_AFTER)
    assert await worker.run_once() == 1
    _, pending = await _state(database, message.id)
    assert pending == []
    assert platform.asked == []


async def test_asking_ends_on_a_refusal_or_after_the_last_try(database: Database) -> None:
    clock = FakeClock()
    refusal = ProviderError("-1001", "Invalid secretKey.", retryable=False)
    platform = AskablePlatform([refusal])
    worker = _worker(database, platform, clock)
    message = await _sent(database, worker, clock)
    clock.advance(POLL_AFTER)
    assert await worker.run_once() == 1
    still, pending = await _state(database, message.id)
    assert (still.status, pending) == (Status.SENT, [])

    patient = AskablePlatform([None] * MAX_POLLS)
    worker = _worker(database, patient, clock)
    message = await _sent(database, worker, clock)
    for _ in range(MAX_POLLS):
        _, [poll] = await _state(database, message.id)
        clock.advance(max(0.0, (poll.run_at - clock()).total_seconds()))
        assert await worker.run_once() == 1
    still, pending = await _state(database, message.id)
    assert (still.status, pending) == (Status.SENT, [])
    assert len(patient.asked) == MAX_POLLS
