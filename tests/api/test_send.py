"""POST /v1/messages: every content kind, byte-exact text, delivery through the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Tenant, auth, text_message, wait_for_status

EMOJI_TEXT = "Hi 👋🏽 — naïve café, 日本語, 👨‍👩‍👧‍👦, مرحبا, \u200d zero-width joiner, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"

CONTENT_KINDS: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": "hello"},
    "media": {
        "type": "media",
        "media": {
            "url": "https://cdn.example.com/invoice.pdf",
            "caption": "Your invoice",
            "filename": "inv.pdf",
        },
    },
    "template": {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": "en_US",
            "variables": ["Ana", "#1234"],
            "header": {"text": "Order"},
            "buttons": [{"index": 0, "sub_type": "url", "value": "1234"}],
        },
    },
    "interactive": {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Choose a slot",
            "button_text": "Slots",
            "sections": [{"title": "Today", "rows": [{"id": "s1", "title": "10:00"}]}],
        },
    },
    "location": {
        "type": "location",
        "location": {"latitude": 52.52, "longitude": 13.405, "name": "Berlin"},
    },
    "contact": {"type": "contact", "contacts": [{"name": "Ana Silva", "phones": ["+14155550123"]}]},
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.HBgL", "emoji": "❤️"}},
    "sticker": {"type": "sticker", "sticker": {"package_id": "446", "sticker_id": "1988"}},
}


@pytest.mark.parametrize("kind", sorted(CONTENT_KINDS))
async def test_every_content_kind_is_accepted_and_delivered(
    client: httpx.AsyncClient, tenant: Tenant, kind: str
) -> None:
    body = {"channel": "sms", "to": "+14155550123", "content": CONTENT_KINDS[kind]}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["id"].startswith("msg_")
    assert sent["status"] == "queued"
    assert sent["content"]["type"] == kind
    assert [e["status"] for e in sent["events"]] == ["queued"]
    delivered = await wait_for_status(client, tenant.test, sent["id"], "delivered")
    statuses = [event["status"] for event in delivered["events"]]
    assert statuses[:3] == ["queued", "sent", "delivered"]
    assert delivered["provider_message_id"].startswith("sbx_")


async def test_text_round_trips_byte_exact(client: httpx.AsyncClient, tenant: Tenant) -> None:
    raw = (
        '{"channel":"sms","to":"+14155550123","content":{"type":"text","text":"'
        + EMOJI_TEXT
        + '"}}'
    ).encode()
    response = await client.post(
        "/v1/messages",
        content=raw,
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    assert EMOJI_TEXT.encode("utf-8") in response.content
    fetched = await client.get(f"/v1/messages/{response.json()['id']}", headers=auth(tenant.test))
    assert fetched.json()["content"]["text"] == EMOJI_TEXT
    assert EMOJI_TEXT.encode("utf-8") in fetched.content


async def test_message_reaches_read_with_history(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/messages", json=text_message(), headers=auth(tenant.test))
    message = await wait_for_status(client, tenant.test, response.json()["id"], "read")
    assert [e["status"] for e in message["events"]] == ["queued", "sent", "delivered", "read"]
    times = [e["at"] for e in message["events"]]
    assert times == sorted(times)


async def test_phone_is_normalised_and_metadata_echoed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = text_message(
        to="+1 (415) 555-0123", metadata={"order": 42, "tags": ["vip"], "note": "ü"}
    )
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202
    assert response.json()["to"] == "+14155550123"
    assert response.json()["metadata"] == {"order": 42, "tags": ["vip"], "note": "ü"}


async def test_media_kind_taken_from_the_url(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {
        "channel": "sms",
        "to": "+14155550123",
        "content": {"type": "media", "media": {"url": "https://x.example/p.webp"}},
    }
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202
    assert response.json()["content"]["media"]["kind"] == "image"


async def test_unknown_message_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        "/v1/messages/msg_01J00000000000000000000000", headers=auth(tenant.test)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_test_and_live_data_are_apart(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/messages", json=text_message(), headers=auth(tenant.test))
    seen_by_live = await client.get(
        f"/v1/messages/{response.json()['id']}", headers=auth(tenant.live)
    )
    assert seen_by_live.status_code == 404


async def test_other_accounts_cannot_read_a_message(
    client: httpx.AsyncClient, tenant: Tenant, app: Any
) -> None:
    from tests.support import make_tenant

    other = await make_tenant(app)
    response = await client.post("/v1/messages", json=text_message(), headers=auth(tenant.test))
    assert (
        await client.get(f"/v1/messages/{response.json()['id']}", headers=auth(other.test))
    ).status_code == 404
