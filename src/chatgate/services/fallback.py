"""Fallback chains: start the next step when a step fails or misses its goal in time.

Each step is its own message; all carry the first step's id as ``chain_id``. A step moves
the chain on at most once (``fallback_message_id`` records the step it started), either at
once when it fails, or when its check comes due and it has not reached the goal that the
next step names. A chain stops as soon as any of its steps has reached that goal, even late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.fallback import FallbackStep
from chatgate.domain.records import DEGRADED, Message
from chatgate.domain.status import Status, has_reached
from chatgate.engine.clock import Clock
from chatgate.engine.worker import Outcome
from chatgate.services.job_kinds import FALLBACK_CHECK_JOB, SEND_JOB
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job

FALLBACK_EVENT = "message.fallback"


def check_jobs(message: Message) -> list[dict[str, object]]:
    """The timed check a new step needs, if the next step waits for a goal."""
    if not message.fallback or message.fallback[0].on.within is None:
        return []
    run_at = message.due_at + message.fallback[0].on.within
    return [job_store.job_row(FALLBACK_CHECK_JOB, run_at, message_id=message.id)]


async def _chain_reached(conn: AsyncConnection, message: Message, goal: Status) -> bool:
    if message.chain_id is None:
        return has_reached(message.status, goal)
    chain = await message_store.list_chain(conn, message.chain_id)
    return any(has_reached(step.status, goal) for step in chain)


async def move_on(conn: AsyncConnection, message: Message, at: datetime) -> Message | None:
    """Start the next step after ``message`` (locked by the caller), if the chain should go on.

    Returns the new step, or ``None`` when there is none, it was started already, the
    message was canceled, or the chain reached its goal.
    """
    if not message.fallback or message.fallback_message_id or message.status is Status.CANCELED:
        return None
    step: FallbackStep = message.fallback[0]
    failed = message.status is Status.FAILED
    # Only a failure moves a "failed" step on; a goal step also moves on when its time is up,
    # unless some step of the chain got there after all.
    if not failed and (step.on.goal is None or await _chain_reached(conn, message, step.on.goal)):
        return None
    chain_id = message.chain_id or message.id  # every chained message has one; be safe
    following = Message.new(
        account_id=message.account_id,
        mode=message.mode,
        direction="outbound",
        channel=step.channel,
        sender=None,
        recipient=step.to,
        content=step.content,
        status=Status.QUEUED,
        at=at,
        metadata=message.metadata,
        chain_id=chain_id,
        chain_step=(message.chain_step or 0) + 1,
        fallback=message.fallback[1:],
        options={DEGRADED: step.degraded} if step.degraded else None,
    )
    await message_store.insert_messages(conn, [message_store.message_row(following, None)])
    await message_store.insert_event_rows(conn, [message_store.first_event_row(following)])
    await job_store.enqueue(
        conn,
        [job_store.job_row(SEND_JOB, at, message_id=following.id), *check_jobs(following)],
    )
    await message_store.set_fallback_message(conn, message.id, following.id)
    root = await message_store.lock_message(conn, chain_id)
    if root is not None:
        await message_store.append_event(
            conn,
            account_id=root.account_id,
            message_id=root.id,
            type_=FALLBACK_EVENT,
            status=None,
            detail={
                "from_message_id": message.id,
                "message_id": following.id,
                "step": following.chain_step,
                "channel": following.channel,
                "reason": "failed" if failed else step.on.describe(),
            },
            at=at,
        )
    return following


class FallbackChecks:
    """The ``fallback_check`` job handler: a step's time to reach its goal is up."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    async def handle(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """One outcome per job: move the chain on if its step missed the goal."""
        return [self._check(job) for job in batch]

    def _check(self, job: Job) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            message = await message_store.lock_message(conn, job.message_id or "")
            if message is not None:
                await move_on(conn, message, self.clock())
            await job_store.finish_jobs(conn, [job.id])

        return write
