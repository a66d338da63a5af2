"""Sending webhook deliveries: signed, through the SSRF guard, within ``ATTEMPT_TIMEOUT``.

Each attempt posts the delivery's exact stored bytes, signed afresh (Standard Webhooks; the
``webhook-id`` is the delivery's id on every attempt). What the answer means, retries
included, is ``webhook_outcomes``'s to say and write.

Deliveries are claimed with a lease and run concurrently, at most ``per_endpoint`` at a
time for one endpoint, so that a slow or dead receiver holds only its own slots: the others
go on at full speed. While deliveries are in flight, a claim waits for half an endpoint's
share of slots to come back (or ``claim_interval``), so that one claim starts many.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import structlog

from chatgate.engine.clock import Clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import worker_name
from chatgate.net_guard import (
    Answer,
    Resolver,
    Target,
    UnsafeURL,
    check_url,
    post_checked,
    system_resolver,
)
from chatgate.services.webhook_endpoints import WebhookEndpoints
from chatgate.services.webhook_formats import Signing
from chatgate.services.webhook_outcomes import Outcome, OutcomeWriter
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.webhook_deliveries import Attempt, Delivery
from chatgate.storage.webhook_endpoints import StoredEndpoint

log = structlog.get_logger(__name__)

ATTEMPT_TIMEOUT = 15.0
# How long the SSRF guard's answer for one URL (its resolved, checked address) is kept.
CHECK_TTL_SECONDS = 30.0
_TARGETS_KEPT = 4096
EXCERPT_BYTES = 1024
USER_AGENT = "Chatgate-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How hard the sender works."""

    per_endpoint: int = 64
    in_flight: int = 256
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    allow_private: bool = False
    attempt_timeout: float = ATTEMPT_TIMEOUT
    # The longest wait for slots to free up before the next claim, while deliveries are in
    # flight (a claim that comes sooner finds enough room for many).
    claim_interval: float = 0.02


class WebhookSender:
    """Claims due deliveries and sends them until stopped."""

    def __init__(
        self,
        database: Database,
        endpoints: WebhookEndpoints,
        wakeup: LocalWakeup,
        clock: Clock,
        settings: SenderSettings,
        *,
        resolver: Resolver = system_resolver,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.endpoints = endpoints
        self._session: aiohttp.ClientSession | None = None
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
        self._finished_since_claim = 0
        # Checked URLs: when each answer expires, and the target.
        self._targets: dict[str, tuple[float, Target]] = {}
        self._outcomes = OutcomeWriter(database, self.name, clock, self._jitter)

    def _jitter(self) -> float:
        return self.rng.uniform(0.9, 1.1)

    async def _checked(self, url: str) -> Target:
        """``url`` checked by the SSRF guard, the answer kept for ``CHECK_TTL_SECONDS``.

        The request still goes to the address that was checked, so keeping the answer a
        little while opens no door to DNS rebinding; it saves a lookup per delivery.
        """
        now = time.monotonic()
        kept = self._targets.get(url)
        if kept is not None and kept[0] > now:
            return kept[1]
        target = await check_url(
            url, allow_private=self.settings.allow_private, resolver=self.resolver
        )
        if len(self._targets) >= _TARGETS_KEPT:
            self._targets.clear()
        self._targets[url] = (now + CHECK_TTL_SECONDS, target)
        return target

    async def run(self) -> None:
        """Send deliveries as they fall due, until cancelled; then hand back what it holds."""
        try:
            while True:
                started = await self.run_once()
                if started == 0:
                    await self._idle()
                if self._tasks:
                    await self._gather_room()
        finally:
            await self._stop_in_flight()
            await self.aclose()

    async def _gather_room(self) -> None:
        """Let slots free up before the next claim, so that one claim (on SQLite one
        durable commit) starts many deliveries rather than one: until half an endpoint's
        share has come back, or ``claim_interval`` has passed."""
        enough = max(1, self.settings.per_endpoint // 2)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.claim_interval):
                while self._finished_since_claim < enough and self._tasks:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop, as aiohttp requires.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.in_flight, use_dns_cache=False),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                # Only an excerpt of the answer is kept: it is stored as it came.
                auto_decompress=False,
                skip_auto_headers=("Accept", "Accept-Encoding"),
            )
        return self._session

    async def aclose(self) -> None:
        """Close the connections to receivers."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def delivered_to(self, endpoint_id: str) -> int:
        """How many deliveries this sender has recorded as delivered to ``endpoint_id``."""
        return self._outcomes.delivered[endpoint_id]

    async def wait_idle(self) -> None:
        """Wait until every delivery started so far has been sent and written."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._outcomes.flush()

    async def _stop_in_flight(self) -> None:
        """Cancel the deliveries in flight and hand them back for another try at once."""
        held = list(self._tasks.values())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # What was sent is written; what was cut short is handed back.
        await self._outcomes.flush()
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
        self._finished_since_claim = 0
        now = self.clock()
        async with self.database.write() as conn:
            starting = await delivery_store.claim_due(
                conn,
                self.name,
                now=now,
                lease=timedelta(seconds=self.settings.lease_seconds),
                limit=room,
                per_endpoint=self.settings.per_endpoint,
                busy=self._busy,
            )
            endpoints = await endpoint_store.endpoints_by_id(
                conn, [delivery.endpoint_id for delivery in starting]
            )
        for delivery in starting:
            endpoint = endpoints.get(delivery.endpoint_id)
            if endpoint is None:  # removed meanwhile, with its deliveries
                continue
            self._busy[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(delivery, endpoint))
            self._tasks[task] = delivery.id
            task.add_done_callback(self._done(delivery.endpoint_id))
        return len(starting)

    def _done(self, endpoint_id: str) -> Callable[[asyncio.Task[None]], None]:
        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.pop(task, None)
            self._busy[endpoint_id] -= 1
            if self._busy[endpoint_id] <= 0:
                del self._busy[endpoint_id]
            self._finished_since_claim += 1
            self._slot_freed.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("webhooks.delivery_crashed", exc_info=task.exception())

        return finished

    async def _deliver(self, delivery: Delivery, endpoint: StoredEndpoint) -> None:
        self._outcomes.add(await self._attempt(delivery, endpoint))

    async def _attempt(self, delivery: Delivery, endpoint: StoredEndpoint) -> Outcome:
        now = self.clock()
        secrets = self.endpoints.signing_secrets(endpoint, now)
        body = delivery.payload.encode("utf-8")
        url = endpoint.url
        signing = Signing(secrets, delivery.id, delivery.event_type, int(now.timestamp()), body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.endpoints.formats[endpoint.format].headers(signing, endpoint),
        }
        started = time.monotonic()
        answer: Answer | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.settings.attempt_timeout):
                target = await self._checked(url)
                answer = await post_checked(
                    self._http(),
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
        except (aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempt = Attempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=answer.status if answer else None,
            latency_ms=int((time.monotonic() - started) * 1000),
            response_excerpt=answer.excerpt.decode("utf-8", "replace") if answer else None,
            error=error,
        )
        return Outcome(delivery, attempt, answer)
