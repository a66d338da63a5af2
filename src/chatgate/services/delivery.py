"""Job handlers that deliver messages: pace, send through the adapter, apply receipts.

Each handler does its network calls outside any transaction and returns outcomes that the
worker writes, each in one transaction with its effects: the new status, its event, the next
jobs (retry, expected receipts) and the removal of the finished job. A send's outcome is
written as soon as its platform has answered, whatever the rest of its batch is doing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ChannelAdapter, OutboundMessage, ProviderError, SendResult
from chatgate.domain.pacing import Pace
from chatgate.domain.records import Message
from chatgate.domain.status import UNSENT, Status, moves_forward, replaced_by
from chatgate.engine.clock import Clock
from chatgate.engine.pacing import Pacer
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.worker import BulkOutcome, JobHandler, Outcome, PendingOutcome, finish
from chatgate.services.fallback import FallbackChecks, move_on
from chatgate.services.job_kinds import (
    FALLBACK_CHECK_JOB,
    RECEIPT_JOB,
    RESULT_POLL_JOB,
    SEND_JOB,
)
from chatgate.services.result_poll import ResultPolls, poll_job
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job
from chatgate.storage.messages import StatusRecord

log = structlog.get_logger(__name__)

AdapterResolver = Callable[[Message], Awaitable[ChannelAdapter[Any] | None]]
# The pacing key (one sender) and its limits, or None for an unpaced message.
PaceResolver = Callable[[Message, ChannelAdapter[Any]], tuple[str, Pace] | None]


async def apply_status(
    conn: AsyncConnection,
    message: Message,
    status: Status,
    detail: dict[str, Any] | None,
    at: datetime,
    *,
    provider_message_id: str | None = None,
) -> None:
    """Record ``status`` as an event; move the message only if the status moves forward.

    A step of a fallback chain that fails starts the next step in the same transaction.
    """
    current = await message_store.lock_message(conn, message.id)
    if current is None:
        return
    await message_store.append_event(
        conn,
        account_id=message.account_id,
        message_id=message.id,
        type_="message.status",
        status=status,
        detail=detail,
        at=at,
    )
    if not moves_forward(current.status, status):
        return
    error = detail or {}
    failed = status is Status.FAILED
    await message_store.set_status(
        conn,
        message.id,
        status,
        at,
        provider_message_id=provider_message_id,
        error_code=error.get("code") if failed else None,
        error_message=error.get("message") if failed else None,
    )
    if failed:
        await move_on(conn, replace(current, status=status), at)


@dataclass(frozen=True, slots=True)
class Recorded(BulkOutcome):
    """A status that needs nothing but recording (sent, delivered, read), written in bulk."""

    job_id: int
    record: StatusRecord
    new_jobs: tuple[dict[str, Any], ...] = ()

    @classmethod
    async def write_many(cls, conn: AsyncConnection, outcomes: Sequence[Any]) -> None:
        """Record every status, add the jobs they bring, finish their jobs."""
        await message_store.record_statuses(conn, [outcome.record for outcome in outcomes])
        await job_store.enqueue(conn, [job for outcome in outcomes for job in outcome.new_jobs])
        await job_store.finish_jobs(conn, [outcome.job_id for outcome in outcomes])


def recorded(
    job: Job,
    message: Message,
    status: Status,
    detail: dict[str, Any] | None,
    at: datetime,
    *,
    provider_message_id: str | None = None,
    new_jobs: Sequence[dict[str, Any]] = (),
) -> Recorded:
    """The bulk outcome that records ``status`` for ``message`` and finishes ``job``."""
    record = StatusRecord(
        message_id=message.id,
        account_id=message.account_id,
        status=status,
        detail=detail,
        at=at,
        provider_message_id=provider_message_id,
        replaces=replaced_by(status),
    )
    return Recorded(job.id, record, tuple(new_jobs))


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try: retries, the oldest message still worth sending, inline pacing."""

    retry: RetryPolicy
    max_age: timedelta
    # A pacing wait up to this long is slept in place; a longer one reschedules the job.
    inline_wait_seconds: float = 1.0


class DeliveryHandlers:
    """The ``send`` and ``receipt`` job handlers."""

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        resolve_adapter: AdapterResolver,
        policy: DeliveryPolicy,
        *,
        pacer: Pacer,
        resolve_pace: PaceResolver,
        clock: Clock,
    ) -> None:
        self.database = database
        self.http = http
        self.resolve_adapter = resolve_adapter
        self.policy = policy
        self.pacer = pacer
        self.resolve_pace = resolve_pace
        self.clock = clock

    def handlers(self) -> dict[str, JobHandler]:
        """Job kind -> handler, for the worker."""
        checks = FallbackChecks(self.database, self.clock)
        return {
            SEND_JOB: self.handle_sends,
            RECEIPT_JOB: self.handle_receipts,
            FALLBACK_CHECK_JOB: checks.handle,
            RESULT_POLL_JOB: ResultPolls(
                self.database, self.http, self.resolve_adapter, self.clock
            ).handle,
        }

    async def _messages(self, batch: Sequence[Job]) -> dict[str, Message]:
        ids = [job.message_id for job in batch if job.message_id]
        async with self.database.read() as conn:
            return await message_store.get_messages_by_ids(conn, ids)

    async def handle_sends(self, batch: Sequence[Job]) -> Sequence[PendingOutcome]:
        """Send each job's message through its adapter, all at once; each outcome is
        written as soon as its platform has answered (see ``chatgate.engine.worker``)."""
        found = await self._messages(batch)
        return [
            asyncio.ensure_future(self._send(job, found.get(job.message_id or ""))) for job in batch
        ]

    async def _send(self, job: Job, message: Message | None) -> Outcome:
        if message is None or message.status not in UNSENT:
            return finish(job)
        adapter = await self.resolve_adapter(message)
        if adapter is None:
            error = ProviderError(
                "channel_not_configured",
                f"no {message.channel} channel is configured",
                retryable=False,
            )
            return self._failed(job, message, error)
        wait = await self._pace(message, adapter)
        if wait > 0:
            return self._deferred(job, wait)
        try:
            request = adapter.build_request(
                OutboundMessage.of(message, reply_to=await self._platform_reply_to(message))
            )
            result = await adapter.send(request, self.http)
        except ProviderError as error:
            # A send that only the holder of its connection can make (a fallback step's job
            # names no connection at accept) waits for that worker from now on.
            held = adapter.connection_id if adapter.held_exclusively else None
            return self._after_error(job, message, error, held_by=held)
        except Exception as exc:  # a bug in an adapter must not wedge the queue
            log.exception("delivery.adapter_crashed", message_id=message.id)
            crash = ProviderError("internal_error", type(exc).__name__, retryable=True)
            return self._after_error(job, message, crash)
        return self._sent(job, message, result)

    async def _platform_reply_to(self, message: Message) -> str | None:
        """The platform's id of the message ``reply_to`` names (ours or the platform's)."""
        if message.reply_to is None or not message.reply_to.startswith("msg_"):
            return message.reply_to
        async with self.database.read() as conn:
            earlier = await message_store.get_message(
                conn, message.account_id, message.mode, message.reply_to
            )
        return None if earlier is None else earlier.provider_message_id

    async def _pace(self, message: Message, adapter: ChannelAdapter[Any]) -> float:
        """0 once a slot is taken; otherwise how long the job should wait elsewhere."""
        paced = self.resolve_pace(message, adapter)
        if paced is None:
            return 0.0
        sender, pace = paced
        while True:
            wait = await self.pacer.reserve(sender, message.recipient, pace)
            if wait == 0 or wait > self.policy.inline_wait_seconds:
                return wait
            await asyncio.sleep(wait)

    def _after_error(
        self, job: Job, message: Message, error: ProviderError, *, held_by: str | None = None
    ) -> Outcome:
        too_old = self.clock() - message.created_at > self.policy.max_age
        if error.wait and not too_old:
            delay = error.retry_after or self.policy.retry.delay(1)
            return self._deferred(job, delay, held_by=held_by)
        if error.retryable and self.policy.retry.should_retry(job.attempts) and not too_old:
            return self._retry_later(job, message, error)
        return self._failed(job, message, error)

    def _sent(self, job: Job, message: Message, result: SendResult) -> Outcome:
        now = self.clock()
        receipts = [
            job_store.job_row(
                RECEIPT_JOB,
                now + timedelta(seconds=receipt.after),
                message_id=message.id,
                payload={"status": receipt.status.value, "detail": receipt.detail},
            )
            for receipt in result.receipts
        ]
        if result.poll_after is not None:
            at = now + timedelta(seconds=result.poll_after)
            receipts.append(poll_job(message.id, at, result.poll_after))
        detail = {"provider_message_id": result.provider_message_id}
        return recorded(
            job,
            message,
            Status.SENT,
            detail,
            now,
            provider_message_id=result.provider_message_id,
            new_jobs=receipts,
        )

    def _failed(self, job: Job, message: Message, error: ProviderError) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            detail = {"code": error.code, "message": error.message, "attempts": job.attempts}
            await apply_status(conn, message, Status.FAILED, detail, self.clock())
            await job_store.finish_jobs(conn, [job.id])

        return write

    def _retry_later(self, job: Job, message: Message, error: ProviderError) -> Outcome:
        delay = self.policy.retry.delay(job.attempts, error.retry_after)

        async def write(conn: AsyncConnection) -> None:
            await job_store.reschedule_job(conn, job.id, self.clock() + timedelta(seconds=delay))
            log.info(
                "delivery.retry_scheduled",
                message_id=message.id,
                code=error.code,
                attempts=job.attempts,
                delay=round(delay, 3),
            )

        return write

    def _deferred(self, job: Job, wait: float, *, held_by: str | None = None) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            run_at = self.clock() + timedelta(seconds=wait)
            await job_store.reschedule_job(
                conn, job.id, run_at, count_attempt=False, held_by_connection=held_by
            )

        return write

    async def handle_receipts(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """Apply receipts that have come due (the sandbox's simulated ones)."""
        found = await self._messages(batch)
        return [self._receipt(job, found.get(job.message_id or "")) for job in batch]

    def _receipt(self, job: Job, message: Message | None) -> Outcome:
        payload = job.payload or {}
        if message is None:
            return finish(job)
        status = Status(payload["status"])
        detail = payload.get("detail")
        if status is not Status.FAILED:
            # A late receipt is a fact worth keeping even on a final message: it is
            # recorded as an event without moving the status backward.
            return recorded(job, message, status, detail, self.clock())

        async def write(conn: AsyncConnection) -> None:
            # A failure may start the next step of a fallback chain: the careful path.
            await apply_status(conn, message, status, detail, self.clock())
            await job_store.finish_jobs(conn, [job.id])

        return write
