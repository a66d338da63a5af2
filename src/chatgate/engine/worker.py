"""The worker: claim due jobs in batches, run them, write each outcome as soon as it is known.

Handlers do their I/O (platform calls) outside any transaction and return outcomes (status,
events, next jobs, removal of the job); each outcome is written in one transaction with its
effects, so a job is either finished with all of them or still pending. A handler whose jobs
end at different times (each send waits for its own platform) returns each job's outcome as
a task, and an outcome is written as soon as its task is done: outcomes that come while a
write is under way are written together in the next one (a group commit of the worker's
own), so a process killed in the middle re-runs only the calls it had in flight, not its
whole batch. A worker renews its leases while a batch is in hand and writes only the jobs
it still holds; one that dies holds its jobs only until their lease ends. ``concurrency``
loops run side by side, so one slow batch does not hold up the others. Jobs of a connection
one worker holds open (``held``: the connections this worker holds now) are claimed only by
their holder.

Stopping (SIGTERM) stops claiming at once; batches in hand are finished, and whatever is
still unfinished when the grace period ends is handed back for another worker to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.engine.clock import Clock, system_clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.event_loop import cancel_and_wait
from chatgate.storage import jobs as job_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job

log = structlog.get_logger(__name__)

Outcome = Callable[[AsyncConnection], Awaitable[None]]
# An outcome still being worked out (a send waiting for its platform).
PendingOutcome = asyncio.Future[Outcome]
# A handler returns one outcome per job, in the order of the batch it was given: known at
# once, or pending, to be written the moment it is known.
JobHandler = Callable[[Sequence[Job]], Awaitable[Sequence[Outcome | PendingOutcome]]]
# The connections this worker holds now (whose jobs only it may claim).
HeldConnections = Callable[[], Collection[str]]


def _holds_none() -> Collection[str]:
    return frozenset()


class BulkOutcome:
    """An outcome written together with the others of its kind in a batch.

    Writing 200 sends as a few multi-row statements instead of a thousand single ones is
    what keeps a worker from holding the store's write lock for long.
    """

    async def __call__(self, conn: AsyncConnection) -> None:
        await type(self).write_many(conn, [self])

    @classmethod
    async def write_many(cls, conn: AsyncConnection, outcomes: Sequence[Any]) -> None:
        """Write ``outcomes`` (all of this class) in the caller's transaction."""
        raise NotImplementedError


def finish(job: Job) -> Outcome:
    """The outcome that only removes ``job``: it is done, with nothing else to write."""
    return lambda conn: job_store.finish_jobs(conn, [job.id])


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
        concurrency: int = 1,
        clock: Clock = system_clock,
        held: HeldConnections = _holds_none,
    ) -> None:
        self.database = database
        self.handlers = handlers
        self.wakeup = wakeup
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.clock = clock
        self.held_connections = held
        self.name = worker_name()
        self._stopping = asyncio.Event()
        self._held: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._writer = OutcomeWriter(self._write)
        # Groups of outcomes that could not be written together (then written one by one).
        self.batch_write_failures = 0

    def stop(self) -> None:
        """Stop claiming; the batches in hand are finished first."""
        self._stopping.set()
        self.wakeup.notify()

    async def run(self) -> None:
        """Run ``concurrency`` loops until :meth:`stop`; on cancellation, release held jobs."""
        log.info("worker.started", worker=self.name, concurrency=self.concurrency)
        loops = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            # Outcomes known before the stop are written, not handed back to be run again.
            await self._writer.flush()
            await self._release_held()
            log.info("worker.stopped", worker=self.name)

    def start(self) -> None:
        """Run :meth:`run` as a task of its own, until :meth:`drain`."""
        self._task = asyncio.create_task(self.run(), name="worker")

    async def drain(self, grace_seconds: float) -> None:
        """Stop the started worker: finish within the grace period, then cancel."""
        self.stop()
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(grace_seconds):
                await asyncio.shield(task)
        except TimeoutError:
            await cancel_and_wait(task)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                done = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker.batch_failed", worker=self.name)
                done = 0
            if done == 0 and not self._stopping.is_set():
                await self.wakeup.wait(await self._idle_seconds())

    async def run_once(self) -> int:
        """Claim one batch of due jobs and run it; returns how many jobs were claimed."""
        async with self.database.write() as conn:
            claimed = await job_store.claim_due_jobs(
                conn,
                self.name,
                now=self.clock(),
                lease=self.lease,
                limit=self.batch_size,
                held=self.held_connections(),
            )
        if not claimed:
            return 0
        # Held until written: if this batch dies (cancelled, store error), the jobs are
        # handed back at stop, or taken over when their lease ends.
        ids = {job.id for job in claimed}
        self._held |= ids
        heartbeat = asyncio.create_task(self._keep_leases(sorted(ids)))
        try:
            # Each kind is written as soon as its handler is done: a slow kind (a large
            # download) does not hold back the sends of the same batch.
            await asyncio.gather(
                *(self._run_kind(kind, batch) for kind, batch in _by_kind(claimed).items())
            )
        finally:
            # Stopped before writing: the write renews the leases itself, under its locks.
            await cancel_and_wait(heartbeat)
        return len(claimed)

    async def _run_kind(self, kind: str, batch: Sequence[Job]) -> None:
        outcomes = await self._handle(kind, batch)
        known: list[tuple[Job, Outcome]] = []
        pending: list[tuple[Job, PendingOutcome]] = []
        for job, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, asyncio.Future):
                pending.append((job, outcome))
            else:
                known.append((job, outcome))
        writes = [self._write_known(known)] if known else []
        writes += [self._write_when_known(job, outcome) for job, outcome in pending]
        failures = [
            result
            for result in await asyncio.gather(*writes, return_exceptions=True)
            if isinstance(result, BaseException)
        ]
        if failures:
            # A handler that failed for a job leaves it held: taken over when its lease ends.
            raise failures[0]

    async def _write_known(self, done: Sequence[tuple[Job, Outcome]]) -> None:
        await self._writer.write(done)
        self._held -= {job.id for job, _ in done}

    async def _write_when_known(self, job: Job, pending: PendingOutcome) -> None:
        await self._write_known([(job, await pending)])

    async def _write(self, done: Sequence[tuple[Job, Outcome]]) -> None:
        """Write every outcome in one transaction; if that fails, each in its own.

        Only jobs this worker still holds are written: one whose lease ran out may have
        been taken over, and its new holder writes it. One job whose outcome cannot be
        written (a bug, a constraint) must not hold back the rest of its batch: it is put
        back with a backoff instead.
        """
        try:
            await self._write_owned(done)
            return
        except Exception:
            self.batch_write_failures += 1
            log.exception("worker.batch_write_failed", worker=self.name, jobs=len(done))
        for job, outcome in done:
            try:
                await self._write_owned([(job, outcome)])
            except Exception:
                log.exception("worker.job_write_failed", worker=self.name, job=job.id)
                backoff = timedelta(seconds=min(2.0**job.attempts, 300.0))
                async with self.database.write() as conn:
                    await job_store.reschedule_job(conn, job.id, self.clock() + backoff)

    async def _write_owned(self, done: Sequence[tuple[Job, Outcome]]) -> None:
        # One order for every worker, so that two writes touching the same messages take
        # their row locks in the same order and never deadlock.
        done = sorted(done, key=lambda pair: (pair[0].message_id or "", pair[0].id))
        async with self.database.write() as conn:
            owned = await job_store.extend_leases(
                conn, self.name, [job.id for job, _ in done], self.clock() + self.lease
            )
            bulk: dict[type[BulkOutcome], list[BulkOutcome]] = defaultdict(list)
            for job, outcome in done:
                if job.id not in owned:
                    log.warning("worker.lease_lost", worker=self.name, job=job.id)
                elif isinstance(outcome, BulkOutcome):
                    bulk[type(outcome)].append(outcome)
                else:
                    await outcome(conn)
            for kind, outcomes in bulk.items():
                await kind.write_many(conn, outcomes)

    async def _keep_leases(self, ids: Sequence[int]) -> None:
        """While a batch is in hand, renew its leases so no other worker takes it over."""
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.database.write() as conn:
                    await job_store.extend_leases(conn, self.name, ids, self.clock() + self.lease)
            except Exception:
                log.exception("worker.lease_renewal_failed", worker=self.name, jobs=len(ids))

    async def _handle(self, kind: str, batch: Sequence[Job]) -> Sequence[Outcome | PendingOutcome]:
        handler = self.handlers.get(kind)
        if handler is None:
            log.error("worker.unknown_job_kind", kind=kind, jobs=len(batch))
            return [finish(job) for job in batch]
        outcomes = await handler(batch)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"the {kind} handler must return one outcome per job")
        return outcomes

    async def _release_held(self) -> None:
        if not self._held:
            return
        held, self._held = sorted(self._held), set()
        try:
            async with self.database.write() as conn:
                await job_store.release_jobs(conn, self.name, held)
            log.info("worker.released", worker=self.name, jobs=len(held))
        except Exception:
            # Not fatal: the leases run out and another worker takes the jobs over.
            log.exception("worker.release_failed", worker=self.name, jobs=len(held))

    async def _idle_seconds(self) -> float:
        async with self.database.read() as conn:
            due = await job_store.next_due_at(conn, self.held_connections())
        if due is None:
            return self.poll_seconds
        wait = (due - self.clock()).total_seconds()
        return min(max(wait, 0.0), self.poll_seconds)


Pairs = Sequence[tuple[Job, Outcome]]


class OutcomeWriter:
    """Writes outcomes as they come: the first at once, and those that arrive while a write
    is under way all together in the next, so that a burst of answers costs a few
    transactions and a lone answer waits for none."""

    def __init__(self, write: Callable[[Pairs], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[Pairs, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def write(self, done: Pairs) -> None:
        """Until ``done`` is written (with whatever else came meanwhile).

        Once handed over, the outcomes are written even if the caller is cancelled.
        """
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((done, written))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting(), name="outcome-writer")
        await asyncio.shield(written)

    async def flush(self) -> None:
        """Until every outcome handed over so far is written."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)

    async def _write_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._write([pair for done, _ in group for pair in done])
            except Exception as exc:
                for _, written in group:
                    written.set_exception(exc)
            else:
                for _, written in group:
                    written.set_result(None)


def _by_kind(claimed: Sequence[Job]) -> dict[str, list[Job]]:
    by_kind: dict[str, list[Job]] = defaultdict(list)
    for job in claimed:
        by_kind[job.kind].append(job)
    return by_kind
