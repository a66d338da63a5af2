"""``POST /v1/messages/distribute``: one content, many recipients, each on its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from tests.api.conftest import PRICE, USER, priced_settings, top_up
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, make_tenant, until

TEXT = {"type": "text", "text": "We open at 9 tomorrow"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """WhatsApp messages cost ``PRICE``."""
    return priced_settings(database_url)


async def _distribute(client: httpx.AsyncClient, secret: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/messages/distribute", json={"content": TEXT, **body}, headers=auth(secret)
    )


async def _contact(client: httpx.AsyncClient, secret: str, **fields: Any) -> str:
    created = await client.post("/v1/contacts", json=fields, headers=auth(secret))
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    return contact_id


async def test_each_listed_recipient_is_accepted_or_refused_on_its_own(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    answer = await _distribute(
        client,
        tenant.test,
        recipients=[
            {"channel": "sms", "to": "+14155550101"},
            {"channel": "sms", "to": "not a number"},
            {"channel": "telegram", "to": "123456789"},
            {"channel": "sms", "to": "+14155550102"},
        ],
        metadata={"campaign": "hours"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    first, bad, stranger, last = body["results"]
    assert (first["status"], first["channel"], first["to"]) == ("accepted", "sms", "+14155550101")
    assert (bad["status"], bad["error"]["field"]) == ("rejected", "recipients.1.to")
    # Each recipient meets the channel's rules: Telegram users must write first.
    assert (stranger["status"], stranger["error"]["code"]) == (
        "rejected",
        "channel_cannot_initiate",
    )
    assert (last["status"], last["to"]) == ("accepted", "+14155550102")
    message = await client.get(f"/v1/messages/{first['message_id']}", headers=auth(tenant.test))
    assert message.json()["distribution_id"] == body["id"]
    assert message.json()["metadata"] == {"campaign": "hours"}

    async def all_delivered() -> bool:
        read = await client.get(f"/v1/distributions/{body['id']}", headers=auth(tenant.test))
        assert read.status_code == 200, read.text
        statuses: dict[str, int] = read.json()["statuses"]
        return sum(statuses.get(s, 0) for s in ("delivered", "read")) == 2

    await until(all_delivered)


async def test_a_contact_selection_reaches_each_matching_contact(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    gold = await _contact(
        client,
        tenant.test,
        name="Ada",
        attributes={"tier": "gold"},
        identities=[{"channel": "telegram", "id": "111"}],
    )
    also_gold = await _contact(
        client,
        tenant.test,
        name="Grace",
        phone="+14155550102",
        attributes={"tier": "gold"},
        preferred_channels=["sms"],
    )
    # Ada wrote on Telegram, where a business may only answer.
    wrote = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "telegram", "from": "111", "content": {"type": "text", "text": "hi"}},
        headers=auth(tenant.test),
    )
    assert wrote.status_code == 201, wrote.text
    await _contact(
        client, tenant.test, name="Linus", phone="+14155550103", attributes={"tier": "x"}
    )
    answer = await _distribute(client, tenant.test, contacts={"attributes": {"tier": "gold"}})
    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [r["recipient"]["contact_id"] for r in results] == [gold, also_gold]
    assert [(r["status"], r["channel"]) for r in results] == [
        ("accepted", "telegram"),
        ("accepted", "sms"),
    ]


async def test_a_listed_contact_and_a_named_channel(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    contact = await _contact(client, tenant.test, phone="+14155550104")
    answer = await _distribute(
        client, tenant.test, recipients=[{"contact_id": contact, "channel": "sms"}]
    )
    assert answer.status_code == 202, answer.text
    [result] = answer.json()["results"]
    assert (result["channel"], result["to"]) == ("sms", "+14155550104")


async def test_live_recipients_are_charged_like_any_message(
    client: httpx.AsyncClient,
    tenant: Tenant,
    live: dict[str, str],
    admin: dict[str, str],
) -> None:
    await top_up(client, admin, tenant, 2 * PRICE)
    answer = await _distribute(
        client, tenant.live, recipients=[{"channel": "whatsapp", "to": USER}] * 3
    )
    assert answer.status_code == 202, answer.text
    statuses = [(r["status"], (r.get("error") or {}).get("code")) for r in answer.json()["results"]]
    assert statuses == [
        ("accepted", None),
        ("accepted", None),
        ("rejected", "insufficient_credit"),
    ]


async def test_a_distribution_needs_someone_to_send_to(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    nobody = await _distribute(client, tenant.test)
    assert_envelope(nobody, 422, "invalid_request", "recipients")
    too_many = await _distribute(
        client, tenant.test, recipients=[{"channel": "sms", "to": "+14155550101"}] * 1001
    )
    assert_envelope(too_many, 422, "invalid_request", "recipients")
    # A selection that matches no stored contact: the schema cannot know, so a code of its own.
    no_match = await _distribute(client, tenant.test, contacts={"attributes": {"tier": "none"}})
    assert_envelope(no_match, 422, "no_recipients", "recipients")


async def test_another_accounts_distribution_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    answer = await _distribute(
        client, tenant.test, recipients=[{"channel": "sms", "to": "+14155550101"}]
    )
    distribution_id = answer.json()["id"]
    stranger = await make_tenant(app)
    for secret in (stranger.test, tenant.live):
        found = await client.get(f"/v1/distributions/{distribution_id}", headers=auth(secret))
        assert_envelope(found, 404, "not_found", "id")
