"""The ``acknowledge`` job: answer what a platform expects answered after an inbound event.

Telegram shows a progress bar on a pressed inline button until the bot answers the
callback query, and the query expires after a few seconds: the answer is sent by the
worker at once, tried again briefly on a passing failure, and given up (logged) after that.
It never holds up the webhook, which is acknowledged as soon as the event is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import ProviderError
from chatgate.engine.clock import Clock
from chatgate.engine.worker import JobHandler, Outcome, finish
from chatgate.services.channels import ChannelService
from chatgate.services.job_kinds import ACKNOWLEDGE_JOB
from chatgate.storage import channels as channel_store
from chatgate.storage import jobs as job_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job

log = structlog.get_logger(__name__)

# Tries of one answer, and the pause between them: the platform's token expires quickly.
ATTEMPTS = 3
PAUSE = timedelta(seconds=1)


def acknowledge_job(connection: StoredConnection, token: str, now: datetime) -> dict[str, Any]:
    """The job row that answers ``token`` on ``connection`` now."""
    return job_store.job_row(
        ACKNOWLEDGE_JOB, now, payload={"connection_id": connection.id, "token": token}
    )


class Acknowledger:
    """Sends the answers platforms expect, for the worker."""

    def __init__(
        self, database: Database, http: httpx.AsyncClient, channels: ChannelService, clock: Clock
    ) -> None:
        self.database = database
        self.http = http
        self.channels = channels
        self.clock = clock

    def handlers(self) -> dict[str, JobHandler]:
        """The worker's handler table entry for this job kind."""
        return {ACKNOWLEDGE_JOB: self.handle}

    async def handle(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """One outcome per job: done, or tried again shortly."""
        return [await self._answer(job) for job in batch]

    async def _answer(self, job: Job) -> Outcome:
        payload = job.payload or {}
        async with self.database.read() as conn:
            connection = await channel_store.get_connection(conn, payload.get("connection_id", ""))
        if connection is None:  # removed meanwhile: nobody to answer for
            return finish(job)
        try:
            await self.channels.adapter(connection).acknowledge(str(payload["token"]), self.http)
        except ProviderError as error:
            if error.retryable and job.attempts < ATTEMPTS:
                return self._again(job)
            log.warning(
                "acknowledge.failed",
                connection_id=connection.id,
                code=error.code,
                attempts=job.attempts,
            )
        return finish(job)

    def _again(self, job: Job) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            await job_store.reschedule_job(conn, job.id, self.clock() + PAUSE)

        return write
