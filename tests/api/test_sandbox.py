"""The sandbox: simulated outcomes, failures on demand, and each channel's rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, make_tenant, text_message, wait_for_status


async def _send(client: httpx.AsyncClient, secret: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/messages", json=body, headers=auth(secret))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (text_message(to="+15005550001"), "invalid_recipient"),
        (text_message(to="+15005550003"), "rejected"),
        (text_message(metadata={"sandbox": {"fail": "rejected"}}), "rejected"),
    ],
)
async def test_refused_at_send_ends_failed_with_the_code(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], code: str
) -> None:
    response = await _send(client, tenant.test, body)
    failed = await wait_for_status(client, tenant.test, response.json()["id"], "failed")
    assert failed["error"]["code"] == code
    assert [e["status"] for e in failed["events"]] == ["queued", "failed"]
    assert failed["events"][-1]["detail"]["code"] == code


async def test_undeliverable_fails_after_sent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _send(client, tenant.test, text_message(to="+15005550002"))
    failed = await wait_for_status(client, tenant.test, response.json()["id"], "failed")
    assert [e["status"] for e in failed["events"]] == ["queued", "sent", "failed"]
    assert failed["error"]["code"] == "undeliverable"


async def test_retryable_outage_is_retried_then_given_up(settings: Settings) -> None:
    """With its own gateway as the only worker, so that its retry settings are the ones used."""
    fast_retries = settings.model_copy(
        update={"send_max_attempts": 3, "retry_base_seconds": 0.01, "retry_cap_seconds": 0.05}
    )
    app = create_app(fast_retries)
    async with LifespanManager(app):
        tenant = await make_tenant(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await _send(client, tenant.test, text_message(to="+15005550004"))
            failed = await wait_for_status(client, tenant.test, response.json()["id"], "failed")
    assert failed["error"]["code"] == "unavailable"
    assert failed["events"][-1]["detail"]["attempts"] == 3


@pytest.mark.parametrize("channel", ["telegram", "messenger", "instagram", "tiktok"])
async def test_channels_that_cannot_initiate(
    client: httpx.AsyncClient, tenant: Tenant, channel: str
) -> None:
    user = "987654321"
    body = {"channel": channel, "to": user, "content": {"type": "text", "text": "hi"}}
    refused = await _send(client, tenant.test, body)
    assert_envelope(refused, 409, "channel_cannot_initiate", "to")
    wrote = await client.post(
        "/v1/sandbox/inbound",
        json={
            "channel": channel,
            "from": user,
            "content": {"type": "text", "text": "hello there 👋"},
        },
        headers=auth(tenant.test),
    )
    assert wrote.status_code == 201, wrote.text
    assert wrote.json()["direction"] == "inbound"
    assert wrote.json()["status"] == "received"
    accepted = await _send(client, tenant.test, body)
    assert accepted.status_code == 202
    await wait_for_status(client, tenant.test, accepted.json()["id"], "delivered")
    inbound = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.test)
    )
    assert [m["content"]["text"] for m in inbound.json()["data"]] == ["hello there 👋"]


async def test_whatsapp_outside_the_window_takes_only_templates(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    text = {"channel": "whatsapp", "to": "+14155550123", "content": {"type": "text", "text": "hi"}}
    refused = await _send(client, tenant.test, text)
    assert_envelope(refused, 409, "outside_service_window", "content")
    template = {
        **text,
        "content": {"type": "template", "template": {"name": "hello_world", "language": "en_US"}},
    }
    assert (await _send(client, tenant.test, template)).status_code == 202
    await client.post(
        "/v1/sandbox/inbound",
        json={
            "channel": "whatsapp",
            "from": "+1 415 555 0123",
            "content": {"type": "text", "text": "hey"},
        },
        headers=auth(tenant.test),
    )
    assert (await _send(client, tenant.test, text)).status_code == 202


async def test_conversations_are_per_account(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    other = await make_tenant(app)
    await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "telegram", "from": "5551234", "content": {"type": "text", "text": "hi"}},
        headers=auth(other.test),
    )
    body = {"channel": "telegram", "to": "5551234", "content": {"type": "text", "text": "hi"}}
    assert_envelope(await _send(client, tenant.test, body), 409, "channel_cannot_initiate", "to")


async def test_live_key_without_a_channel_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _send(client, tenant.live, text_message())
    assert_envelope(response, 422, "channel_not_configured", "channel")


async def test_only_test_keys_simulate_users(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "telegram", "from": "5551234", "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.live),
    )
    assert_envelope(response, 403, "test_key_required", None)
