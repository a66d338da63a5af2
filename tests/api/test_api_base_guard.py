"""A channel's ``api_base`` (and an SMSC's host) cannot lead into the gateway's own network.

Each way in that was found from outside is tried on each store, against a real listener on
loopback that answers like an internal service with a secret: a send on a connection whose
``api_base`` is that listener, a Telegram connection made there (``setWebhook`` during
``POST /v1/channels``), an inbound Messenger attachment on the connection's own host, and
an SMPP connection to it. With the operator's policy at its default, none of them reaches
the listener; the same listener is reached once the operator allows private addresses, so
its silence means something.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.api.app import create_app
from chatgate.channels import meta
from chatgate.services.audit import Actor
from chatgate.storage.tables import media
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.channels.messenger import contract as messenger
from tests.support import Tenant, auth, gateway, make_tenant, settings_for, until

CANARY = b'{"ok": true, "canary": "SECRET-INTERNAL-DATA-7731"}'
TWILIO = {
    "provider": "twilio",
    "account_sid": "AC" + "0" * 32,
    "auth_token": "twilio-auth-token",
    "from_number": "+14155550100",
}


@dataclass
class InternalService:
    """A service on loopback that the gateway must not reach: it counts connections."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        self.requests.append(head)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(CANARY)}\r\nconnection: close\r\n\r\n".encode()
            + CANARY
        )
        await writer.drain()
        writer.close()


@asynccontextmanager
async def internal_service() -> AsyncIterator[InternalService]:
    """An :class:`InternalService` listening on a free loopback port."""
    service = InternalService()
    server = await asyncio.start_server(service._serve, "127.0.0.1", 0)
    service.port = server.sockets[0].getsockname()[1]
    try:
        yield service
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Rig:
    """A gateway under a given policy, a tenant of it, and the internal service."""

    app: FastAPI
    client: httpx.AsyncClient
    tenant: Tenant
    internal: InternalService

    async def post_channel(self, body: dict[str, Any]) -> httpx.Response:
        """``POST /v1/channels`` with the tenant's live key."""
        return await self.client.post("/v1/channels", json=body, headers=auth(self.tenant.live))

    async def stored_channel(
        self, channel_type: str, credentials: dict[str, Any], **settings: Any
    ) -> str:
        """A connection written straight to the store, as one made before the policy (or
        by another process whose policy differs) would be; its id."""
        service = gateway(self.app).channels
        async with gateway(self.app).database.write() as conn:
            stored = await service.create(
                conn,
                Actor(self.tenant.account_id),
                channel_type=channel_type,
                name=f"{channel_type}-stored",
                credentials=credentials,
                settings=settings,
                is_default=True,
                now=utcnow(),
            )
        return stored.id

    async def send_and_settle(self, channel: str, to: str) -> dict[str, Any]:
        """Send a text on ``channel``; the message once it is sent or has failed."""
        response = await self.client.post(
            "/v1/messages",
            json={"channel": channel, "to": to, "content": {"type": "text", "text": "hi"}},
            headers=auth(self.tenant.live),
        )
        assert response.status_code == 202, response.text
        message_id = response.json()["id"]
        found: dict[str, Any] = {}

        async def settled() -> bool:
            got = await self.client.get(
                f"/v1/messages/{message_id}", headers=auth(self.tenant.live)
            )
            found.update(got.json())
            return bool(found["status"] in ("sent", "delivered", "failed"))

        await until(settled)
        return found


@asynccontextmanager
async def rig(database_url: str, *, allow_private: bool) -> AsyncIterator[Rig]:
    """A gateway whose channels may (or may not) reach private addresses."""
    settings = settings_for(
        database_url,
        allow_private_api_base=allow_private,
        retry_base_seconds=0.05,
        retry_cap_seconds=0.1,
        send_max_attempts=2,
    )
    application = create_app(settings)
    async with internal_service() as internal, LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Rig(application, client, await make_tenant(application), internal)


LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:9/internal-admin",
    "http://localhost:9",
    "http://[::1]:9",
    "http://2130706433:9",
    "http://169.254.169.254",
]


@pytest.mark.parametrize("api_base", LOOPBACK_SPELLINGS)
async def test_a_private_api_base_is_refused_naming_the_field(
    database_url: str, api_base: str
) -> None:
    async with rig(database_url, allow_private=False) as r:
        body = {
            "type": "sms",
            "name": "sms",
            "credentials": TWILIO,
            "settings": {"api_base": api_base},
        }
        refused = await r.post_channel(body)
        assert_envelope(refused, 422, "address_not_allowed", "settings.api_base")
        assert "CHATGATE_ALLOW_PRIVATE_API_BASE" in refused.json()["error"]["message"]
        # Nothing was stored.
        listed = await r.client.get("/v1/channels", headers=auth(r.tenant.live))
        assert listed.json()["data"] == []


async def test_a_private_api_base_is_refused_on_change_too(database_url: str) -> None:
    async with rig(database_url, allow_private=False) as r:
        made = await r.post_channel({"type": "sms", "name": "sms", "credentials": TWILIO})
        assert made.status_code == 201, made.text
        channel = f"/v1/channels/{made.json()['id']}"
        changed = await r.client.patch(
            channel, json={"settings": {"api_base": r.internal.url}}, headers=auth(r.tenant.live)
        )
        assert_envelope(changed, 422, "address_not_allowed", "settings.api_base")
        kept = await r.client.get(channel, headers=auth(r.tenant.live))
        assert "api_base" not in kept.json()["settings"]


async def test_making_a_telegram_channel_calls_no_private_address(database_url: str) -> None:
    async with rig(database_url, allow_private=False) as r:
        body = {
            "type": "telegram",
            "name": "bot",
            "credentials": {
                "bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
                "secret_token": "telegram-secret-token",
            },
            "settings": {"api_base": f"{r.internal.url}/internal-admin"},
        }
        assert_envelope(await r.post_channel(body), 422, "address_not_allowed", "settings.api_base")
        assert r.internal.connections == 0


async def test_a_send_through_a_stored_private_api_base_reaches_nothing(
    database_url: str,
) -> None:
    async with rig(database_url, allow_private=False) as r:
        await r.stored_channel("sms", TWILIO, api_base=f"{r.internal.url}/internal-admin")
        message = await r.send_and_settle("sms", "+14155550123")
        assert message["status"] == "failed"
        assert message["error"]["code"] == "address_refused", message
        assert r.internal.connections == 0


async def test_an_operator_may_allow_private_addresses(database_url: str) -> None:
    async with rig(database_url, allow_private=True) as r:
        body = {
            "type": "sms",
            "name": "sms",
            "credentials": TWILIO,
            "settings": {"api_base": f"{r.internal.url}/internal-admin"},
        }
        assert (await r.post_channel(body)).status_code == 201
        await r.send_and_settle("sms", "+14155550123")
        # The listener is reachable: its silence in the other tests is the guard's doing.
        assert r.internal.connections >= 1
        assert r.internal.requests[0].startswith(b"POST /internal-admin/2010-04-01/Accounts/")


def _attachment_webhook(url: str) -> bytes:
    event = {
        "sender": {"id": messenger.PSID},
        "recipient": {"id": messenger.PAGE_ID},
        "timestamp": 1718111000123,
        "message": {
            "mid": "m_internal_attachment",
            "attachments": [{"type": "image", "payload": {"url": url}}],
        },
    }
    page = {"object": "page", "entry": [{"id": messenger.PAGE_ID, "time": 1, "messaging": [event]}]}
    return json.dumps(page).encode()


async def test_an_inbound_attachment_on_the_connections_own_private_host_is_not_fetched(
    database_url: str,
) -> None:
    async with rig(database_url, allow_private=False) as r:
        credentials = {
            "page_access_token": messenger.PAGE_ACCESS_TOKEN,
            "page_id": messenger.PAGE_ID,
            "app_secret": messenger.APP_SECRET,
            "verify_token": messenger.VERIFY_TOKEN,
        }
        channel_id = await r.stored_channel("messenger", credentials, api_base=r.internal.url)
        body = _attachment_webhook(f"{r.internal.url}/internal-admin/canary.png")
        signature = {"x-hub-signature-256": meta.sign(messenger.APP_SECRET, body)}
        hook = await r.client.post(
            f"/inbound/{channel_id}",
            content=body,
            headers={"content-type": "application/json", **signature},
        )
        assert hook.status_code == 200, hook.text

        async def fetched() -> bool:
            async with gateway(r.app).database.read() as conn:
                rows = (
                    await conn.execute(
                        select(media.c.status).where(media.c.connection_id == channel_id)
                    )
                ).all()
            return bool(rows) and rows[0].status != "pending"

        await until(fetched)
        async with gateway(r.app).database.read() as conn:
            # Only this connection's file: the store may hold other tests' rows.
            row = (
                await conn.execute(select(media).where(media.c.connection_id == channel_id))
            ).one()
        assert (row.status, row.error_code) == ("failed", "address_refused")
        served = await r.client.get(f"/v1/media/{row.id}", headers=auth(r.tenant.live))
        assert served.status_code != 200
        assert b"SECRET-INTERNAL-DATA" not in served.content
        assert r.internal.connections == 0


SMPP = {
    "provider": "smpp",
    "system_id": "chatgate",
    "password": "s3cret",
    "source_addr": "+14155550100",
}


async def test_an_smsc_on_a_private_address_is_refused_and_never_connected(
    database_url: str,
) -> None:
    async with rig(database_url, allow_private=False) as r:
        smpp = {**SMPP, "host": "127.0.0.1", "port": r.internal.port}
        refused = await r.post_channel({"type": "sms", "name": "smsc", "credentials": smpp})
        assert_envelope(refused, 422, "address_not_allowed", "credentials.host")
        await r.stored_channel("sms", smpp)
        message = await r.send_and_settle("sms", "+14155550123")
        assert message["status"] == "failed"
        assert message["error"]["code"] == "address_refused", message
        assert r.internal.connections == 0
