"""``/v1/channels`` and ``/inbound/{id}``: connections, secrets at rest, webhooks in."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.channels.meta import sign
from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import channel_connections, inbound_log, messages
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, until

TOKEN = "EAAG-secret-access-token-0123456789"
APP_SECRET = "app-secret-0123456789abcdef"
VERIFY = "verify-me-please"
# Loopback, nothing listening: a send attempted by the worker never leaves the machine.
NOWHERE = "http://127.0.0.1:9"


def whatsapp(name: str = "support line", **settings: Any) -> dict[str, Any]:
    """A WhatsApp connection's creation body."""
    return {
        "type": "whatsapp",
        "name": name,
        "credentials": {
            "access_token": TOKEN,
            "phone_number_id": "106540352242922",
            "app_secret": APP_SECRET,
            "verify_token": VERIFY,
        },
        "settings": {"api_base": NOWHERE, **settings},
    }


async def create_whatsapp(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """A WhatsApp connection of the tenant's (``whatsapp(**body)``), as created."""
    response = await client.post("/v1/channels", json=whatsapp(**body), headers=auth(tenant.live))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_channel_is_created_listed_changed_and_removed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create_whatsapp(client, tenant)
    assert created["id"].startswith("ch_")
    assert created["type"] == "whatsapp"
    assert created["default"] is True
    assert created["inbound_url"].endswith(f"/inbound/{created['id']}")
    assert created["credentials_set"] == [
        "access_token",
        "app_secret",
        "phone_number_id",
        "verify_token",
    ]
    assert created["webhook_registered"] is False  # Meta is configured in its console
    headers = auth(tenant.live)
    listed = await client.get("/v1/channels", headers=headers)
    assert [c["id"] for c in listed.json()["data"]] == [created["id"]]
    changed = await client.patch(
        f"/v1/channels/{created['id']}",
        json={"name": "sales", "settings": {"rate_per_second": 20}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "sales"
    assert changed.json()["settings"] == {"api_base": NOWHERE, "rate_per_second": 20}
    for response in (created, listed.json(), changed.json()):
        text = json.dumps(response)
        assert TOKEN not in text
        assert APP_SECRET not in text
        assert VERIFY not in text
    removed = await client.delete(f"/v1/channels/{created['id']}", headers=headers)
    assert removed.status_code == 204
    gone = await client.get(f"/v1/channels/{created['id']}", headers=headers)
    assert_envelope(gone, 404, "not_found", "id")


async def test_each_change_of_a_channel_is_an_event_of_the_account(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create_whatsapp(client, tenant)
    path = f"/v1/channels/{created['id']}"
    renamed = await client.patch(path, json={"name": "renamed"}, headers=auth(tenant.live))
    new_token = "EAAG-another-access-token-9876543210"
    rotated = await client.patch(
        path, json={"credentials": {"access_token": new_token}}, headers=auth(tenant.live)
    )
    assert (renamed.status_code, rotated.status_code) == (200, 200), rotated.text
    assert (await client.delete(path, headers=auth(tenant.live))).status_code == 204
    events: list[dict[str, Any]] = []

    async def all_three() -> bool:
        # On PostgreSQL an event is readable once every older transaction has ended.
        nonlocal events
        listed = await client.get(
            "/v1/events", params={"type": "channel.status"}, headers=auth(tenant.live)
        )
        events = listed.json()["data"]
        return len(events) >= 3

    await until(all_three)
    assert [e["data"]["status"] for e in events] == ["connected", "credentials_changed", "removed"]
    assert {e["data"]["channel_id"] for e in events} == {created["id"]}
    assert new_token not in json.dumps(events)
    # Connections serve live keys: a test key's log has none of it.
    test_log = await client.get("/v1/events", headers=auth(tenant.test))
    assert test_log.json()["data"] == []


async def test_credentials_are_encrypted_at_rest(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await create_whatsapp(client, tenant)
    async with gateway(app).database.read() as conn:
        stored = await conn.scalar(
            select(channel_connections.c.credentials).where(
                channel_connections.c.id == created["id"]
            )
        )
    assert stored is not None
    assert TOKEN.encode() not in bytes(stored)
    assert APP_SECRET.encode() not in bytes(stored)


async def test_bad_connections_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant.live)
    missing = whatsapp()
    del missing["credentials"]["app_secret"]
    refused = await client.post("/v1/channels", json=missing, headers=headers)
    assert_envelope(refused, 422, "invalid_request", "credentials.app_secret")
    unknown = await client.post("/v1/channels", json={**whatsapp(), "type": "fax"}, headers=headers)
    assert_envelope(unknown, 422, "unknown_channel", "type")
    bad_base = await client.post("/v1/channels", json=whatsapp(api_base="ftp://x"), headers=headers)
    assert_envelope(bad_base, 422, "invalid_request", "settings.api_base")
    await create_whatsapp(client, tenant, name="twice")
    again = await client.post("/v1/channels", json=whatsapp("twice"), headers=headers)
    assert_envelope(again, 409, "name_taken", "name")


async def test_managing_channels_needs_the_scope(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, sender = await make_key(app, tenant.account_id, KeyMode.LIVE, scopes={"messages:send"})
    refused = await client.post("/v1/channels", json=whatsapp(), headers=auth(sender))
    assert refused.status_code == 403


async def test_capabilities_publish_each_platform(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/channels/capabilities")
    assert response.status_code == 200
    body = response.json()
    # Every connectable platform publishes its capabilities (more join as they are built).
    assert {"whatsapp", "telegram", "messenger", "instagram"} <= set(body["channels"])
    assert "template" in body["channels"]["whatsapp"]
    assert "template" not in body["channels"]["telegram"]


async def test_a_live_send_goes_through_the_connection_and_checks_capabilities(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant.live)
    no_channel = await client.post(
        "/v1/messages",
        json={"channel": "whatsapp", "to": "+14155550123", "content": _template()},
        headers=headers,
    )
    assert_envelope(no_channel, 422, "channel_not_configured", "channel")
    created = await create_whatsapp(client, tenant)
    accepted = await client.post(
        "/v1/messages",
        json={"channel": "whatsapp", "to": "+14155550123", "content": _template()},
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    unknown_sender = await client.post(
        "/v1/messages",
        json={
            "channel": "whatsapp",
            "from": "nope",
            "to": "+14155550123",
            "content": _template(),
        },
        headers=headers,
    )
    assert_envelope(unknown_sender, 422, "channel_not_configured", "from")
    by_name = await client.post(
        "/v1/messages",
        json={
            "channel": "whatsapp",
            "from": created["name"],
            "to": "+14155550123",
            "content": _template(),
        },
        headers=headers,
    )
    assert by_name.status_code == 202, by_name.text
    cards = {
        "type": "interactive",
        "interactive": {"kind": "cards", "body": "x", "cards": [{"title": "A card"}]},
    }
    await user_writes(client, created["id"], "+14155550123", "wamid.opener")
    unsupported = await client.post(
        "/v1/messages",
        json={"channel": "whatsapp", "to": "+14155550123", "content": cards},
        headers=headers,
    )
    assert_envelope(unsupported, 422, "unsupported_content", "content")
    assert "interactive.cards" in unsupported.json()["error"]["message"]


def _template() -> dict[str, Any]:
    return {"type": "template", "template": {"name": "hello_world", "language": "en_US"}}


def wa_webhook(sender: str, message_id: str, text: str, timestamp: int | None = None) -> bytes:
    """A WhatsApp messages webhook: ``sender`` wrote ``text`` at ``timestamp`` (Unix seconds,
    as Meta sends it; now by default)."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Ada"}, "wa_id": sender.lstrip("+")}],
                            "messages": [
                                {
                                    "from": sender.lstrip("+"),
                                    "id": message_id,
                                    "timestamp": str(timestamp or int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    # Meta escapes non-ASCII; the signature is over these exact bytes.
    return json.dumps(payload).encode()


async def user_writes(
    client: httpx.AsyncClient,
    channel_id: str,
    sender: str,
    message_id: str,
    text: str = "hi",
    timestamp: int | None = None,
) -> httpx.Response:
    """``sender`` writes to the WhatsApp connection ``channel_id``: its signed webhook, posted."""
    body = wa_webhook(sender, message_id, text, timestamp)
    return await client.post(
        f"/inbound/{channel_id}",
        content=body,
        headers={"X-Hub-Signature-256": sign(APP_SECRET, body), "Content-Type": "application/json"},
    )


async def test_inbound_webhooks_are_verified_stored_and_deduplicated(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await create_whatsapp(client, tenant)
    channel_id = created["id"]
    challenge = await client.get(
        f"/inbound/{channel_id}",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert challenge.status_code == 200
    assert challenge.text == "1158201444"
    wrong = await client.get(
        f"/inbound/{channel_id}",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403

    body = wa_webhook("+14155550999", "wamid.HBgLMTQxNTU1NTA5OTkVAgASGBQzQTdE", "olá 👋")
    forged = await client.post(
        f"/inbound/{channel_id}",
        content=body,
        headers={"X-Hub-Signature-256": sign("not-the-secret", body)},
    )
    assert_envelope(forged, 401, "invalid_signature", None)
    unsigned = await client.post(f"/inbound/{channel_id}", content=body)
    assert unsigned.status_code == 401
    async with gateway(app).database.read() as conn:
        refusals = (
            (
                await conn.execute(
                    select(inbound_log.c.kind).where(inbound_log.c.connection_id == channel_id)
                )
            )
            .scalars()
            .all()
        )
    assert refusals == ["signature_refused", "signature_refused"]

    for _ in range(2):  # the platform redelivers: stored once
        accepted = await user_writes(
            client, channel_id, "+14155550999", "wamid.HBgLMTQxNTU1NTA5OTkVAgASGBQzQTdE", "olá 👋"
        )
        assert accepted.status_code == 200, accepted.text
    inbound = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
    )
    [message] = inbound.json()["data"]
    assert message["content"] == {"type": "text", "text": "olá 👋"}
    assert message["from"] == "+14155550999"


def _deeply(body: bytes, levels: int) -> bytes:
    """``body`` (a JSON object) with one more field nested ``levels`` deep."""
    return body[:-1] + b', "extra": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(
    "body",
    [
        # A message, with a field nested past what the gateway keeps (and what the JSON
        # encoder writes): the message is not stored either.
        _deeply(wa_webhook("+14155550999", "wamid.deep-1", "hi"), 64),
        _deeply(wa_webhook("+14155550999", "wamid.deep-2", "hi"), 300),
        # Past what Python's parser can recurse.
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["past-the-limit", "past-the-encoder", "past-the-interpreter"],
)
async def test_deeply_nested_webhooks_are_400_and_nothing_is_kept(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, body: bytes
) -> None:
    channel_id = (await create_whatsapp(client, tenant))["id"]
    response = await client.post(
        f"/inbound/{channel_id}",
        content=body,
        headers={"X-Hub-Signature-256": sign(APP_SECRET, body), "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "invalid_json", "body")
    async with gateway(app).database.read() as conn:
        kept = await conn.execute(
            select(messages.c.id).where(messages.c.account_id == tenant.account_id)
        )
        logged = await conn.execute(
            select(inbound_log.c.id).where(inbound_log.c.connection_id == channel_id)
        )
        assert kept.all() == []
        assert logged.all() == []
