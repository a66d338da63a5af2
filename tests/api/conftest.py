"""Fixtures of the API tests that send live: the WhatsApp emulator, a channel on it, credit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.emulators.app import create_emulator_app
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.channels.whatsapp import contract as whatsapp
from tests.support import Tenant, auth, gateway, make_key, served_in_this_loop, settings_for

PRICE = 1_500
USER = "+14155550123"
PLANS = {
    "tiny": {"rate_limit": 2, "daily_messages": 3},
    "unlimited": {},
}


def priced_settings(database_url: str) -> Settings:
    """Test settings where a WhatsApp message costs ``PRICE`` and the ``tiny`` plan allows
    3 messages a day (for a module's own ``settings`` fixture)."""
    return settings_for(database_url, prices={"whatsapp": PRICE}, plans=PLANS)


async def top_up(
    client: httpx.AsyncClient, admin: dict[str, str], tenant: Tenant, amount: int
) -> dict[str, Any]:
    """Top the tenant's account up by ``amount`` micro-units through the admin API."""
    response = await client.post(
        f"/v1/admin/accounts/{tenant.account_id}/credit",
        json={"amount": amount, "note": "test top-up"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    entry: dict[str, Any] = response.json()
    return entry


def whatsapp_channel(emulator_url: str) -> dict[str, Any]:
    """The body of ``POST /v1/channels`` connecting the emulator's WhatsApp test number."""
    return {
        "type": "whatsapp",
        "name": "shop",
        "credentials": {
            "access_token": whatsapp.ACCESS_TOKEN,
            "phone_number_id": whatsapp.PHONE_NUMBER_ID,
            "app_secret": whatsapp.APP_SECRET,
            "verify_token": whatsapp.VERIFY_TOKEN,
        },
        "settings": {"api_base": f"{emulator_url}/graph"},
    }


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    """The platform emulators on a loopback port, with the WhatsApp test number registered."""
    async with served_in_this_loop(create_emulator_app()) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            registered = await http.post(
                "/_emulator/whatsapp/accounts", json=whatsapp.emulator_account()
            )
            assert registered.status_code == 201, registered.text
        yield url


@pytest.fixture
async def live(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, emulator: str
) -> dict[str, str]:
    """The tenant's headers, with a WhatsApp channel on the emulator and a user who wrote."""
    headers = auth(tenant.live)
    created = await client.post("/v1/channels", headers=headers, json=whatsapp_channel(emulator))
    assert created.status_code == 201, created.text
    async with gateway(app).database.write() as conn:
        await conversation_store.record_inbound(
            conn, tenant.account_id, KeyMode.LIVE.value, "whatsapp", USER, utcnow()
        )
    return headers


@pytest.fixture
async def admin(app: FastAPI, tenant: Tenant) -> dict[str, str]:
    """Headers of an operator's key holding the ``admin`` scope (on an account of its own)."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"admin"}))
    return auth(secret)
