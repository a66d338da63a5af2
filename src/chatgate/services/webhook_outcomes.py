"""What an attempt's answer means for its delivery and endpoint, and writing it, in batches.

A 2xx answer delivers. A 410 fails the delivery and disables the endpoint at once. Anything
else (no answer, a timeout, a redirect, any other status) is tried again after the next wait
of ``RETRY_SCHEDULE`` with ±10 % jitter, or after the receiver's ``Retry-After`` if that is
longer; after the last attempt the delivery is ``failed``. An endpoint that has failed
everything for ``DISABLE_AFTER`` is disabled. Either way the account's log gets a
``webhook.endpoint_disabled`` event, which its other endpoints receive.

Outcomes are written by one writer task per sender, as many as finished since its last
write in one transaction: the deliveries the sender still holds are locked first (a lease
that ran out may have been taken over: that delivery is left to its new holder), then their
new states and attempts go in as one statement each.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.engine.clock import Clock
from chatgate.net_guard import Answer
from chatgate.storage import events as event_store
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.webhook_deliveries import Attempt, Delivery

log = structlog.get_logger(__name__)

# The wait before each attempt: the first at once, the eighth and last ten hours after the
# seventh (about 28 hours in all).
RETRY_SCHEDULE = tuple(
    timedelta(seconds=s) for s in (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
DISABLE_AFTER = timedelta(days=5)
ENDPOINT_DISABLED_EVENT = "webhook.endpoint_disabled"
# A Retry-After longer than this is not taken at its word.
MAX_RETRY_AFTER = timedelta(hours=24)


def retry_after(answer: Answer, now: datetime) -> timedelta | None:
    """The wait a receiver asked for with ``Retry-After`` (seconds or an HTTP date)."""
    value = next((v for k, v in answer.headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def next_attempt_at(
    attempts_made: int, now: datetime, jitter: Callable[[], float], asked: timedelta | None
) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts; ``None`` when to give up."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[attempts_made] * jitter()
    if asked is not None:
        wait = max(wait, asked)
    return now + wait


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt, as it ended."""

    delivery: Delivery
    attempt: Attempt
    answer: Answer | None

    @property
    def succeeded(self) -> bool:
        """Whether the receiver took it (2xx)."""
        return self.answer is not None and 200 <= self.answer.status < 300

    @property
    def gone(self) -> bool:
        """Whether the receiver said the endpoint is gone for good (410)."""
        return self.answer is not None and self.answer.status == 410


def _new_state(
    outcome: Outcome, now: datetime, jitter: Callable[[], float]
) -> tuple[str, datetime | None]:
    if outcome.succeeded:
        return delivery_store.DELIVERED, None
    if outcome.gone:
        return delivery_store.FAILED, None
    asked = retry_after(outcome.answer, now) if outcome.answer is not None else None
    due = next_attempt_at(outcome.delivery.attempts + 1, now, jitter, asked)
    return (delivery_store.PENDING if due is not None else delivery_store.FAILED), due


async def write_outcomes(
    conn: AsyncConnection,
    worker_id: str,
    outcomes: Sequence[Outcome],
    now: datetime,
    jitter: Callable[[], float],
) -> list[tuple[Outcome, str]]:
    """Write the outcomes of the deliveries ``worker_id`` still holds, and their endpoints';
    returns those written, each with the delivery's new status."""
    held = await delivery_store.lock_held(conn, worker_id, [o.delivery.id for o in outcomes])
    mine = [o for o in outcomes if o.delivery.id in held]
    for lost in (o for o in outcomes if o.delivery.id not in held):
        log.warning("webhooks.lease_lost", delivery=lost.delivery.id)
    states = [(o, *_new_state(o, now, jitter)) for o in mine]
    delivery_store.stage_outcomes(
        conn,
        worker_id,
        [(o.delivery, o.attempt, status, due) for o, status, due in states],
    )
    working = sorted({o.delivery.endpoint_id for o in mine if o.succeeded})
    # An endpoint that took any delivery of the batch is working, whatever else failed.
    failing = sorted({o.delivery.endpoint_id for o in mine if not o.succeeded} - set(working))
    endpoint_store.stage_working(conn, working)
    since = await endpoint_store.note_failures(conn, failing, now)
    to_disable = {o.delivery.endpoint_id: "gone" for o in mine if o.gone}
    for endpoint_id, first_failure in since.items():
        if now - first_failure >= DISABLE_AFTER:
            to_disable.setdefault(endpoint_id, "failing")
    for endpoint_id, reason in sorted(to_disable.items()):
        if await endpoint_store.disable_endpoint(conn, endpoint_id, reason, now):
            await _say_disabled(conn, endpoint_id, reason, since.get(endpoint_id), now)
    return [(o, status) for o, status, _ in states]


async def _say_disabled(
    conn: AsyncConnection,
    endpoint_id: str,
    reason: str,
    failing_since: datetime | None,
    now: datetime,
) -> None:
    """Log the account's ``webhook.endpoint_disabled`` event (its other endpoints get it)."""
    endpoint = await endpoint_store.endpoint_by_id(conn, endpoint_id)
    assert endpoint is not None  # disabled in this very transaction
    detail = {
        "endpoint_id": endpoint.id,
        "url": endpoint.url,
        "reason": reason,
        "failing_since": failing_since.isoformat() if failing_since else None,
    }
    await event_store.append_account_event(
        conn, endpoint.account_id, endpoint.mode, ENDPOINT_DISABLED_EVENT, detail, now
    )
    log.warning("webhooks.endpoint_disabled", endpoint=endpoint_id, reason=reason)


class OutcomeWriter:
    """Collects outcomes and writes all that are waiting in one transaction at a time."""

    def __init__(
        self, database: Database, worker_id: str, clock: Clock, jitter: Callable[[], float]
    ) -> None:
        self.database = database
        self.worker_id = worker_id
        self.clock = clock
        self.jitter = jitter
        self._waiting: list[Outcome] = []
        self._task: asyncio.Task[None] | None = None
        # Deliveries recorded as delivered, by endpoint, since this writer began.
        self.delivered: Counter[str] = Counter()

    def add(self, outcome: Outcome) -> None:
        """Queue an outcome; it is written soon, with the others waiting then."""
        self._waiting.append(outcome)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="webhook-outcomes")

    async def flush(self) -> None:
        """Wait until every outcome queued so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            await self._write(batch)

    async def _write(self, batch: list[Outcome]) -> None:
        try:
            async with self.database.write() as conn:
                written = await write_outcomes(
                    conn, self.worker_id, batch, self.clock(), self.jitter
                )
            self._count(written)
            return
        except Exception:
            log.exception("webhooks.outcomes_write_failed", outcomes=len(batch))
        # One outcome that cannot be written must not hold back the rest.
        for outcome in batch:
            try:
                async with self.database.write() as conn:
                    written = await write_outcomes(
                        conn, self.worker_id, [outcome], self.clock(), self.jitter
                    )
                self._count(written)
            except Exception:
                # Left as it is: its lease runs out and it is sent again.
                log.exception("webhooks.outcome_write_failed", delivery=outcome.delivery.id)

    def _count(self, written: list[tuple[Outcome, str]]) -> None:
        for outcome, status in written:
            if status == delivery_store.DELIVERED:
                self.delivered[outcome.delivery.endpoint_id] += 1
