"""Job handlers that deliver messages: send through the adapter, then apply receipts.

Each handler does its network calls outside any transaction and returns outcomes that the
worker writes for the whole batch in one transaction: the new status, its event, the next
jobs (retry, expected receipts) and the removal of the finished job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ChannelAdapter, OutboundMessage, ProviderError, SendResult
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status, moves_forward
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.worker import JobHandler, Outcome
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job
from chatgate.storage.types import utcnow

log = structlog.get_logger(__name__)

RECEIPT_JOB = "receipt"
AdapterResolver = Callable[[Message], ChannelAdapter | None]


async def apply_status(
    conn: AsyncConnection,
    message: Message,
    status: Status,
    detail: dict[str, Any] | None,
    *,
    provider_message_id: str | None = None,
) -> None:
    """Record ``status`` as an event; move the message only if the status moves forward."""
    now = utcnow()
    await message_store.append_event(
        conn,
        account_id=message.account_id,
        message_id=message.id,
        type_="message.status",
        status=status,
        detail=detail,
        at=now,
    )
    current = await message_store.get_message_by_id(conn, message.id)
    if current is None or not moves_forward(current.status, status):
        return
    error = detail or {}
    await message_store.set_status(
        conn,
        message.id,
        status,
        now,
        provider_message_id=provider_message_id,
        error_code=error.get("code") if status is Status.FAILED else None,
        error_message=error.get("message") if status is Status.FAILED else None,
    )


class DeliveryHandlers:
    """The ``send`` and ``receipt`` job handlers."""

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        resolve_adapter: AdapterResolver,
        retry: RetryPolicy,
    ) -> None:
        self.database = database
        self.http = http
        self.resolve_adapter = resolve_adapter
        self.retry = retry

    def handlers(self) -> dict[str, JobHandler]:
        """Job kind -> handler, for the worker."""
        from chatgate.services.send import SEND_JOB

        return {SEND_JOB: self.handle_sends, RECEIPT_JOB: self.handle_receipts}

    async def _messages(self, batch: Sequence[Job]) -> dict[str, Message]:
        ids = [job.message_id for job in batch if job.message_id]
        async with self.database.read() as conn:
            return await message_store.get_messages_by_ids(conn, ids)

    async def handle_sends(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """Send each job's message through its adapter, all at once."""
        found = await self._messages(batch)
        return await asyncio.gather(
            *(self._send(job, found.get(job.message_id or "")) for job in batch)
        )

    async def _send(self, job: Job, message: Message | None) -> Outcome:
        if message is None or message.status is not Status.QUEUED:
            return lambda conn: job_store.finish_jobs(conn, [job.id])
        adapter = self.resolve_adapter(message)
        if adapter is None:
            error = ProviderError(
                "channel_not_configured",
                f"no {message.channel} channel is configured",
                retryable=False,
            )
            return self._failed(job, message, error)
        try:
            request = adapter.build_request(OutboundMessage.of(message))
            result = await adapter.send(request, self.http)
        except ProviderError as error:
            if error.retryable and self.retry.should_retry(job.attempts):
                return self._retry_later(job, message, error)
            return self._failed(job, message, error)
        except Exception as exc:  # a bug in an adapter must not wedge the queue
            log.exception("delivery.adapter_crashed", message_id=message.id)
            crash = ProviderError("internal_error", type(exc).__name__, retryable=True)
            if self.retry.should_retry(job.attempts):
                return self._retry_later(job, message, crash)
            return self._failed(job, message, crash)
        return self._sent(job, message, result)

    def _sent(self, job: Job, message: Message, result: SendResult) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            detail = {"provider_message_id": result.provider_message_id}
            await apply_status(
                conn, message, Status.SENT, detail, provider_message_id=result.provider_message_id
            )
            now = utcnow()
            await job_store.enqueue(
                conn,
                [
                    job_store.job_row(
                        RECEIPT_JOB,
                        now + timedelta(seconds=receipt.after),
                        message_id=message.id,
                        payload={"status": receipt.status.value, "detail": receipt.detail},
                    )
                    for receipt in result.receipts
                ],
            )
            await job_store.finish_jobs(conn, [job.id])

        return write

    def _failed(self, job: Job, message: Message, error: ProviderError) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            detail = {"code": error.code, "message": error.message, "attempts": job.attempts}
            await apply_status(conn, message, Status.FAILED, detail)
            await job_store.finish_jobs(conn, [job.id])

        return write

    def _retry_later(self, job: Job, message: Message, error: ProviderError) -> Outcome:
        delay = self.retry.delay(job.attempts, error.retry_after)

        async def write(conn: AsyncConnection) -> None:
            await job_store.reschedule_job(conn, job.id, utcnow() + timedelta(seconds=delay))
            log.info(
                "delivery.retry_scheduled",
                message_id=message.id,
                code=error.code,
                attempts=job.attempts,
                delay=round(delay, 3),
            )

        return write

    async def handle_receipts(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """Apply receipts that have come due (the sandbox's simulated ones)."""
        found = await self._messages(batch)
        outcomes: list[Outcome] = []
        for job in batch:
            message = found.get(job.message_id or "")
            payload = job.payload or {}

            async def write(
                conn: AsyncConnection,
                job: Job = job,
                message: Message | None = message,
                payload: dict[str, Any] = payload,
            ) -> None:
                # A late receipt is a fact worth keeping even on a final message;
                # apply_status records it without moving the status backward.
                if message is not None:
                    await apply_status(
                        conn, message, Status(payload["status"]), payload.get("detail")
                    )
                await job_store.finish_jobs(conn, [job.id])

            outcomes.append(write)
        return outcomes


def sandbox_resolver(sandbox: ChannelAdapter) -> AdapterResolver:
    """Test-mode messages go to the sandbox; live channels have no adapter yet."""

    def resolve(message: Message) -> ChannelAdapter | None:
        return sandbox if message.mode is KeyMode.TEST else None

    return resolve
