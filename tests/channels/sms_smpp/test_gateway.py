"""SMS over SMPP through the whole gateway: API, worker, session, SMSC emulator, store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.sms_smpp import SmppAdapter
from chatgate.channels.sms_smpp_pool import session_pool
from chatgate.emulators.smsc import Smsc
from chatgate.services.smpp_sessions import SmppSessionKeeper
from tests.channels.sms_smpp.support import PASSWORD, SOURCE, SYSTEM_ID, fast_config, new_smsc
from tests.support import Tenant, auth, gateway, until, wait_for_status

USER = "+14155570001"


@pytest.fixture
async def smsc(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Smsc]:
    monkeypatch.setattr(SmppAdapter, "session_defaults", fast_config(0))
    server = new_smsc()
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


async def _connect(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc, password: str = PASSWORD
) -> str:
    credentials = {
        "provider": "smpp",
        "host": "127.0.0.1",
        "port": smsc.port,
        "system_id": SYSTEM_ID,
        "password": password,
        "source_addr": SOURCE,
    }
    response = await client.post(
        "/v1/channels",
        json={"type": "sms", "name": "smsc", "credentials": credentials},
        headers=auth(tenant.live),
    )
    assert response.status_code == 201, response.text
    channel_id: str = response.json()["id"]
    return channel_id


async def _send(client: httpx.AsyncClient, tenant: Tenant, text: str) -> dict[str, Any]:
    body = {"channel": "sms", "to": USER, "content": {"type": "text", "text": text}}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.live))
    assert response.status_code == 202, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_long_text_is_submitted_in_parts_and_delivered(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await _connect(client, tenant, smsc)
    message = await _send(client, tenant, "d" * 161)
    done = await wait_for_status(client, tenant.live, message["id"], "delivered", limit=15.0)
    assert [entry.text for entry in smsc.submitted] == ["d" * 153, "d" * 8]
    parts = ",".join(str(entry.message_id) for entry in smsc.submitted)
    assert done["provider_message_id"] == parts


async def test_a_user_message_arrives_as_an_inbound_message(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await _connect(client, tenant, smsc)
    first = await _send(client, tenant, "hi")  # the first send binds the session
    await wait_for_status(client, tenant.live, first["id"], "sent", limit=15.0)
    smsc.mo(SYSTEM_ID, USER, SOURCE, "a reply ✓ " + "z" * 100)

    async def arrived() -> bool:
        response = await client.get(
            "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
        )
        return any(m["channel"] == "sms" for m in response.json()["data"])

    await until(arrived, limit=15.0)
    response = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
    )
    (inbound,) = [m for m in response.json()["data"] if m["channel"] == "sms"]
    assert inbound["from"] == USER
    assert inbound["content"] == {"type": "text", "text": "a reply ✓ " + "z" * 100}


async def test_a_wrong_password_fails_the_send_and_says_so(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    channel_id = await _connect(client, tenant, smsc, password="wrong")
    message = await _send(client, tenant, "hello")
    failed = await wait_for_status(client, tenant.live, message["id"], "failed", limit=15.0)
    assert failed["error"]["code"] == "bind_failed"

    async def reported() -> bool:
        response = await client.get(
            "/v1/events", params={"type": "channel.status"}, headers=auth(tenant.live)
        )
        return any(
            e["data"].get("channel_id") == channel_id and e["data"].get("status") == "bind_failed"
            for e in response.json()["data"]
        )

    await until(reported, limit=15.0)


async def test_every_smpp_connection_is_kept_bound_without_a_send(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    channel_id = await _connect(client, tenant, smsc)
    keeper = SmppSessionKeeper(gateway(app).database, gateway(app).channels, session_pool())
    assert await keeper.run_once() >= 1
    await until(_async(lambda: smsc.bound(SYSTEM_ID) == 1), limit=10.0)
    # A user writes before the business ever sent anything: it arrives all the same.
    smsc.mo(SYSTEM_ID, USER, SOURCE, "first contact")

    async def arrived() -> bool:
        response = await client.get(
            "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
        )
        return any(m["content"].get("text") == "first contact" for m in response.json()["data"])

    await until(arrived, limit=15.0)
    # A removed connection's session is closed on the next look.
    removed = await client.delete(f"/v1/channels/{channel_id}", headers=auth(tenant.live))
    assert removed.status_code == 204, removed.text
    await keeper.run_once()
    assert channel_id not in session_pool().connection_ids()
    await until(_async(lambda: smsc.bound(SYSTEM_ID) == 0), limit=10.0)


def _async(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


async def test_what_sms_cannot_carry_is_refused_or_rendered_down(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await _connect(client, tenant, smsc)
    image = {
        "type": "media",
        "media": {"kind": "image", "url": "https://cdn.example.com/cat.jpg", "caption": "A cat"},
    }
    body = {"channel": "sms", "to": USER, "content": image}
    refused = await client.post("/v1/messages", json=body, headers=auth(tenant.live))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "unsupported_content"
    assert error["details"] == {"channel": "sms", "feature": "media.image"}
    degraded = await client.post(
        "/v1/messages", json={**body, "degrade": True}, headers=auth(tenant.live)
    )
    assert degraded.status_code == 202, degraded.text
    await wait_for_status(client, tenant.live, degraded.json()["id"], "delivered", limit=15.0)
    assert [entry.text for entry in smsc.submitted] == ["A cat\nhttps://cdn.example.com/cat.jpg"]
