"""The ``messagehub`` webhook format: delivery reports in MessageHub's shape, signed with
``X-MessageHub-Signature: sha256=<hex HMAC-SHA256 of the raw body>``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.storage.database import Database
from tests.compat.messagehub.conftest import hub_post
from tests.support import Tenant, auth, make_key
from tests.webhooks.conftest import clear_webhooks
from tests.webhooks.receiver import Receiver, serving_receiver, verify_officially


@pytest.fixture
async def database(app: FastAPI) -> Database:
    """The store, with no endpoints or deliveries left by earlier tests."""
    db: Database = app.state.gateway.database
    await clear_webhooks(db)
    return db


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The customer's receiver on a loopback port."""
    async with serving_receiver() as serving:
        yield serving


def _verified(secret: str, body: bytes, header: str) -> dict[str, Any]:
    """As a MessageHub receiver checks a report: HMAC-SHA256 of the raw body, keyed with the
    secret string as shown, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(header, expected)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


async def _endpoint(client: httpx.AsyncClient, tenant: Tenant, url: str, **extra: Any) -> str:
    made = await client.post(
        "/v1/webhooks",
        json={"url": url, "format": "messagehub", **extra},
        headers=auth(tenant.test),
    )
    assert made.status_code == 201, made.text
    assert made.json()["format"] == "messagehub"
    secret: str = made.json()["secret"]
    return secret


async def test_delivery_reports_arrive_in_messagehubs_shape_and_signature(
    client: httpx.AsyncClient,
    tenant: Tenant,
    hub_key: str,
    receiver: Receiver,
    database: Database,
) -> None:
    secret = await _endpoint(client, tenant, receiver.url("/hub"))
    sent = await hub_post(
        client, hub_key, "messages/send", {"to": "+14155550123", "channel": "sms", "content": "🚚"}
    )
    message_id = sent.json()["data"]["messageId"]
    reports = await receiver.wait_for("/hub", 4)
    bodies = [
        _verified(secret, report.body, report.headers["x-messagehub-signature"])
        for report in reports
    ]
    # Deliveries run concurrently: they may arrive in any order.
    assert sorted(body["data"]["status"] for body in bodies) == [
        "delivered",
        "queued",
        "read",
        "sent",
    ]
    for body in bodies:
        assert body["event"] == "message.status"
        data = body["data"]
        assert set(data) == {"messageId", "status", "channel", "to", "timestamp"}
        assert (data["messageId"], data["channel"], data["to"]) == (
            message_id,
            "sms",
            "+14155550123",
        )
        assert datetime.fromisoformat(data["timestamp"]).utcoffset() is not None
    # The Standard Webhooks headers ride along: a stable id, and their own signature.
    assert verify_officially(secret, reports[0]) == bodies[0]


async def test_a_failure_carries_its_error_and_inbound_messages_are_not_sent(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    receiver: Receiver,
    database: Database,
) -> None:
    key_id, bound_key = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.MESSAGEHUB
    )
    secret = await _endpoint(client, tenant, receiver.url("/bound"), api_key_id=key_id)
    inbound = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "sms", "from": "+14155550123", "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.test),
    )
    assert inbound.status_code == 201, inbound.text
    # Another key's message is not this bound endpoint's either.
    other = await client.post(
        "/v1/messages",
        json={"channel": "sms", "to": "+14155550123", "content": {"type": "text", "text": "x"}},
        headers=auth(tenant.test),
    )
    assert other.status_code == 202, other.text
    body = {"to": "+15005550001", "channel": "sms", "content": "code 1234"}
    sent = await hub_post(client, bound_key, "messages/send", body)
    queued, failed = await receiver.wait_for("/bound", 2)
    reports = [
        _verified(secret, report.body, report.headers["x-messagehub-signature"])["data"]
        for report in (queued, failed)
    ]
    # Only this key's message, never the inbound one nor the other key's.
    assert {data["messageId"] for data in reports} == {sent.json()["data"]["messageId"]}
    by_status = {data["status"]: data for data in reports}
    assert set(by_status) == {"queued", "failed"}
    assert "error" not in by_status["queued"]
    assert set(by_status["failed"]["error"]) == {"code", "message"}
    assert by_status["failed"]["error"]["code"]


async def test_a_messagehub_endpoint_binds_to_messagehub_keys_only(
    client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver, database: Database
) -> None:
    native_key = await client.get("/v1/keys", headers=auth(tenant.test))
    native_id = next(k["id"] for k in native_key.json()["data"] if k["dialect"] is None)
    made = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url("/x"), "format": "messagehub", "api_key_id": native_id},
        headers=auth(tenant.test),
    )
    assert made.status_code == 422
    assert made.json()["error"]["field"] == "api_key_id"
