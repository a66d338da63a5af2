"""SMS over SMPP through the whole gateway: API, worker, session, SMSC emulator, store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chatgate.config import Settings
from chatgate.emulators.smsc import Smsc
from tests.channels.sms_smpp.support import (
    SOURCE,
    SYSTEM_ID,
    binds_of,
    connect,
    eventually,
    new_account,
    new_smsc,
)
from tests.support import Tenant, auth, settings_for, until, wait_for_status

USER = "+14155570001"
pytestmark = pytest.mark.usefixtures("tuned")


async def _status_seen(
    client: httpx.AsyncClient, tenant: Tenant, channel_id: str, status: str
) -> bool:
    """Whether the connection's ``channel.status`` events say ``status``."""
    response = await client.get(
        "/v1/events", params={"type": "channel.status", "limit": 100}, headers=auth(tenant.live)
    )
    return any(
        e["data"].get("channel_id") == channel_id and e["data"].get("status") == status
        for e in response.json()["data"]
    )


async def _inbound_texts(client: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    response = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
    )
    return [m["content"].get("text") for m in response.json()["data"] if m["channel"] == "sms"]


async def _send(client: httpx.AsyncClient, tenant: Tenant, text: str) -> dict[str, Any]:
    body = {"channel": "sms", "to": USER, "content": {"type": "text", "text": text}}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.live))
    assert response.status_code == 202, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_long_text_is_submitted_in_parts_and_delivered(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await connect(client, tenant, smsc)
    message = await _send(client, tenant, "d" * 161)
    done = await wait_for_status(client, tenant.live, message["id"], "delivered", limit=15.0)
    assert [entry.text for entry in smsc.submitted] == ["d" * 153, "d" * 8]
    parts = ",".join(str(entry.message_id) for entry in smsc.submitted)
    assert done["provider_message_id"] == parts


async def test_a_user_message_arrives_as_an_inbound_message(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await connect(client, tenant, smsc)
    first = await _send(client, tenant, "hi")
    await wait_for_status(client, tenant.live, first["id"], "sent", limit=15.0)
    smsc.mo(SYSTEM_ID, USER, SOURCE, "a reply ✓ " + "z" * 100)

    async def arrived() -> bool:
        return bool(await _inbound_texts(client, tenant))

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
    channel_id = await connect(client, tenant, smsc, password="wrong")
    message = await _send(client, tenant, "hello")
    failed = await wait_for_status(client, tenant.live, message["id"], "failed", limit=15.0)
    assert failed["error"]["code"] == "bind_failed"

    await until(lambda: _status_seen(client, tenant, channel_id, "bind_failed"), limit=15.0)


async def test_what_sms_cannot_carry_is_refused_or_rendered_down(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    await connect(client, tenant, smsc)
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


# -- sessions kept bound without a send --------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A hold of a minute: the keeper's own look comes only every 20 s, so a connection
    bound within the tests' limits was bound because its creation woke the keeper."""
    return settings_for(database_url, hold_seconds=60)


async def test_a_new_connection_is_bound_at_once_and_hears_a_user_before_any_send(
    client: httpx.AsyncClient,
    tenant: Tenant,
    smsc: Smsc,
) -> None:
    system_id = new_account(smsc)
    channel_id = await connect(client, tenant, smsc, system_id=system_id)
    # A first bind may be slow on a loaded machine; the keeper's own look is 20 s away.
    await eventually(lambda: smsc.bound(system_id) == 1, limit=15.0)
    await until(lambda: _status_seen(client, tenant, channel_id, "bound"), limit=5.0)
    assert smsc.submitted == []
    # A user writes before the business ever sent anything: it arrives all the same.
    smsc.mo(system_id, USER, SOURCE, "first contact")

    async def arrived() -> bool:
        return "first contact" in await _inbound_texts(client, tenant)

    await until(arrived, limit=5.0)
    response = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.live)
    )
    (inbound,) = response.json()["data"]
    assert (inbound["channel"], inbound["from"]) == ("sms", USER)
    assert binds_of(smsc, system_id) == 1


async def test_a_removed_connection_is_unbound_once_and_never_bound_again(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    gone, witness = new_account(smsc), new_account(smsc)
    channel_id = await connect(client, tenant, smsc, system_id=gone, name="gone")
    await connect(client, tenant, smsc, system_id=witness, name="witness")
    await eventually(lambda: smsc.bound(gone) == smsc.bound(witness) == 1, limit=5.0)
    removed = await client.delete(f"/v1/channels/{channel_id}", headers=auth(tenant.live))
    assert removed.status_code == 204, removed.text
    await eventually(lambda: smsc.unbinds == [gone] and smsc.bound(gone) == 0, limit=5.0)
    # The SMSC drops every session, then drops them and refuses the next binds: the
    # connection still there binds again after each, the removed one never.
    for refusals in (0, 3):
        before = binds_of(smsc, witness)
        smsc.refuse_binds = refusals
        smsc.drop()
        await eventually(
            lambda b=before: binds_of(smsc, witness) > b and smsc.bound(witness) == 1, limit=5.0
        )
    assert binds_of(smsc, gone, ok=False) == 1
    assert smsc.unbinds == [gone]


async def test_a_connection_removed_while_its_binds_are_refused_is_never_bound(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    gone, witness = new_account(smsc), new_account(smsc)
    smsc.refuse_binds = 10_000
    channel_id = await connect(client, tenant, smsc, system_id=gone, name="gone")
    await until(lambda: _status_seen(client, tenant, channel_id, "bind_failed"), limit=5.0)
    removed = await client.delete(f"/v1/channels/{channel_id}", headers=auth(tenant.live))
    assert removed.status_code == 204, removed.text
    # Made after the removal: once its session tries to bind, the worker has seen the
    # removal too (a bind that came in the moment between is no rebind after the removal).
    await connect(client, tenant, smsc, system_id=witness, name="witness")
    await eventually(lambda: binds_of(smsc, witness, ok=False) > 0, limit=5.0)
    smsc.refuse_binds = 0
    await eventually(lambda: smsc.bound(witness) == 1, limit=5.0)
    tries = binds_of(smsc, gone, ok=False)
    smsc.drop()
    await eventually(lambda: binds_of(smsc, witness) == 2 and smsc.bound(witness) == 1, limit=5.0)
    assert binds_of(smsc, gone, ok=False) == tries
    assert binds_of(smsc, gone) == 0
    assert gone not in smsc.unbinds


async def test_new_credentials_are_bound_at_once_and_the_old_bind_let_go(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc
) -> None:
    old = new_account(smsc)
    channel_id = await connect(client, tenant, smsc, system_id=old)
    await eventually(lambda: smsc.bound(old) == 1, limit=5.0)
    elsewhere = new_smsc()
    await elsewhere.start("127.0.0.1", 0)
    try:
        new = new_account(elsewhere, password="n3wpass")
        credentials = {"port": elsewhere.port, "system_id": new, "password": "n3wpass"}
        changed = await client.patch(
            f"/v1/channels/{channel_id}",
            json={"credentials": credentials},
            headers=auth(tenant.live),
        )
        assert changed.status_code == 200, changed.text
        await eventually(lambda: elsewhere.bound(new) == 1 and smsc.bound(old) == 0, limit=5.0)
        assert smsc.unbinds == [old]
        elsewhere.mo(new, USER, SOURCE, "to the new SMSC")

        async def arrived() -> bool:
            return "to the new SMSC" in await _inbound_texts(client, tenant)

        await until(arrived, limit=5.0)
        assert binds_of(smsc, old) == 1
    finally:
        await elsewhere.stop()
