"""Webhook formats: an endpoint in a dialect's format gets that vendor's body and signature.

The toy dialect's format (``tests/compat/toy.py``) carries inbound texts only, names the key
the endpoint is bound to, and signs the raw body keyed with the secret string as shown.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.storage.database import Database
from tests.compat.toy import TOY
from tests.support import Tenant, auth, make_key
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings, dialects=[TOY])
    async with LifespanManager(application):
        yield application


async def _create(client: httpx.AsyncClient, secret: str, url: str, **body: Any) -> httpx.Response:
    return await client.post("/v1/webhooks", json={"url": url, **body}, headers=auth(secret))


async def test_a_dialect_endpoint_gets_its_vendors_body_and_signature(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    toy_key_id, _ = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.THIKAA)
    made = await _create(
        client, tenant.test, receiver.url("/toy"), format="thikaa", api_key_id=toy_key_id
    )
    assert made.status_code == 201, made.text
    assert made.json()["format"] == "thikaa"
    secret = made.json()["secret"]
    standard = await _create(client, tenant.test, receiver.url("/standard"))
    assert standard.json()["format"] == "standard"

    inbound = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "sms", "from": "+14155550123", "content": {"type": "text", "text": "🌹"}},
        headers=auth(tenant.test),
    )
    assert inbound.status_code in (200, 201, 202), inbound.text
    [delivered] = await receiver.wait_for("/toy", 1)
    await receiver.wait_for("/standard", 1)
    assert json.loads(delivered.body) == {
        "event": "message.received",
        "key": toy_key_id,
        "text": "🌹",
    }
    assert delivered.headers["x-toy-event"] == "message.received"
    # As a vendor's receiver checks it: HMAC-SHA256 of the raw body, keyed with the secret
    # string exactly as it was shown.
    expected = "sha256=" + hmac.new(secret.encode(), delivered.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivered.headers["x-toy-signature"], expected)
    assert "webhook-signature" not in delivered.headers


async def test_a_format_is_served_and_bound_to_its_own_keys(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    url = receiver.url("/toy")
    unbound = await _create(client, tenant.test, url, format="thikaa")
    assert unbound.status_code == 422
    assert unbound.json()["error"]["field"] == "api_key_id"
    native_key_id, _ = await make_key(app, tenant.account_id, KeyMode.TEST)
    native = await _create(client, tenant.test, url, format="thikaa", api_key_id=native_key_id)
    assert native.status_code == 422
    assert native.json()["error"]["field"] == "api_key_id"
    unserved = await _create(client, tenant.test, url, format="messagehub")
    assert unserved.status_code == 422
    assert unserved.json()["error"] == {
        "code": "invalid_request",
        "message": "must be one of: standard, thikaa",
        "field": "format",
    }
    standard = (await _create(client, tenant.test, url)).json()
    changed = await client.patch(
        f"/v1/webhooks/{standard['id']}", json={"format": "thikaa"}, headers=auth(tenant.test)
    )
    assert changed.status_code == 422  # a thikaa endpoint needs one of its keys
    assert changed.json()["error"]["field"] == "api_key_id"
