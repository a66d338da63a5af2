"""One user under several addresses (WhatsApp's phone and business-scoped user id): one
contact, one thread, one window; and what a webhook carried that is not understood is kept
and logged."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from structlog.testing import CapturingLogger

from chatgate.channels.base import InboundMessage, StatusUpdate, UnknownEvent
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.status import Status
from chatgate.services import inbound
from chatgate.services.inbound import record_webhook
from chatgate.storage import conversations as conversation_store
from chatgate.storage import peer_links as link_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.tables import conversations, inbound_log, messages
from chatgate.storage.types import utcnow
from tests.support import Tenant, gateway

PHONE = "+14155550123"
USER_ID = "US.13491208655302741918"


def _connection(tenant: Tenant) -> StoredConnection:
    return StoredConnection(
        id=new_id("ch"),
        account_id=tenant.account_id,
        type="whatsapp",
        name="shop",
        credentials=b"",
        settings={},
        is_default=True,
        created_at=utcnow(),
        updated_at=None,
    )


def _message(sender: str, user_id: str | None, username: str | None = None) -> InboundMessage:
    return InboundMessage(
        provider_message_id=new_id("wamid"),
        sender=sender,
        recipient="+15550783881",
        content={"type": "text", "text": "oi"},
        at=utcnow(),
        raw={},
        sender_user_id=user_id,
        sender_username=username,
    )


async def _receive(app: FastAPI, connection: StoredConnection, event: InboundMessage) -> None:
    async with gateway(app).database.write() as conn:
        result = await record_webhook(conn, connection, [event], utcnow())
    assert result.received == 1


async def test_a_username_only_user_who_shows_a_phone_later_keeps_one_thread(
    app: FastAPI, tenant: Tenant
) -> None:
    connection = _connection(tenant)
    await _receive(app, connection, _message(USER_ID, USER_ID, "ana"))
    await _receive(app, connection, _message(PHONE, USER_ID, "ana"))
    async with gateway(app).database.read() as conn:
        peers = [
            row.peer
            for row in await conn.execute(
                select(conversations.c.peer).where(conversations.c.account_id == tenant.account_id)
            )
        ]
        linked = await link_store.peers_of(conn, tenant.account_id, "live", "whatsapp", [PHONE])
        senders = {
            row.sender: row.contact_id
            for row in await conn.execute(
                select(messages.c.sender, messages.c.contact_id).where(
                    messages.c.account_id == tenant.account_id
                )
            )
        }
        # The window is the user's: a send to the phone finds it open.
        by_phone = await conversation_store.last_inbound_at(
            conn, tenant.account_id, KeyMode.LIVE.value, "whatsapp", PHONE
        )
    # The thread stays under the address first seen; the phone is linked to it.
    assert peers == [USER_ID]
    assert linked == {PHONE: USER_ID}
    assert set(senders) == {USER_ID, PHONE}
    assert len(set(senders.values())) == 1
    assert by_phone is not None


async def test_a_phone_known_before_user_ids_keeps_its_thread(app: FastAPI, tenant: Tenant) -> None:
    connection = _connection(tenant)
    await _receive(app, connection, _message(PHONE, None))
    await _receive(app, connection, _message(PHONE, USER_ID))
    await _receive(app, connection, _message(USER_ID, USER_ID))
    async with gateway(app).database.read() as conn:
        peers = [
            row.peer
            for row in await conn.execute(
                select(conversations.c.peer).where(conversations.c.account_id == tenant.account_id)
            )
        ]
        by_user_id = await conversation_store.last_inbound_at(
            conn, tenant.account_id, KeyMode.LIVE.value, "whatsapp", USER_ID
        )
    assert peers == [PHONE]
    assert by_user_id is not None


async def test_an_event_not_understood_is_kept_and_logged(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = _connection(tenant)
    event = UnknownEvent(kind="status", raw={"status": "read", "recipient_user_id": USER_ID})
    logger = CapturingLogger()
    monkeypatch.setattr(inbound, "log", logger)
    async with gateway(app).database.write() as conn:
        result = await record_webhook(conn, connection, [event], utcnow())
    assert result.unknown == 1
    async with gateway(app).database.read() as conn:
        kept = (
            await conn.execute(
                select(inbound_log.c.kind).where(inbound_log.c.connection_id == connection.id)
            )
        ).all()
    assert [row.kind for row in kept] == ["status"]
    [call] = logger.calls
    assert (call.method_name, call.args) == ("info", ("inbound.unknown_event",))
    assert (call.kwargs["channel_id"], call.kwargs["kind"]) == (connection.id, "status")


async def test_a_status_naming_phone_and_user_id_links_them(app: FastAPI, tenant: Tenant) -> None:
    """A message sent to a phone is reported with the user's BSUID: the user's later
    message without a phone finds the phone's thread."""
    connection = _connection(tenant)
    await _receive(app, connection, _message(PHONE, None))
    status = StatusUpdate(
        status=Status.DELIVERED,
        platform_status="delivered",
        at=utcnow(),
        raw={},
        provider_message_id="wamid.unknown",
        recipient=PHONE,
        recipient_user_id=USER_ID,
    )
    async with gateway(app).database.write() as conn:
        await record_webhook(conn, connection, [status], utcnow())
    await _receive(app, connection, _message(USER_ID, USER_ID, "ana"))
    async with gateway(app).database.read() as conn:
        linked = await link_store.peers_of(conn, tenant.account_id, "live", "whatsapp", [USER_ID])
        threads = (
            await conn.execute(
                select(conversations.c.peer).where(conversations.c.account_id == tenant.account_id)
            )
        ).all()
    assert linked == {USER_ID: PHONE}
    assert [row.peer for row in threads] == [PHONE]
