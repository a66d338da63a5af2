"""Thikaa's tests: an account with Thikaa keys, and (for live sends) a WhatsApp channel on
the emulator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.services.accounts import create_account
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.api.conftest import emulator
from tests.channels.whatsapp import contract as whatsapp
from tests.support import auth, gateway, make_key, settings_for

# A live WhatsApp Cloud message costs this much (micro-units).
PRICE = 2_000
# The WhatsApp emulator on a loopback port, its test number registered (a fixture).
__all__ = ["emulator"]
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
async def whatsapp_channel(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, emulator: str
) -> str:
    """A WhatsApp Cloud channel of the instance's account on the emulator, and a user who
    wrote to it; the emulator's URL."""
    created = await client.post(
        "/v1/channels",
        headers=auth(instance.native_live),
        json=whatsapp.channel_body(f"{emulator}/graph"),
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


async def thikaa_endpoint(client: httpx.AsyncClient, native: str, key_id: str, url: str) -> str:
    """A ``thikaa``-format webhook endpoint bound to the key ``key_id``, made with the native
    key ``native``; its secret, as shown once."""
    made = await client.post(
        "/v1/webhooks",
        json={"url": url, "format": "thikaa", "api_key_id": key_id},
        headers=auth(native),
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


async def user_writes(
    client: httpx.AsyncClient, native_test: str, channel: str, user: str, text: str
) -> str:
    """A sandbox user writes ``text`` on ``channel`` (Chatgate's name); the message's id."""
    wrote = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": channel, "from": user, "content": {"type": "text", "text": text}},
        headers=auth(native_test),
    )
    assert wrote.status_code == 201, wrote.text
    message_id: str = wrote.json()["id"]
    return message_id
