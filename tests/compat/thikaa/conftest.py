"""Thikaa's tests: an account with Thikaa keys, and (for live sends) a WhatsApp channel on
the emulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.emulators.app import create_emulator_app
from chatgate.services.accounts import create_account
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.channels.whatsapp import contract as whatsapp
from tests.support import auth, gateway, make_key, served_in_this_loop, settings_for

# A live WhatsApp Cloud message costs this much (micro-units).
PRICE = 2_000
# A WhatsApp user who has written to the business (its service window is open).
WA_USER = "+14155550123"


@dataclass(frozen=True)
class Instance:
    """An account with a native key of each mode and a Thikaa key of each mode."""

    account_id: str
    name: str
    live: str
    live_id: str
    test: str
    test_id: str
    native_live: str
    native_test: str

    @property
    def base(self) -> str:
        """The account's Thikaa base URL (path)."""
        return f"/compat/thikaa/{self.name}/api/messaging/"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """WhatsApp Cloud messages are priced; webhooks may reach a receiver on loopback."""
    return settings_for(database_url, prices={"whatsapp": PRICE}, allow_private_webhooks=True)


async def make_instance(app: FastAPI, **spec: Any) -> Instance:
    """A fresh account with native and Thikaa keys (``spec``: the Thikaa keys' own)."""
    account = await create_account(gateway(app).database, f"shop-{uuid.uuid4().hex[:10]}")
    live_id, live = await make_key(app, account.id, KeyMode.LIVE, dialect=Dialect.THIKAA, **spec)
    test_id, test = await make_key(app, account.id, KeyMode.TEST, dialect=Dialect.THIKAA, **spec)
    _, native_live = await make_key(app, account.id, KeyMode.LIVE)
    _, native_test = await make_key(app, account.id, KeyMode.TEST)
    return Instance(
        account.id, account.name, live, live_id, test, test_id, native_live, native_test
    )


@pytest.fixture
async def instance(app: FastAPI) -> Instance:
    """An account with Thikaa keys of every scope and channel."""
    return await make_instance(app)


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
async def whatsapp_channel(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, emulator: str
) -> str:
    """A WhatsApp Cloud channel of the instance's account on the emulator, and a user who
    wrote to it; the emulator's URL."""
    created = await client.post(
        "/v1/channels",
        headers=auth(instance.native_live),
        json={
            "type": "whatsapp",
            "name": "shop",
            "credentials": {
                "access_token": whatsapp.ACCESS_TOKEN,
                "phone_number_id": whatsapp.PHONE_NUMBER_ID,
                "app_secret": whatsapp.APP_SECRET,
                "verify_token": whatsapp.VERIFY_TOKEN,
            },
            "settings": {"api_base": f"{emulator}/graph"},
        },
    )
    assert created.status_code == 201, created.text
    async with gateway(app).database.write() as conn:
        await conversation_store.record_inbound(
            conn, instance.account_id, KeyMode.LIVE.value, "whatsapp", WA_USER, utcnow()
        )
    return emulator


async def top_up(app: FastAPI, client: httpx.AsyncClient, instance: Instance, amount: int) -> None:
    """Credit the instance's account through the operator's API."""
    _, admin = await make_key(app, instance.account_id, KeyMode.LIVE, scopes=frozenset({"admin"}))
    response = await client.post(
        f"/v1/admin/accounts/{instance.account_id}/credit",
        json={"amount": amount, "note": "test top-up"},
        headers=auth(admin),
    )
    assert response.status_code == 200, response.text


def refused(response: httpx.Response, status: int, code: str) -> str:
    """Assert Thikaa's error body with ``status`` and ``code``; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"ok": False, "error": {"code": code, "message": body["error"]["message"]}}
    message: str = body["error"]["message"]
    assert message
    return message
