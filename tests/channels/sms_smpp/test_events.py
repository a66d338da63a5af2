"""The SMPP event sink: receipts, users' messages and session states, in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from chatgate.channels.base import InboundMessage, StatusUpdate
from chatgate.channels.sms_smpp_events import SmppSink
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.engine.clock import system_clock
from chatgate.services.connection_events import ConnectionEvents
from chatgate.storage import channels as channel_store
from chatgate.storage import events as event_store
from chatgate.storage import messages as message_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.events import EventFilter
from chatgate.storage.types import utcnow
from tests.support import Tenant, gateway, until


async def _connection(app: FastAPI, tenant: Tenant) -> StoredConnection:
    stored = StoredConnection(
        id=new_id("ch"),
        account_id=tenant.account_id,
        type="sms",
        name=f"smsc-{new_id('n')}",
        credentials=b"",
        settings={},
        is_default=False,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    async with gateway(app).database.write() as conn:
        await channel_store.insert_connection(conn, stored)
    return stored


def _sink(app: FastAPI) -> SmppSink:
    found = gateway(app)
    return SmppSink(ConnectionEvents(found.database, system_clock, notify=found.wakeup.notify))


async def test_a_user_message_is_stored_as_an_inbound_message(app: FastAPI, tenant: Tenant) -> None:
    connection = await _connection(app, tenant)
    event = InboundMessage(
        provider_message_id="mo_1",
        sender="+447700900123",
        recipient="14155550100",
        content={"type": "text", "text": "hello from a phone"},
        at=datetime.now(UTC),
        raw=[{"command": "deliver_sm"}],
    )
    await _sink(app).record(connection.id, [event])
    async with gateway(app).database.read() as conn:
        stored = await message_store.find_by_provider_id(
            conn, tenant.account_id, "sms", "mo_1", "inbound"
        )
    assert stored is not None
    assert stored.status is Status.RECEIVED
    assert stored.content == {"type": "text", "text": "hello from a phone"}
    assert stored.connection_id == connection.id


async def test_a_receipt_before_the_send_is_stored_is_matched_later(
    app: FastAPI, tenant: Tenant
) -> None:
    connection = await _connection(app, tenant)
    receipt = StatusUpdate(
        status=Status.DELIVERED,
        platform_status="DELIVRD",
        at=datetime.now(UTC),
        raw={"command": "deliver_sm"},
        provider_message_id="1a2b,1a2c",
    )
    # The receipt comes first: no message has this platform id yet.
    await _sink(app).record(connection.id, [receipt])
    message = Message.new(
        account_id=tenant.account_id,
        mode=KeyMode.LIVE,
        direction="outbound",
        channel="sms",
        sender=None,
        recipient="+447700900123",
        content={"type": "text", "text": "x" * 200},
        status=Status.SENT,
        at=utcnow(),
        provider_message_id="1a2b,1a2c",
        connection_id=connection.id,
    )
    async with gateway(app).database.write() as conn:
        await message_store.insert_messages(conn, [message_store.message_row(message, None)])
        await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])

    async def delivered() -> bool:
        async with gateway(app).database.read() as conn:
            found = await message_store.get_message_by_id(conn, message.id)
        return found is not None and found.status is Status.DELIVERED

    await until(delivered, limit=15.0)


async def test_session_states_become_channel_status_events(app: FastAPI, tenant: Tenant) -> None:
    connection = await _connection(app, tenant)
    sink = _sink(app)
    await sink.session_state(connection.id, "bind_failed", 0x0E)
    await sink.session_state(connection.id, "bind_failed", 0x0E)  # no change: no new event
    await sink.session_state(connection.id, "bound", None)
    details: list[dict[str, Any]] = []

    async def both_logged() -> bool:
        # The log shows an event once every transaction older than it has ended.
        async with gateway(app).database.read() as conn:
            logged = await event_store.read_log(
                conn,
                tenant.account_id,
                KeyMode.LIVE,
                after=None,
                filters=EventFilter(types=frozenset({"channel.status"})),
                limit=10,
            )
        details[:] = [e.detail for e in logged if e.detail["channel_id"] == connection.id]
        return len(details) >= 2

    await until(both_logged)
    assert [d["status"] for d in details] == ["bind_failed", "bound"]
    assert details[0]["code"] == "0x0e"
    assert details[0]["reason"] == "Invalid Password"
