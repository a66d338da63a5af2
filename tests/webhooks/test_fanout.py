"""Which events an endpoint receives: every event committed after it was made, in the order
of the log, whatever time the event carries (a received message carries the platform's)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.crypto import CredentialBox
from chatgate.domain.keys import KeyMode
from chatgate.engine.clock import FakeClock
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.inbound import record_inbound
from chatgate.services.webhook_endpoints import EndpointChanges, WebhookEndpoints
from chatgate.services.webhook_fanout import WebhookFanout
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage.database import Database
from chatgate.storage.events import LogPosition, PositionMark, SnapshotMark, parse_mark
from chatgate.storage.types import utcnow
from tests.api.test_channels import user_writes, whatsapp
from tests.support import TEST_SECRET_KEY, Tenant, auth, settings_for, until
from tests.webhooks.conftest import clear_webhooks
from tests.webhooks.receiver import Received, Receiver

RECEIVED = "message.received"
USER = "+14155550999"
# Loopback, nothing listening: these deliveries are only queued, never sent.
NOWHERE = "http://127.0.0.1:9/hooks"


async def _endpoint(client: httpx.AsyncClient, secret: str, url: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "event_types": [RECEIVED]}, headers=auth(secret)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _event(received: Received) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(received.body)
    return found


@pytest.mark.parametrize("offset", [-60, 0, 60], ids=["before", "equal", "after"])
async def test_a_message_received_after_an_endpoint_is_made_reaches_it_whatever_its_time(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver, offset: int
) -> None:
    """The platform stamps a message in whole seconds, by its own clock: a message received
    just after an endpoint is made may say it was written before (or long after)."""
    channel = await client.post("/v1/channels", json=whatsapp(), headers=auth(tenant.live))
    assert channel.status_code == 201, channel.text
    channel_id = channel.json()["id"]
    first = await _endpoint(client, tenant.live, receiver.url("/first"))
    stamp = int(datetime.fromisoformat(first["created_at"]).timestamp()) + offset
    written = await user_writes(client, channel_id, USER, "wamid.first", "first", stamp)
    assert written.status_code == 200, written.text
    # Made after the first message was committed: only the second one is for it.
    second = await _endpoint(client, tenant.live, receiver.url("/second"))
    written = await user_writes(client, channel_id, USER, "wamid.second", "second")
    assert written.status_code == 200, written.text

    both = [_event(one) for one in await receiver.wait_for("/first", 2)]
    [late] = [_event(one) for one in await receiver.wait_for("/second", 1)]
    assert sorted(e["data"]["content"]["text"] for e in both) == ["first", "second"]
    assert late["data"]["content"]["text"] == "second"
    [stamped] = [e for e in both if e["data"]["content"]["text"] == "first"]
    assert datetime.fromisoformat(stamped["created_at"]) == datetime.fromtimestamp(stamp, UTC)
    # The fan-out reads the log in order: had the first message been queued for the second
    # endpoint, it would be among its deliveries by now.
    listed = await client.get(f"/v1/webhooks/{second['id']}/deliveries", headers=auth(tenant.live))
    assert [d["event_id"] for d in listed.json()["data"]] == [late["id"]]


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[Database]:
    """The PostgreSQL store, with no webhook endpoints or deliveries of earlier tests."""
    database = Database(settings_for(postgres_url, allow_private_webhooks=True))
    await clear_webhooks(database)
    yield database
    await database.dispose()


async def _user_wrote(conn: AsyncConnection, account_id: str, text: str, at: datetime) -> None:
    await record_inbound(
        conn,
        account_id=account_id,
        mode=KeyMode.LIVE,
        channel="sms",
        sender=USER,
        recipient="+14155550100",
        content={"type": "text", "text": text},
        provider_message_id=None,
        at=at,
    )


async def test_an_event_whose_transaction_began_before_the_endpoint_and_ended_after_reaches_it(
    postgres: Database,
) -> None:
    """PostgreSQL: an event written before the endpoint was made, but committed after."""
    account = await create_account(postgres, f"mark-{uuid.uuid4().hex[:10]}")
    endpoints = WebhookEndpoints(CredentialBox([TEST_SECRET_KEY]), allow_private=True)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    async with postgres.write() as conn:
        await _user_wrote(conn, account.id, "committed before", long_ago)
    async with postgres.write() as slow:
        await _user_wrote(slow, account.id, "committed after", long_ago)
        async with postgres.write() as conn:
            endpoint, _ = await endpoints.create(
                conn,
                Actor(account.id),
                KeyMode.LIVE,
                EndpointChanges(url=NOWHERE, all_event_types=True),
                utcnow(),
            )
    assert isinstance(endpoint.log_mark, SnapshotMark)
    fanout = WebhookFanout(postgres, FakeClock())
    queued: list[str] = []

    async def relayed() -> bool:
        nonlocal queued
        # The log shows the events once every older transaction has ended (other tests'
        # too): relay until it has.
        await fanout.run_once()
        async with postgres.read() as conn:
            found = await delivery_store.list_deliveries(
                conn, endpoint.id, before_id=None, limit=10
            )
        queued = [json.loads(d.payload)["data"]["content"]["text"] for d in found]
        return bool(queued)

    await until(relayed)
    assert queued == ["committed after"]


def test_a_mark_says_which_places_precede_it_and_keeps_its_text() -> None:
    written = PositionMark(41)
    assert written.precedes(LogPosition(0, 41))
    assert not written.precedes(LogPosition(0, 42))
    # xmin 100, xmax 110; 103 and 107 were running.
    snapshot = parse_mark("100:110:103,107")
    assert snapshot == SnapshotMark(100, 110, frozenset({103, 107}))
    preceding = [
        txid
        for txid in (99, 100, 103, 105, 107, 109, 110, 500)
        if snapshot.precedes(LogPosition(txid, 1))
    ]
    assert preceding == [99, 100, 105, 109]
    for mark in (written, snapshot, SnapshotMark(7, 7, frozenset()), PositionMark(0)):
        assert parse_mark(str(mark)) == mark
    # An endpoint older than marks: nothing precedes it.
    assert not parse_mark("0").precedes(LogPosition(0, 1))
