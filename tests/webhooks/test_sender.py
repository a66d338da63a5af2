"""The sender, on a fake clock: the retry schedule, retry hints, 410, auto-disable, replays,
per-endpoint isolation, timeouts and redirects."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from chatgate import webhooks
from chatgate.crypto import CredentialBox
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.engine.clock import FakeClock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.services import webhook_deliveries as delivery_service
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.keys import KeySpec, create_key
from chatgate.services.webhook_endpoints import EndpointChanges, WebhookEndpoints
from chatgate.services.webhook_outcomes import RETRY_SCHEDULE
from chatgate.services.webhook_sender import SenderSettings, WebhookSender
from chatgate.storage import events as event_store
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent
from chatgate.storage.webhook_deliveries import Delivery
from chatgate.storage.webhook_endpoints import StoredEndpoint
from tests.support import TEST_SECRET_KEY, until
from tests.webhooks.receiver import Answer, Receiver, verify_officially


@dataclass
class World:
    """A store, an account's key, endpoints on the receiver, and a sender on a fake clock."""

    database: Database
    key: ApiKey
    endpoints: WebhookEndpoints
    sender: WebhookSender
    clock: FakeClock
    receiver: Receiver
    # Each receiving path's signing secret, and how many deliveries have been verified.
    secrets: dict[str, str] = field(default_factory=dict)
    verified: int = 0

    @property
    def actor(self) -> Actor:
        """The key as the audit log names who acts (no address: not through the API)."""
        return Actor.of(self.key, None)

    async def endpoint(self, path: str) -> tuple[StoredEndpoint, str]:
        async with self.database.write() as conn:
            made, secret = await self.endpoints.create(
                conn,
                self.actor,
                self.key.mode,
                EndpointChanges(url=self.receiver.url(path)),
                self.clock(),
            )
        self.secrets[path] = secret
        return made, secret

    async def account_events(self, at_least: int = 1) -> list[LoggedEvent]:
        """The events of the account itself (not of a message) in its log, once there are
        ``at_least`` (on PostgreSQL the log shows an event only once every transaction
        older than its own has ended, and other tests' transactions may still be open)."""
        found: list[LoggedEvent] = []

        async def enough() -> bool:
            nonlocal found
            async with self.database.read() as conn:
                logged = await event_store.read_log(
                    conn,
                    self.key.account_id,
                    self.key.mode,
                    after=None,
                    filters=EventFilter(),
                    limit=100,
                )
            found = [event for event in logged if event.message_id is None]
            return len(found) >= at_least

        await until(enough)
        return found

    def verify_received(self) -> None:
        """Every delivery received so far verifies with the official package."""
        for one in self.receiver.received[self.verified :]:
            verify_officially(self.secrets[one.path], one)
        self.verified = len(self.receiver.received)

    async def ping(self, endpoint: StoredEndpoint) -> str:
        async with self.database.write() as conn:
            delivery = await self.endpoints.ping(conn, self.key, endpoint.id, self.clock())
        return delivery.id

    async def step(self) -> int:
        """Start what is due, and wait until it is sent and written."""
        started = await self.sender.run_once()
        await self.sender.wait_idle()
        self.verify_received()
        return started

    async def delivery(self, delivery_id: str) -> Delivery:
        async with self.database.read() as conn:
            found = await delivery_store.get_delivery(conn, self.key.account_id, delivery_id)
        assert found is not None
        return found

    async def stored(self, endpoint: StoredEndpoint) -> StoredEndpoint:
        async with self.database.read() as conn:
            found = await endpoint_store.endpoint_by_id(conn, endpoint.id)
        assert found is not None
        return found


def sender_for(
    database: Database, endpoints: WebhookEndpoints, clock: FakeClock, **settings: object
) -> WebhookSender:
    values: dict[str, object] = {"allow_private": True, "attempt_timeout": 2.0}
    values.update(settings)
    return WebhookSender(
        database,
        endpoints,
        LocalWakeup(),
        clock,
        SenderSettings(**values),  # type: ignore[arg-type]
        rng=random.Random(7),
    )


@pytest.fixture
async def world(database: Database, receiver: Receiver) -> AsyncIterator[World]:
    account = await create_account(database, f"hooks-{uuid.uuid4().hex[:10]}")
    async with database.write() as conn:
        key, _ = await create_key(
            conn, Actor(account.id), KeySpec("k", KeyMode.TEST, frozenset({"*"}))
        )
    endpoints = WebhookEndpoints(CredentialBox([TEST_SECRET_KEY]), allow_private=True)
    clock = FakeClock()
    sender = sender_for(database, endpoints, clock)
    yield World(database, key, endpoints, sender, clock, receiver)
    await sender.aclose()


async def test_a_failing_delivery_follows_the_schedule_then_fails_with_one_id(world: World) -> None:
    endpoint, secret = await world.endpoint("/down")
    world.receiver.script["/down"] = [Answer(500) for _ in RETRY_SCHEDULE]
    delivery_id = await world.ping(endpoint)
    for attempt in range(1, len(RETRY_SCHEDULE) + 1):
        assert await world.step() == 1
        delivery = await world.delivery(delivery_id)
        assert delivery.attempts == attempt
        if attempt < len(RETRY_SCHEDULE):
            assert delivery.status == "pending"
            assert delivery.next_attempt_at is not None
            waited = (delivery.next_attempt_at - world.clock()).total_seconds()
            expected = RETRY_SCHEDULE[attempt].total_seconds()
            assert expected * 0.9 <= waited <= expected * 1.1  # ±10 % jitter
            # Not a moment early: nothing is due until the wait is over.
            world.clock.advance(waited - 0.5)
            assert await world.step() == 0
            world.clock.advance(0.5)
    delivery = await world.delivery(delivery_id)
    assert (delivery.status, delivery.next_attempt_at, delivery.last_status_code) == (
        "failed",
        None,
        500,
    )
    received = world.receiver.at("/down")
    assert len(received) == len(RETRY_SCHEDULE) == 8
    assert {r.headers["webhook-id"] for r in received} == {delivery_id}
    for one in received:
        # Chatgate's own check agrees with the official one (see World.step).
        stamp = float(one.headers["webhook-timestamp"])
        webhooks.verify(secret, one.headers, one.body, now=stamp)
    assert len({r.headers["webhook-timestamp"] for r in received}) == 8  # signed afresh
    assert await world.step() == 0


@pytest.mark.parametrize(
    ("header", "at_least"),
    [("120", 120.0), ("Wed, 21 Oct 2099 07:28:00 GMT", 24 * 3600.0)],
)
async def test_retry_after_is_honoured(world: World, header: str, at_least: float) -> None:
    endpoint, _ = await world.endpoint("/busy")
    world.receiver.script["/busy"] = [Answer(429, {"Retry-After": header})]
    delivery_id = await world.ping(endpoint)
    await world.step()
    delivery = await world.delivery(delivery_id)
    assert delivery.next_attempt_at is not None
    waited = (delivery.next_attempt_at - world.clock()).total_seconds()
    assert at_least <= waited <= max(at_least, 5.5)


async def test_410_disables_the_endpoint_and_its_deliveries_wait(world: World) -> None:
    endpoint, _ = await world.endpoint("/gone")
    world.receiver.script["/gone"] = [Answer(410)]
    first = await world.ping(endpoint)
    await world.step()
    assert (await world.delivery(first)).status == "failed"
    stored = await world.stored(endpoint)
    assert (stored.enabled, stored.disabled_reason) == (False, "gone")
    assert [(e.type, (e.detail or {})["reason"]) for e in await world.account_events()] == [
        ("webhook.endpoint_disabled", "gone")
    ]
    second = await world.ping(endpoint)
    assert await world.step() == 0
    assert (await world.delivery(second)).status == "pending"
    async with world.database.write() as conn:
        await world.endpoints.update(
            conn,
            world.actor,
            world.key.mode,
            endpoint.id,
            EndpointChanges(enabled=True),
            world.clock(),
        )
    assert await world.step() == 1
    assert (await world.delivery(second)).status == "delivered"


async def test_an_endpoint_failing_everything_for_five_days_is_disabled(world: World) -> None:
    endpoint, _ = await world.endpoint("/dead")
    world.receiver.script["/dead"] = [Answer(503) for _ in range(20)]
    await world.ping(endpoint)
    await world.step()
    failing = await world.stored(endpoint)
    assert failing.enabled
    assert failing.failing_since == world.clock()
    world.clock.advance(timedelta(days=4).total_seconds())
    await world.ping(endpoint)
    await world.step()
    assert (await world.stored(endpoint)).enabled
    world.clock.advance(timedelta(days=1).total_seconds())
    await world.ping(endpoint)
    await world.step()
    stored = await world.stored(endpoint)
    assert (stored.enabled, stored.disabled_reason) == (False, "failing")
    [said] = await world.account_events()
    assert said.type == "webhook.endpoint_disabled"
    assert said.detail == {
        "endpoint_id": endpoint.id,
        "url": endpoint.url,
        "reason": "failing",
        "failing_since": failing.failing_since.isoformat() if failing.failing_since else None,
    }


async def test_a_success_ends_the_run_of_failures(world: World) -> None:
    endpoint, _ = await world.endpoint("/flaky")
    world.receiver.script["/flaky"] = [Answer(500)]
    delivery_id = await world.ping(endpoint)
    await world.step()
    assert (await world.stored(endpoint)).failing_since is not None
    world.clock.advance(6)
    await world.step()
    assert (await world.delivery(delivery_id)).status == "delivered"
    assert (await world.stored(endpoint)).failing_since is None


async def test_replay_one_and_replay_every_failure_since(world: World) -> None:
    endpoint, _ = await world.endpoint("/replay")
    world.receiver.script["/replay"] = [Answer(400) for _ in range(3 * len(RETRY_SCHEDULE))]
    started = world.clock()
    ids = [await world.ping(endpoint) for _ in range(3)]
    for _ in RETRY_SCHEDULE:
        await world.step()
        world.clock.advance(11 * 3600)
    assert {(await world.delivery(i)).status for i in ids} == {"failed"}
    world.receiver.script["/replay"] = []

    async with world.database.write() as conn:
        replayed = await delivery_service.replay_one(
            conn, world.actor, world.key.mode, ids[0], world.clock()
        )
    assert (replayed.status, replayed.attempts) == ("pending", 0)
    await world.step()
    assert (await world.delivery(ids[0])).status == "delivered"
    assert world.receiver.at("/replay")[-1].headers["webhook-id"] == ids[0]

    async with world.database.write() as conn:
        count = await delivery_service.replay_undelivered_since(
            conn, world.endpoints, world.actor, world.key.mode, endpoint.id, started, world.clock()
        )
    assert count == 2
    await world.step()
    assert {(await world.delivery(i)).status for i in ids} == {"delivered"}


async def test_replay_since_sends_what_waits_in_its_schedule_now_and_nothing_twice(
    world: World,
) -> None:
    """After a receiver's outage its deliveries are pending, waiting for their next try: a
    replay sends them at once. One delivered is not sent again, nor one being sent."""
    world.sender = sender_for(world.database, world.endpoints, world.clock, attempt_timeout=30.0)
    endpoint, _ = await world.endpoint("/outage")
    started = world.clock()
    delivered = await world.ping(endpoint)
    await world.step()
    world.receiver.script["/outage"] = [Answer(503) for _ in range(6)]
    waiting = [await world.ping(endpoint) for _ in range(3)]
    await world.step()
    world.clock.advance(6)
    await world.step()
    # Each tried twice; the next try is 5 minutes away.
    assert {((d := await world.delivery(i)).status, d.attempts) for i in waiting} == {
        ("pending", 2)
    }
    # The receiver is back; one more delivery is on its way as the replay comes.
    release = asyncio.Event()
    world.receiver.script["/outage"] = [Answer(hold=release)]
    in_flight = await world.ping(endpoint)
    assert await world.sender.run_once() == 1
    await world.receiver.wait_for("/outage", 1 + 6 + 1)

    async with world.database.write() as conn:
        count = await delivery_service.replay_undelivered_since(
            conn, world.endpoints, world.actor, world.key.mode, endpoint.id, started, world.clock()
        )
    assert count == 3
    # Due now: the clock has not moved; the one on its way is not taken again.
    assert await world.sender.run_once() == 3
    release.set()
    await world.sender.wait_idle()
    world.verify_received()
    sent = Counter(one.headers["webhook-id"] for one in world.receiver.at("/outage"))
    assert sent == {delivered: 1, in_flight: 1, **dict.fromkeys(waiting, 3)}
    statuses = {(await world.delivery(i)).status for i in [delivered, in_flight, *waiting]}
    assert statuses == {"delivered"}


async def test_a_slow_receiver_holds_only_its_own_slots(world: World) -> None:
    world.sender = sender_for(
        world.database, world.endpoints, world.clock, per_endpoint=2, attempt_timeout=30.0
    )
    slow, _ = await world.endpoint("/slow")
    fast, _ = await world.endpoint("/fast")
    release = asyncio.Event()
    world.receiver.script["/slow"] = [Answer(hold=release) for _ in range(5)]
    for _ in range(5):
        await world.ping(slow)
    fast_ids = [await world.ping(fast) for _ in range(40)]
    running = asyncio.create_task(world.sender.run())
    try:
        await world.receiver.wait_for("/fast", 40)
        async with asyncio.timeout(10):
            # Outcomes are written just after the answers: wait for the last few.
            while {(await world.delivery(i)).status for i in fast_ids} != {"delivered"}:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # The slow endpoint never had more than its two slots.
        assert len(world.receiver.at("/slow")) == 2
        release.set()
        await world.receiver.wait_for("/slow", 5)
        world.verify_received()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await world.sender.aclose()


async def test_no_answer_in_time_is_a_failed_attempt(world: World) -> None:
    world.sender = sender_for(world.database, world.endpoints, world.clock, attempt_timeout=0.3)
    endpoint, _ = await world.endpoint("/hang")
    release = asyncio.Event()
    world.receiver.script["/hang"] = [Answer(hold=release)]
    delivery_id = await world.ping(endpoint)
    try:
        await world.step()
    finally:
        release.set()
        await world.sender.aclose()
    delivery = await world.delivery(delivery_id)
    assert delivery.status == "pending"
    assert delivery.last_error == "no answer within 0.3 s"
    assert delivery.last_status_code is None


async def test_a_redirect_is_not_followed(world: World) -> None:
    endpoint, _ = await world.endpoint("/moved")
    world.receiver.script["/moved"] = [Answer(302, {"Location": "http://10.0.0.1/steal"})]
    delivery_id = await world.ping(endpoint)
    await world.step()
    delivery = await world.delivery(delivery_id)
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert [r.path for r in world.receiver.received] == ["/moved"]
