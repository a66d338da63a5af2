"""Inbound messages make or find their sender's contact, once, even when they race."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from chatgate.channels.base import InboundMessage
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.services.contacts import link_inbound
from chatgate.services.inbound import record_webhook
from chatgate.storage.channels import StoredConnection
from chatgate.storage.database import Database
from chatgate.storage.tables import contacts, messages
from chatgate.storage.types import utcnow
from tests.support import Tenant, auth, gateway, until

WA_USER = "+14155550123"


def _connection(tenant: Tenant, channel: str = "whatsapp") -> StoredConnection:
    return StoredConnection(
        id=new_id("ch"),
        account_id=tenant.account_id,
        type=channel,
        name=f"{channel} line",
        credentials=b"",
        settings={},
        is_default=True,
        created_at=utcnow(),
        updated_at=None,
    )


def _message(sender: str, name: str | None = None) -> InboundMessage:
    return InboundMessage(
        provider_message_id=new_id("wamid"),
        sender=sender,
        recipient="+14155550000",
        content={"type": "text", "text": "hello"},
        at=utcnow(),
        raw={},
        sender_name=name,
    )


async def _receive(app: FastAPI, connection: StoredConnection, *events: InboundMessage) -> None:
    async with gateway(app).database.write() as conn:
        result = await record_webhook(conn, connection, list(events), utcnow())
    assert result.received == len(events)


async def _contact_ids_of_messages(app: FastAPI, account_id: str) -> list[str | None]:
    async with gateway(app).database.read() as conn:
        rows = await conn.execute(
            select(messages.c.contact_id)
            .where(messages.c.account_id == account_id, messages.c.direction == "inbound")
            .order_by(messages.c.id)
        )
        return [row.contact_id for row in rows]


async def _contacts(client: httpx.AsyncClient, secret: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/contacts", params=params, headers=auth(secret))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_a_new_sender_becomes_a_contact_and_stays_one(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    connection = _connection(tenant)
    await _receive(app, connection, _message(WA_USER, "Zoë"))
    [contact] = await _contacts(client, tenant.live)
    assert (contact["name"], contact["phone"]) == ("Zoë", WA_USER)
    assert contact["identities"] == [{"channel": "whatsapp", "id": WA_USER}]
    # A second message, in its own webhook and in one with a third: the same contact.
    await _receive(app, connection, _message(WA_USER, "Zoe renamed"))
    await _receive(app, connection, _message(WA_USER), _message(WA_USER))
    assert [c["id"] for c in await _contacts(client, tenant.live)] == [contact["id"]]
    assert await _contact_ids_of_messages(app, tenant.account_id) == [contact["id"]] * 4
    # The platform's later profile name does not overwrite the contact's.
    assert (await _contacts(client, tenant.live))[0]["name"] == "Zoë"


async def test_an_existing_contact_with_the_phone_gains_the_identity(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await client.post(
        "/v1/contacts",
        json={"name": "Ada", "phone": WA_USER, "identities": [{"channel": "telegram", "id": "42"}]},
        headers=auth(tenant.live),
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    await _receive(app, _connection(tenant, "sms"), _message(WA_USER, "Someone else"))
    [contact] = await _contacts(client, tenant.live)
    assert contact["id"] == contact_id
    assert contact["name"] == "Ada"
    assert {(i["channel"], i["id"]) for i in contact["identities"]} == {
        ("telegram", "42"),
        ("sms", WA_USER),
    }
    assert await _contact_ids_of_messages(app, tenant.account_id) == [contact_id]


async def test_a_platform_id_sender_gets_its_own_contact(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _receive(app, _connection(tenant, "telegram"), _message("987654321", "Bob"))
    [contact] = await _contacts(client, tenant.live, channel="telegram", identity="987654321")
    assert (contact["name"], contact["phone"]) == ("Bob", None)


async def test_sandbox_senders_are_test_contacts(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    body = {"channel": "telegram", "from": "5550001", "content": {"type": "text", "text": "hi"}}
    sent = await client.post("/v1/sandbox/inbound", json=body, headers=auth(tenant.test))
    assert sent.status_code == 201, sent.text
    [contact] = await _contacts(client, tenant.test)
    assert contact["identities"] == [{"channel": "telegram", "id": "5550001"}]
    assert await _contacts(client, tenant.live) == []
    assert await _contact_ids_of_messages(app, tenant.account_id) == [contact["id"]]


async def test_a_deleted_contact_keeps_its_messages_and_the_sender_comes_back_new(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    connection = _connection(tenant)
    await _receive(app, connection, _message(WA_USER))
    [first] = await _contacts(client, tenant.live)
    deleted = await client.delete(f"/v1/contacts/{first['id']}", headers=auth(tenant.live))
    assert deleted.status_code == 204
    await _receive(app, connection, _message(WA_USER))
    [second] = await _contacts(client, tenant.live)
    assert second["id"] != first["id"]
    assert await _contact_ids_of_messages(app, tenant.account_id) == [first["id"], second["id"]]


async def _count_contacts(database: Database, account_id: str) -> int:
    async with database.read() as conn:
        count: int = await conn.scalar(
            select(func.count()).select_from(contacts).where(contacts.c.account_id == account_id)
        )
    return count


async def _link_alone(database: Database, account_id: str, channel: str, peer: str) -> str:
    async with database.write() as conn:
        return await link_inbound(conn, account_id, KeyMode.LIVE, channel, peer, at=utcnow())


async def _someone_waits_for_a_lock(database: Database) -> bool:
    async with database.read() as conn:
        waiting: int = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return waiting > 0


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_racing_first_messages_make_one_contact(tenant: Tenant, app: FastAPI) -> None:
    database = gateway(app).database
    async with database.write() as conn:
        winner = await link_inbound(
            conn, tenant.account_id, KeyMode.LIVE, "whatsapp", WA_USER, at=utcnow()
        )
        # A second transaction sees no contact yet, makes one, and waits on the identity.
        loser = asyncio.create_task(_link_alone(database, tenant.account_id, "whatsapp", WA_USER))
        await until(lambda: _someone_waits_for_a_lock(database))
    assert await loser == winner
    assert await _count_contacts(database, tenant.account_id) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_many_concurrent_first_messages_make_one_contact(
    tenant: Tenant, app: FastAPI
) -> None:
    database = gateway(app).database
    found = await asyncio.gather(
        *(_link_alone(database, tenant.account_id, "telegram", "31337") for _ in range(8))
    )
    assert len(set(found)) == 1
    assert await _count_contacts(database, tenant.account_id) == 1
