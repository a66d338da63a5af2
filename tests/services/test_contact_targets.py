"""What auto routing is given: a contact's reachable pairs and which have an open window."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.keys import KeyMode
from chatgate.domain.routing import NoRoute, choose_channel
from chatgate.errors import InvalidRequest, NotFound
from chatgate.services.contacts import contact_targets, no_route, open_windows
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.support import Tenant, auth, gateway, make_tenant

PHONE = "+14155550123"


async def _contact(client: httpx.AsyncClient, tenant: Tenant) -> str:
    created = await client.post(
        "/v1/contacts",
        json={
            "phone": PHONE,
            "preferred_channels": ["viber"],
            "identities": [{"channel": "telegram", "id": "42"}, {"channel": "sms", "id": PHONE}],
        },
        headers=auth(tenant.live),
    )
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    return contact_id


async def test_targets_are_the_identities_and_the_phone_on_phone_channels(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    contact_id = await _contact(client, tenant)
    async with gateway(app).database.read() as conn:
        contact, pairs = await contact_targets(conn, tenant.account_id, KeyMode.LIVE, contact_id)
    assert contact.id == contact_id
    assert contact.preferred_channels == ("viber",)
    assert set(pairs) == {
        ("telegram", "42"),
        ("sms", PHONE),
        ("whatsapp", PHONE),
        ("whatsapp_web", PHONE),
        ("kakao", PHONE),
    }


async def test_another_accounts_or_modes_contact_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    contact_id = await _contact(client, tenant)
    other = await make_tenant(app)
    async with gateway(app).database.read() as conn:
        for account_id, mode in (
            (other.account_id, KeyMode.LIVE),
            (tenant.account_id, KeyMode.TEST),
        ):
            with pytest.raises(NotFound):
                await contact_targets(conn, account_id, mode, contact_id)


async def test_open_windows_follow_the_channels_service_window(
    tenant: Tenant, app: FastAPI
) -> None:
    now = utcnow()
    wrote = {("whatsapp", PHONE): timedelta(hours=23), ("telegram", "42"): timedelta(hours=30)}
    async with gateway(app).database.write() as conn:
        for (channel, peer), ago in wrote.items():
            await conversation_store.record_inbound(
                conn, tenant.account_id, "live", channel, peer, now - ago
            )
    candidates = [("whatsapp", PHONE), ("telegram", "42"), ("sms", PHONE)]
    async with gateway(app).database.read() as conn:
        found = await open_windows(conn, tenant.account_id, KeyMode.LIVE, candidates, now)
    # WhatsApp's 24-hour window is open; Telegram has none of its own, and 30 h is past
    # the 24 h that count as a conversation there; SMS never wrote.
    assert found == {("whatsapp", PHONE)}
    choice = choose_channel(candidates, [], found, {"telegram": 0, "sms": 1})
    assert (choice.channel, choice.rule) == ("whatsapp", "open_window")


def test_no_route_is_422_naming_the_contact() -> None:
    error = no_route(NoRoute("unreachable"))
    assert isinstance(error, InvalidRequest)
    assert (error.status_code, error.code, error.field) == (422, "no_route", "to.contact_id")
