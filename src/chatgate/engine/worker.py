"""The worker loop: claim due jobs in batches, run them, write every outcome at once.

Handlers do their I/O (platform calls) outside any transaction and return outcomes; the
outcomes of a whole batch (status, events, next jobs, removal of the job) are then written
in one transaction, so a job is either finished with all its effects or still pending.
A worker that dies holds its jobs only until their lease ends.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.engine.wakeup import LocalWakeup
from chatgate.storage import jobs as job_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job
from chatgate.storage.types import utcnow

log = structlog.get_logger(__name__)

Outcome = Callable[[AsyncConnection], Awaitable[None]]
JobHandler = Callable[[Sequence[Job]], Awaitable[Sequence[Outcome]]]


def worker_name() -> str:
    """A name unique to this process, kept on the jobs it leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class Worker:
    """Claims and runs jobs until stopped."""

    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, JobHandler],
        wakeup: LocalWakeup,
        *,
        batch_size: int,
        lease_seconds: float,
        poll_seconds: float,
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.wakeup = wakeup
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.name = worker_name()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop claiming; the batch in hand is finished first."""
        self._stopping.set()
        self.wakeup.notify()

    async def run(self) -> None:
        """Loop until :meth:`stop`: claim, run, write; sleep when nothing is due."""
        log.info("worker.started", worker=self.name)
        while not self._stopping.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("worker.batch_failed", worker=self.name)
                done = 0
            if done == 0 and not self._stopping.is_set():
                await self.wakeup.wait(await self._idle_seconds())
        log.info("worker.stopped", worker=self.name)

    async def run_once(self) -> int:
        """Claim one batch of due jobs and run it; returns how many jobs were claimed."""
        async with self.database.write() as conn:
            claimed = await job_store.claim_due_jobs(
                conn, self.name, now=utcnow(), lease=self.lease, limit=self.batch_size
            )
        if not claimed:
            return 0
        by_kind: dict[str, list[Job]] = defaultdict(list)
        for job in claimed:
            by_kind[job.kind].append(job)
        results = await asyncio.gather(
            *(self._handle(kind, batch) for kind, batch in by_kind.items())
        )
        outcomes = [outcome for result in results for outcome in result]
        async with self.database.write() as conn:
            for outcome in outcomes:
                await outcome(conn)
        return len(claimed)

    async def _handle(self, kind: str, batch: Sequence[Job]) -> Sequence[Outcome]:
        handler = self.handlers.get(kind)
        if handler is None:
            log.error("worker.unknown_job_kind", kind=kind, jobs=len(batch))
            ids = [job.id for job in batch]
            return [lambda conn: job_store.finish_jobs(conn, ids)]
        return await handler(batch)

    async def _idle_seconds(self) -> float:
        async with self.database.read() as conn:
            due = await job_store.next_due_at(conn)
        if due is None:
            return self.poll_seconds
        wait = (due - utcnow()).total_seconds()
        return min(max(wait, 0.0), self.poll_seconds)
