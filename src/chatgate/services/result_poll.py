"""Asking a platform for the result of a message its webhooks have not reported.

Some platforms report results by webhook only where the business configured one, and a
webhook can be lost; the ones that can also be asked (their adapter sets
``SendResult.poll_after``) get a ``result_poll`` job that many seconds after the send. The
job asks only while the message is still ``sent``: a webhook that came first ends it
without a call. A result the platform does not have yet is asked for again, each time
twice as late, :data:`MAX_POLLS` times at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ProviderError, StatusUpdate
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import Clock
from chatgate.engine.worker import Outcome, finish
from chatgate.services.job_kinds import RESULT_POLL_JOB
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job

log = structlog.get_logger(__name__)

MAX_POLLS = 6


def poll_job(message_id: str, at: Any, every: float) -> dict[str, Any]:
    """The job row that asks for ``message_id``'s result at ``at`` (then every ``every`` s)."""
    return job_store.job_row(RESULT_POLL_JOB, at, message_id=message_id, payload={"every": every})


class ResultPolls:
    """The ``result_poll`` job handler."""

    def __init__(
        self, database: Database, http: httpx.AsyncClient, resolve_adapter: Any, clock: Clock
    ) -> None:
        self.database = database
        self.http = http
        self.resolve_adapter = resolve_adapter
        self.clock = clock

    async def handle(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """Ask for each job's message, one after the other (polls are rare)."""
        ids = [job.message_id for job in batch if job.message_id]
        async with self.database.read() as conn:
            found = await message_store.get_messages_by_ids(conn, ids)
        return [await self._poll(job, found.get(job.message_id or "")) for job in batch]

    async def _poll(self, job: Job, message: Message | None) -> Outcome:
        if message is None or message.status is not Status.SENT or not message.provider_message_id:
            return finish(job)  # reported already (or gone): nothing to ask
        adapter = await self.resolve_adapter(message)
        if adapter is None:
            return finish(job)
        try:
            update = await adapter.poll_status(message.provider_message_id, self.http)
        except ProviderError as error:
            if not error.retryable:
                log.info("result_poll.refused", message_id=message.id, code=error.code)
                return finish(job)
            update = None
        if update is None or update.status is Status.UNKNOWN:
            return self._again(job)
        return self._apply(job, message, update)

    def _again(self, job: Job) -> Outcome:
        if job.attempts >= MAX_POLLS:
            return finish(job)
        every = float((job.payload or {}).get("every") or 60.0)
        delay = every * 2 ** max(job.attempts - 1, 0)

        async def write(conn: AsyncConnection) -> None:
            await job_store.reschedule_job(conn, job.id, self.clock() + timedelta(seconds=delay))

        return write

    def _apply(self, job: Job, message: Message, update: StatusUpdate) -> Outcome:
        # Imported here: ``delivery`` registers this handler, so it imports this module.
        from chatgate.services.delivery import apply_status

        detail: dict[str, Any] = {"platform_status": update.platform_status, "polled": True}
        if update.error_code is not None:
            detail.update(code=update.error_code, message=update.error_message or "")

        async def write(conn: AsyncConnection) -> None:
            await apply_status(conn, message, update.status, detail, self.clock())
            await job_store.finish_jobs(conn, [job.id])

        return write
