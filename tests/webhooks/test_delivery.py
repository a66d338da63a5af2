"""End to end: a running gateway delivers its events to a receiver, signed, and every
delivery verifies with the official Standard Webhooks package, across a secret rotation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from chatgate.domain.keys import KeyMode
from tests.support import Tenant, auth, make_key, text_message, wait_for_status
from tests.webhooks.receiver import Answer, Received, Receiver

STATUSES = {"queued", "sent", "delivered", "read"}


async def _endpoint(
    client: httpx.AsyncClient, secret: str, url: str, **body: Any
) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": url, **body}, headers=auth(secret))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _send(client: httpx.AsyncClient, secret: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/messages", json=text_message(**extra), headers=auth(secret))
    assert response.status_code == 202, response.text
    return await wait_for_status(client, secret, response.json()["id"], "read")


async def _all_delivered(
    client: httpx.AsyncClient, secret: str, endpoint_id: str, count: int
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once ``count`` of them are recorded as delivered."""
    async with asyncio.timeout(10):
        while True:
            listed = await client.get(
                f"/v1/webhooks/{endpoint_id}/deliveries",
                params={"limit": 100},
                headers=auth(secret),
            )
            deliveries: list[dict[str, Any]] = listed.json()["data"]
            if sum(d["status"] == "delivered" for d in deliveries) == count:
                return deliveries
            await asyncio.sleep(0.05)


def _verified(received: list[Received], *secrets: str) -> list[dict[str, Any]]:
    """Every delivery checked with the official package, with each of ``secrets``."""
    events = []
    for one in received:
        for secret in secrets:
            events.append(Webhook(secret).verify(one.body, one.headers))
    return events[:: len(secrets)]


async def test_every_event_arrives_signed_across_a_rotation(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    created = await _endpoint(client, tenant.test, receiver.url("/hooks"))
    first = await _send(client, tenant.test, metadata={"order": 7, "note": "né 👋"})
    received = await receiver.wait_for("/hooks", 4)
    events = _verified(received, created["secret"])
    assert {e["data"]["status"] for e in events} == STATUSES
    assert all(e["data"]["message_id"] == first["id"] for e in events)
    assert all(e["data"]["metadata"] == {"order": 7, "note": "né 👋"} for e in events)
    assert all(e["type"] == "message.status" for e in events)

    rotated = await client.post(
        f"/v1/webhooks/{created['id']}/rotate-secret", headers=auth(tenant.test)
    )
    new_secret = rotated.json()["secret"]
    second = await _send(client, tenant.test)
    after = (await receiver.wait_for("/hooks", 8))[4:]
    # For a day after a rotation, both secrets sign every delivery.
    events = _verified(after, created["secret"], new_secret)
    assert {e["data"]["message_id"] for e in events} == {second["id"]}

    # The deliveries are listed with their attempts; their ids are the webhook-id headers.
    deliveries = await _all_delivered(client, tenant.test, created["id"], 8)
    assert {d["id"] for d in deliveries} == {r.headers["webhook-id"] for r in receiver.at("/hooks")}
    assert all(d["attempts"][0]["status_code"] == 200 for d in deliveries)
    assert all(d["attempts"][0]["response_excerpt"] == "ok" for d in deliveries)


async def test_a_ping_arrives_signed(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    created = await _endpoint(client, tenant.test, receiver.url("/ping"), plain_signature=True)
    response = await client.post(f"/v1/webhooks/{created['id']}/test", headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    [one] = await receiver.wait_for("/ping", 1)
    [event] = _verified([one], created["secret"])
    assert event["type"] == "webhook.ping"
    assert one.headers["webhook-id"] == response.json()["id"]
    key = base64.b64decode(created["secret"].removeprefix("whsec_"))
    expected = "sha256=" + hmac.new(key, one.body, hashlib.sha256).hexdigest()
    assert one.headers["x-chatgate-signature"] == expected


async def test_endpoints_get_only_their_types_modes_and_keys(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    await _endpoint(
        client, tenant.test, receiver.url("/received"), event_types=["message.received"]
    )
    await _endpoint(client, tenant.live, receiver.url("/live"))
    other_key_id, other_key = await make_key(app, tenant.account_id, KeyMode.TEST)
    await _endpoint(client, tenant.test, receiver.url("/other-key"), api_key_id=other_key_id)
    everything = await _endpoint(client, tenant.test, receiver.url("/all"))

    await _send(client, tenant.test)
    inbound = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "sms", "from": "+14155550123", "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.test),
    )
    assert inbound.status_code in (200, 201, 202), inbound.text
    by_other_key = await _send(client, other_key)
    all_events = await receiver.wait_for("/all", 9)
    [received] = await receiver.wait_for("/received", 1)
    assert json.loads(received.body)["data"]["content"]["text"] == "hi"
    # The key-bound endpoint: that key's message, and the inbound one (its key may use sms).
    bound = await receiver.wait_for("/other-key", 5)
    bound_ids = {json.loads(r.body)["data"]["message_id"] for r in bound}
    assert by_other_key["id"] in bound_ids
    assert len(bound_ids) == 2
    assert receiver.at("/live") == []
    assert len(_verified(all_events, everything["secret"])) == 9


async def test_an_endpoint_disabled_by_a_410_is_announced_to_the_others(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    receiver.script["/gone"] = [Answer(410)]
    gone = await _endpoint(client, tenant.test, receiver.url("/gone"))
    watcher = await _endpoint(client, tenant.test, receiver.url("/watch"))
    ping = await client.post(f"/v1/webhooks/{gone['id']}/test", headers=auth(tenant.test))
    assert ping.status_code == 202
    [announced] = await receiver.wait_for("/watch", 1)
    [event] = _verified([announced], watcher["secret"])
    assert event["type"] == "webhook.endpoint_disabled"
    assert event["data"]["endpoint_id"] == gone["id"]
    assert event["data"]["reason"] == "gone"
    listed = await client.get(
        "/v1/events", params={"type": "webhook.endpoint_disabled"}, headers=auth(tenant.test)
    )
    assert [e["id"] for e in listed.json()["data"]] == [event["id"]]
    shown = await client.get(f"/v1/webhooks/{gone['id']}", headers=auth(tenant.test))
    assert (shown.json()["enabled"], shown.json()["disabled_reason"]) == (False, "gone")
