"""Sending webhook deliveries: signed, through the SSRF guard, retried on a fixed schedule.

Each attempt posts the delivery's exact stored bytes, signed afresh (Standard Webhooks; the
``webhook-id`` is the delivery's id on every attempt), within ``ATTEMPT_TIMEOUT``. A 2xx
answer is success. Anything else fails the attempt: a 410 disables the endpoint at once;
otherwise the next attempt follows ``RETRY_SCHEDULE`` with ±10 % jitter, later if the
receiver asked so with ``Retry-After``, and the delivery is ``failed`` (and kept) when the
schedule runs out. An endpoint whose every delivery has failed for ``DISABLE_AFTER`` is
disabled.

Deliveries are claimed with a lease and run concurrently, at most ``per_endpoint`` at a
time for one endpoint, so that a slow or dead receiver holds only its own slots: the others
go on at full speed. Each outcome is written on its own as soon as it is known.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate import webhooks
from chatgate.engine.clock import Clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import worker_name
from chatgate.net_guard import Answer, Resolver, UnsafeURL, call_checked, check_url, system_resolver
from chatgate.services.webhook_endpoints import WebhookEndpoints
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.webhook_deliveries import Attempt, Delivery
from chatgate.storage.webhook_endpoints import StoredEndpoint

log = structlog.get_logger(__name__)

# The wait before each attempt: the first at once, the eighth and last ten hours after the
# seventh (about 28 hours in all).
RETRY_SCHEDULE = tuple(
    timedelta(seconds=s) for s in (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
ATTEMPT_TIMEOUT = 15.0
DISABLE_AFTER = timedelta(days=5)
# A Retry-After longer than this is not taken at its word.
MAX_RETRY_AFTER = timedelta(hours=24)
EXCERPT_BYTES = 1024
USER_AGENT = "Chatgate-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How hard the sender works."""

    per_endpoint: int = 8
    in_flight: int = 256
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    allow_private: bool = False
    attempt_timeout: float = ATTEMPT_TIMEOUT


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
class _Result:
    attempt: Attempt
    answer: Answer | None


class WebhookSender:
    """Claims due deliveries and sends them until stopped."""

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        endpoints: WebhookEndpoints,
        wakeup: LocalWakeup,
        clock: Clock,
        settings: SenderSettings,
        *,
        resolver: Resolver = system_resolver,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.http = http
        self.endpoints = endpoints
        self.wakeup = wakeup
        self.clock = clock
        self.settings = settings
        self.resolver = resolver
        self.rng = rng or random.Random()
        self.name = worker_name()
        self._busy: Counter[str] = Counter()
        # Each delivery in flight, by the task sending it.
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._slot_freed = asyncio.Event()

    def _jitter(self) -> float:
        return self.rng.uniform(0.9, 1.1)

    async def run(self) -> None:
        """Send deliveries as they fall due, until cancelled; then hand back what it holds."""
        try:
            while True:
                started = await self.run_once()
                if started == 0:
                    await self._idle()
        finally:
            await self._stop_in_flight()

    async def wait_idle(self) -> None:
        """Wait until every delivery started so far has been sent and written."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _stop_in_flight(self) -> None:
        """Cancel the deliveries in flight and hand them back for another try at once."""
        held = list(self._tasks.values())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not held:
            return
        try:
            async with self.database.write() as conn:
                await delivery_store.release(conn, self.name, held)
        except Exception:
            # Not fatal: their leases run out and they are sent again.
            log.exception("webhooks.release_failed", deliveries=len(held))

    async def _idle(self) -> None:
        if len(self._tasks) >= self.settings.in_flight:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return
        async with self.database.read() as conn:
            due = await delivery_store.next_due_at(conn)
        wait = self.settings.poll_seconds
        if due is not None:
            wait = min(max((due - self.clock()).total_seconds(), 0.01), wait)
        # A freed slot of a busy endpoint may let its next delivery go.
        self._slot_freed.clear()
        waiters = [
            asyncio.ensure_future(self.wakeup.wait(wait)),
            asyncio.ensure_future(self._slot_freed.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim what may start now and start it; returns how many deliveries started."""
        room = self.settings.in_flight - len(self._tasks)
        if room <= 0:
            return 0
        full = [e for e, n in self._busy.items() if n >= self.settings.per_endpoint]
        now = self.clock()
        async with self.database.write() as conn:
            claimed = await delivery_store.claim_due(
                conn,
                self.name,
                now=now,
                lease=timedelta(seconds=self.settings.lease_seconds),
                limit=room,
                skip_endpoints=full,
            )
            starting, surplus = self._within_caps(claimed)
            await delivery_store.release(conn, self.name, [d.id for d in surplus])
        for delivery in starting:
            self._busy[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks[task] = delivery.id
            task.add_done_callback(self._done(delivery.endpoint_id))
        return len(starting)

    def _within_caps(self, claimed: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
        taken: Counter[str] = Counter()
        starting: list[Delivery] = []
        surplus: list[Delivery] = []
        for delivery in claimed:
            endpoint = delivery.endpoint_id
            if self._busy[endpoint] + taken[endpoint] < self.settings.per_endpoint:
                taken[endpoint] += 1
                starting.append(delivery)
            else:
                surplus.append(delivery)
        return starting, surplus

    def _done(self, endpoint_id: str) -> Callable[[asyncio.Task[None]], None]:
        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.pop(task, None)
            self._busy[endpoint_id] -= 1
            if self._busy[endpoint_id] <= 0:
                del self._busy[endpoint_id]
            self._slot_freed.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("webhooks.delivery_crashed", exc_info=task.exception())

        return finished

    async def _deliver(self, delivery: Delivery) -> None:
        async with self.database.read() as conn:
            endpoint = await endpoint_store.endpoint_by_id(conn, delivery.endpoint_id)
        if endpoint is None:  # removed meanwhile, with its deliveries
            return
        result = await self._attempt(delivery, endpoint)
        await self.database.transact(lambda conn: self._record(conn, delivery, result))

    async def _attempt(self, delivery: Delivery, endpoint: StoredEndpoint) -> _Result:
        now = self.clock()
        secrets = self.endpoints.signing_secrets(endpoint, now)
        body = delivery.payload.encode("utf-8")
        url = endpoint.url
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **webhooks.sign(
                secrets, delivery.id, int(now.timestamp()), body, plain=endpoint.plain_signature
            ),
        }
        started = time.monotonic()
        answer: Answer | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.settings.attempt_timeout):
                target = await check_url(
                    url, allow_private=self.settings.allow_private, resolver=self.resolver
                )
                answer = await call_checked(
                    self.http,
                    "POST",
                    url,
                    target,
                    content=body,
                    headers=headers,
                    max_response_bytes=EXCERPT_BYTES,
                )
        except UnsafeURL as exc:
            error = f"refused: {exc}"
        except TimeoutError:
            error = f"no answer within {self.settings.attempt_timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = Attempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=answer.status if answer else None,
            latency_ms=int((time.monotonic() - started) * 1000),
            response_excerpt=answer.excerpt.decode("utf-8", "replace") if answer else None,
            error=error,
        )
        return _Result(attempt, answer)

    async def _record(self, conn: AsyncConnection, delivery: Delivery, result: _Result) -> None:
        now = self.clock()
        answer = result.answer
        succeeded = answer is not None and 200 <= answer.status < 300
        gone = answer is not None and answer.status == 410
        if succeeded:
            status, due = delivery_store.DELIVERED, None
        elif gone:
            status, due = delivery_store.FAILED, None
        else:
            asked = retry_after(answer, now) if answer is not None else None
            due = next_attempt_at(delivery.attempts + 1, now, self._jitter, asked)
            status = delivery_store.PENDING if due is not None else delivery_store.FAILED
        written = await delivery_store.record_attempt(
            conn,
            self.name,
            result.attempt,
            delivery.endpoint_id,
            status=status,
            next_attempt_at=due,
        )
        if not written:  # the lease ran out and another sender took it over
            log.warning("webhooks.lease_lost", delivery=delivery.id)
            return
        failing_since = await endpoint_store.note_result(
            conn, delivery.endpoint_id, succeeded=succeeded, at=now
        )
        reason = None
        if gone:
            reason = "gone"
        elif failing_since is not None and now - failing_since >= DISABLE_AFTER:
            reason = "failing"
        if reason and await endpoint_store.disable_endpoint(
            conn, delivery.endpoint_id, reason, now
        ):
            log.warning("webhooks.endpoint_disabled", endpoint=delivery.endpoint_id, reason=reason)
