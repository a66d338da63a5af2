"""Statuses that arrive before the message they describe is known, matched again later.

A platform may report ``sent`` or ``delivered`` within milliseconds of answering our send,
before the worker has committed the platform's message id: the webhook then finds no
message. Such a status is not dropped: a ``status_match`` job keeps it and tries again after
a short while (and a few more times), so the status lands on its message once the send's
outcome is stored. A status that still matches nothing (a message sent from outside
Chatgate, say) ends in the connection's inbound log as ``unmatched_status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import StatusUpdate
from chatgate.domain.ids import new_id
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import Clock
from chatgate.engine.worker import JobHandler, Outcome
from chatgate.services.delivery import apply_status
from chatgate.services.job_kinds import STATUS_MATCH_JOB
from chatgate.storage import channels as channel_store
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job

UNMATCHED = "unmatched_status"
# Seconds after the webhook at which an unmatched status is tried again; then it is logged.
MATCH_AGAIN_AFTER = (1.0, 5.0, 30.0, 120.0)


async def apply_update(
    conn: AsyncConnection, connection: StoredConnection, update: StatusUpdate
) -> int:
    """Apply a status to the message(s) it names; how many it reached."""
    detail: dict[str, Any] = {"platform_status": update.platform_status}
    if update.error_code is not None:
        detail.update(code=update.error_code, message=update.error_message or "")
    targets: list[Message] = []
    if update.provider_message_id is not None:
        found = await message_store.find_by_provider_id(
            conn, connection.account_id, connection.type, update.provider_message_id, "outbound"
        )
        targets = [found] if found is not None else []
    elif update.up_to is not None and update.recipient is not None:
        targets = await message_store.sent_before(
            conn, connection.id, update.recipient, update.up_to
        )
    for message in targets:
        await apply_status(conn, message, update.status, detail, update.at)
    return len(targets)


def match_later(
    connection: StoredConnection, update: StatusUpdate, now: datetime
) -> dict[str, Any]:
    """The job row that tries ``update`` again shortly (it named a message not yet known)."""
    payload = {
        "connection_id": connection.id,
        "status": update.status.value,
        "platform_status": update.platform_status,
        "at": update.at.isoformat(),
        "raw": update.raw,
        "provider_message_id": update.provider_message_id,
        "recipient": update.recipient,
        "up_to": update.up_to.isoformat() if update.up_to else None,
        "error_code": update.error_code,
        "error_message": update.error_message,
    }
    return job_store.job_row(
        STATUS_MATCH_JOB, now + timedelta(seconds=MATCH_AGAIN_AFTER[0]), payload=payload
    )


def _update_of(payload: dict[str, Any]) -> StatusUpdate:
    up_to = payload.get("up_to")
    return StatusUpdate(
        status=Status(payload["status"]),
        platform_status=payload["platform_status"],
        at=datetime.fromisoformat(payload["at"]),
        raw=payload.get("raw"),
        provider_message_id=payload.get("provider_message_id"),
        recipient=payload.get("recipient"),
        up_to=datetime.fromisoformat(up_to) if up_to else None,
        error_code=payload.get("error_code"),
        error_message=payload.get("error_message"),
    )


async def log_raw(
    conn: AsyncConnection, connection: StoredConnection, kind: str, raw: Any, now: datetime
) -> None:
    """Keep an event we could not use (``kind`` says why) in the connection's inbound log."""
    await channel_store.log_inbound(
        conn,
        entry_id=new_id("inb"),
        connection_id=connection.id,
        kind=kind,
        detail={"raw": raw},
        at=now,
    )


class StatusMatcher:
    """The ``status_match`` job handler."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def handlers(self) -> dict[str, JobHandler]:
        """The worker's handler table entry for this job kind."""
        return {STATUS_MATCH_JOB: self.handle}

    async def handle(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """One outcome per job: apply the status, try again later, or log it unmatched."""
        return [self._match(job) for job in batch]

    def _match(self, job: Job) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            payload = job.payload or {}
            connection = await channel_store.get_connection(conn, payload.get("connection_id", ""))
            if connection is None:  # the connection was removed meanwhile
                await job_store.finish_jobs(conn, [job.id])
                return
            update = _update_of(payload)
            if await apply_update(conn, connection, update):
                await job_store.finish_jobs(conn, [job.id])
            elif job.attempts < len(MATCH_AGAIN_AFTER):
                wait = MATCH_AGAIN_AFTER[job.attempts] - MATCH_AGAIN_AFTER[job.attempts - 1]
                await job_store.reschedule_job(conn, job.id, self.clock() + timedelta(seconds=wait))
            else:
                await log_raw(conn, connection, UNMATCHED, update.raw, self.clock())
                await job_store.finish_jobs(conn, [job.id])

        return write
