"""Webhook delivery throughput: the real sender against receivers in processes of their own.

Deliveries are queued straight into the store (as the fan-out writes them), then one
``WebhookSender`` sends them, signed and through the SSRF guard (private addresses allowed,
the receivers being on loopback), to:
1. a fast receiver alone: deliveries per second from start until every one is recorded;
2. the same fast receiver with a slow one beside it (each answer after ``SLOW_SECONDS``),
   both with deliveries waiting: the fast receiver's rate again, and how much the slow one
   cost it.
The two take turns ``ROUNDS`` times; the medians are reported.

Run with ``python -m bench.webhooks`` (SQLite in a temporary folder) or through ``make bench``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass

import orjson

from bench.serving import served
from chatgate import event_loop
from chatgate.config import Settings
from chatgate.crypto import CredentialBox, new_key
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.engine.clock import system_clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.keys import KeySpec, create_key
from chatgate.services.webhook_endpoints import EndpointChanges, WebhookEndpoints
from chatgate.services.webhook_sender import SenderSettings, WebhookSender
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage.database import Database
from chatgate.storage.migrate import upgrade_async
from chatgate.storage.types import utcnow

FAST_DELIVERIES = 10_000
ROUNDS = 3
SLOW_DELIVERIES = 200
SLOW_SECONDS = 5.0
PAYLOAD = orjson.dumps(
    {
        "id": "evt_BENCH",
        "object": "event",
        "type": "message.status",
        "created_at": "2026-12-02T00:00:00+00:00",
        "data": {"message_id": "msg_BENCH", "status": "delivered", "metadata": {"n": 1}},
    }
).decode()


@dataclass(frozen=True)
class WebhookResult:
    """What the webhook benchmark measured on one store."""

    fast_alone: float
    fast_beside_slow: float

    @property
    def cost(self) -> float:
        """The share of the fast receiver's rate that the slow one took away."""
        return 1 - self.fast_beside_slow / self.fast_alone


async def _queue(database: Database, account_id: str, endpoint_id: str, count: int) -> None:
    now = utcnow()
    for start in range(0, count, 1000):
        rows = [
            delivery_store.delivery_row(
                new_id("dlv"), account_id, endpoint_id, None, "message.status", PAYLOAD, now
            )
            for _ in range(start, min(count, start + 1000))
        ]
        async with database.write() as conn:
            await delivery_store.add_deliveries(conn, rows)


async def _rate(database: Database, sender: WebhookSender, endpoint_id: str, count: int) -> float:
    """Deliveries per second to ``endpoint_id`` until ``count`` of them are delivered."""
    started = time.perf_counter()
    running = asyncio.create_task(sender.run())
    try:
        # The sender's own tally of what it recorded: no query competes with it for the CPU.
        while sender.delivered_to(endpoint_id) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return count / (time.perf_counter() - started)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def measure(database_url: str) -> WebhookResult:
    """Run both scenarios on the (migrated, or fresh) store at ``database_url``."""
    secret_key = new_key()
    settings = Settings(database_url=database_url, secret_key=secret_key, log_level="warning")
    await upgrade_async(settings)
    database = Database(settings)
    with (
        served("bench.receiver:app", {"BENCH_RECEIVER_DELAY": "0"}) as fast_url,
        served("bench.receiver:app", {"BENCH_RECEIVER_DELAY": str(SLOW_SECONDS)}) as slow_url,
    ):
        try:
            return await _scenarios(database, secret_key, fast_url, slow_url)
        finally:
            await database.dispose()


async def _scenarios(
    database: Database, secret_key: str, fast_url: str, slow_url: str
) -> WebhookResult:
    """The fast receiver alone, then beside the slow one."""
    account = await create_account(database, f"bench-hooks-{uuid.uuid4().hex[:6]}")
    actor = Actor(account.id)
    async with database.write() as conn:
        key, _ = await create_key(conn, actor, KeySpec("b", KeyMode.LIVE, frozenset({"*"})))
    endpoints = WebhookEndpoints(CredentialBox([secret_key]), allow_private=True)

    async def endpoint(url: str) -> str:
        async with database.write() as conn:
            made, _ = await endpoints.create(
                conn, actor, key.mode, EndpointChanges(url=f"{url}/hooks"), utcnow()
            )
        return made.id

    def sender() -> WebhookSender:
        return WebhookSender(
            database,
            endpoints,
            LocalWakeup(),
            system_clock,
            SenderSettings(allow_private=True, poll_seconds=0.05),
        )

    async def slow_one(enabled: bool) -> None:
        async with database.write() as conn:
            await endpoints.update(
                conn, actor, key.mode, held_up, EndpointChanges(enabled=enabled), utcnow()
            )

    fast = await endpoint(fast_url)
    held_up = await endpoint(slow_url)
    await _queue(database, account.id, held_up, SLOW_DELIVERIES)
    # The two cases take turns, so that the machine's drift over time weighs on both alike.
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(ROUNDS):
        for beside_slow in (False, True):
            await slow_one(beside_slow)
            await _queue(database, account.id, fast, FAST_DELIVERIES)
            rates[beside_slow].append(await _rate(database, sender(), fast, FAST_DELIVERIES))
    return WebhookResult(statistics.median(rates[False]), statistics.median(rates[True]))


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        result = event_loop.run(measure(f"sqlite:///{work}/hooks.db"))
    print(
        f"fast alone {result.fast_alone:,.0f}/s, beside a slow one {result.fast_beside_slow:,.0f}/s"
        f" (cost {result.cost:.1%})"
    )


if __name__ == "__main__":
    main()
