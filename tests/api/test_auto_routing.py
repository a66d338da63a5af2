"""Sends to a contact: ``"to": {"contact_id"}`` on a named channel, or ``"channel": "auto"``."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.domain.keys import KeyMode
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, make_key, make_tenant

PHONE = "+14155550123"
CHAT = "987654321"
TEXT = {"type": "text", "text": "your order shipped"}


async def _contact(client: httpx.AsyncClient, secret: str, **fields: Any) -> str:
    body = {"name": "Ada", "phone": PHONE, **fields}
    created = await client.post("/v1/contacts", json=body, headers=auth(secret))
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    return contact_id


async def _wrote_on_telegram(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    wrote = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "telegram", "from": CHAT, "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.test),
    )
    assert wrote.status_code == 201, wrote.text
    message: dict[str, Any] = wrote.json()
    return message


async def _send(client: httpx.AsyncClient, secret: str, **body: Any) -> httpx.Response:
    return await client.post("/v1/messages", json={"content": TEXT, **body}, headers=auth(secret))


async def test_the_contacts_preference_comes_first(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Without the preference the cheapest would win (all free here: by the fixed order).
    contact = await _contact(client, tenant.test, preferred_channels=["sms", "kakao"])
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": contact})
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert (message["channel"], message["to"], message["contact_id"]) == ("sms", PHONE, contact)
    assert message["route"]["rule"] == "preference"
    assert message["route"]["channel"] == "sms"
    assert "sms" in message["route"]["considered"]
    # Kakao sends templates only, WhatsApp free text only in an open conversation.
    assert {"kakao", "whatsapp"} <= set(message["route"]["passed_over"])


async def test_a_channel_whose_rules_refuse_the_message_is_passed_over(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Telegram lets a business only answer; WhatsApp takes only templates outside a window.
    contact = await _contact(
        client,
        tenant.test,
        preferred_channels=["telegram", "whatsapp", "sms"],
        identities=[{"channel": "telegram", "id": CHAT}],
    )
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": contact})
    assert sent.status_code == 202, sent.text
    assert (sent.json()["channel"], sent.json()["route"]["rule"]) == ("sms", "preference")
    template = {"type": "template", "template": {"name": "order_update", "language": "en"}}
    sent = await _send(
        client, tenant.test, channel="auto", to={"contact_id": contact}, content=template
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "whatsapp"


async def test_an_open_conversation_comes_next(client: httpx.AsyncClient, tenant: Tenant) -> None:
    contact = await _contact(client, tenant.test, identities=[{"channel": "telegram", "id": CHAT}])
    assert (await _wrote_on_telegram(client, tenant))["contact_id"] == contact
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": contact})
    assert sent.status_code == 202, sent.text
    assert (sent.json()["channel"], sent.json()["route"]["rule"]) == ("telegram", "open_window")


async def test_else_the_cheapest_channel(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, admin = await make_key(app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"admin"}))
    priced = await client.patch(
        f"/v1/admin/accounts/{tenant.account_id}",
        json={"prices": {"*": 9_000, "sms": 2_000}},
        headers=auth(admin),
    )
    assert priced.status_code == 200, priced.text
    contact = await _contact(client, tenant.test)  # a phone: whatsapp, sms, kakao
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": contact})
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert (message["channel"], message["to"], message["route"]["rule"]) == ("sms", PHONE, "cost")
    assert message["price"] is None  # a test key's message costs nothing


async def test_kakao_takes_free_text_only_when_the_request_names_a_brand_message(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    contact = await _contact(client, tenant.test)  # a phone: whatsapp, sms, kakao
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": contact})
    assert sent.status_code == 202, sent.text
    # Kakao is cheapest by the fixed order here, but it sends templates only.
    assert sent.json()["channel"] != "kakao"
    assert "kakao" in sent.json()["route"]["passed_over"]
    brand = {"kakao": {"type": "brand"}}
    sent = await _send(
        client, tenant.test, channel="auto", to={"contact_id": contact}, options=brand
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["channel"] == "kakao"


async def test_a_named_channel_takes_the_contacts_identity_on_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    contact = await _contact(client, tenant.test, identities=[{"channel": "telegram", "id": CHAT}])
    await _wrote_on_telegram(client, tenant)
    sent = await _send(
        client,
        tenant.test,
        channel="telegram",
        to={"contact_id": contact},
        fallback=[{"channel": "sms"}],
    )
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert (message["channel"], message["to"], message["route"]) == ("telegram", CHAT, None)
    detail = await client.get(f"/v1/messages/{message['id']}", headers=auth(tenant.test))
    assert detail.status_code == 200, detail.text


async def test_a_contact_out_of_reach_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    contact = await _contact(
        client, tenant.test, phone=None, identities=[{"channel": "telegram", "id": CHAT}]
    )
    _, sms_only = await make_key(
        app, tenant.account_id, KeyMode.TEST, allowed_channels=frozenset({"sms"})
    )
    refused = await _send(client, sms_only, channel="auto", to={"contact_id": contact})
    assert_envelope(refused, 422, "no_route", "to.contact_id")
    named = await _send(client, tenant.test, channel="sms", to={"contact_id": contact})
    assert_envelope(named, 422, "no_route", "to.contact_id")
    step = await _send(
        client,
        tenant.test,
        channel="telegram",
        to={"contact_id": contact},
        fallback=[{"channel": "sms"}],
    )
    assert_envelope(step, 422, "no_route", "fallback.0.to")


async def test_live_keys_route_only_to_connected_channels(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    contact = await _contact(
        client,
        tenant.live,
        preferred_channels=["telegram"],
        identities=[{"channel": "telegram", "id": CHAT}],
    )
    # The account has no channel at all: nothing can carry it.
    refused = await _send(client, tenant.live, channel="auto", to={"contact_id": contact})
    assert_envelope(refused, 422, "no_route", "to.contact_id")


async def test_another_accounts_contact_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    stranger = await make_tenant(app)
    theirs = await _contact(client, stranger.test)
    refused = await _send(client, tenant.test, channel="auto", to={"contact_id": theirs})
    assert_envelope(refused, 404, "not_found", "to.contact_id")
    live_mode = await _send(client, stranger.live, channel="sms", to={"contact_id": theirs})
    assert_envelope(live_mode, 404, "not_found", "to.contact_id")


async def test_auto_needs_a_contact(client: httpx.AsyncClient, tenant: Tenant) -> None:
    refused = await _send(client, tenant.test, channel="auto", to=PHONE)
    assert_envelope(refused, 422, "invalid_address", "to")
    bad_id = await _send(client, tenant.test, channel="sms", to={"contact_id": "ct_nope"})
    assert_envelope(bad_id, 422, "invalid_request", "to.contact_id")
    unknown = await _send(client, tenant.test, channel="fax", to=PHONE)
    assert_envelope(unknown, 422, "invalid_request", "channel")


async def test_a_whatsapp_contact_is_no_route_through_a_session_unless_it_names_one(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    template = {"type": "template", "template": {"name": "order_update", "language": "en"}}
    contact = await _contact(client, tenant.test, identities=[{"channel": "whatsapp", "id": PHONE}])
    sent = await _send(
        client, tenant.test, channel="auto", to={"contact_id": contact}, content=template
    )
    assert sent.status_code == 202, sent.text
    route = sent.json()["route"]
    assert "whatsapp" in route["considered"]
    assert "whatsapp_web" not in route["considered"] + route.get("passed_over", [])
    # A named whatsapp_web send still reaches the contact's phone.
    named = await _send(client, tenant.test, channel="whatsapp_web", to={"contact_id": contact})
    assert named.status_code == 202, named.text
    assert named.json()["to"] == PHONE
    # A contact that prefers a session is routed through one, by its phone.
    prefers = await _contact(
        client, tenant.test, phone="+14155550124", preferred_channels=["whatsapp_web"]
    )
    sent = await _send(client, tenant.test, channel="auto", to={"contact_id": prefers})
    assert sent.status_code == 202, sent.text
    assert (sent.json()["channel"], sent.json()["route"]["rule"]) == ("whatsapp_web", "preference")
