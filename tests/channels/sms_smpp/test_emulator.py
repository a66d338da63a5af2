"""The ``smpp`` emulator in ``chatgate emulate``: its SMSC and control API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from chatgate.channels.base import InboundMessage, StatusUpdate
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState
from tests.channels.sms_smpp.support import (
    PASSWORD,
    SYSTEM_ID,
    RecordingSink,
    eventually,
    fast_config,
)
from tests.channels.sms_smpp.test_session import submit_fields


@pytest.fixture
async def control() -> AsyncIterator[httpx.AsyncClient]:
    state = EmulatorState()
    app = create_emulator_app(state)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            response = await client.post(
                "/_emulator/smpp/accounts", json={"system_id": SYSTEM_ID, "password": PASSWORD}
            )
            assert response.status_code == 201, response.text
            yield client


async def _port(control: httpx.AsyncClient) -> int:
    response = await control.get("/_emulator/smpp/server")
    assert response.status_code == 200
    port: int = response.json()["port"]
    assert port > 0
    return port


async def test_submits_are_logged_and_receipted(control: httpx.AsyncClient) -> None:
    sink = RecordingSink()
    pool = SessionPool()
    pool.set_sink(sink)
    try:
        config = fast_config(await _port(control))
        message_id = await pool.submit_message("ch_1", config, submit_fields("hi"))
        received = (await control.get("/_emulator/smpp/received")).json()
        assert [(r["path"], r["message_id"], r["body"]["text"]) for r in received] == [
            ("submit_sm", message_id, "hi")
        ]
        assert received[0]["body"]["registered_delivery"] == 1
        await eventually(lambda: any(isinstance(e, StatusUpdate) for _, e in sink.events))
    finally:
        await pool.close()


async def test_faults_mo_drops_and_refused_binds(control: httpx.AsyncClient) -> None:
    sink = RecordingSink()
    pool = SessionPool()
    pool.set_sink(sink)
    try:
        config = fast_config(await _port(control))
        assert (await control.put("/_emulator/smpp/receipts", json={"delay": None})).is_success
        fault = {"kind": "rate_limit", "count": 1}
        assert (await control.post("/_emulator/smpp/faults", json=fault)).status_code == 201
        await pool.submit_message("ch_1", config, submit_fields())
        statuses = [r["status"] for r in (await control.get("/_emulator/smpp/received")).json()]
        assert statuses == [0x58, 0]

        inbound = {"system_id": SYSTEM_ID, "from": "+447700900123", "text": "yo"}
        assert (await control.post("/_emulator/smpp/inbound", json=inbound)).json()["parts"] == 1
        await eventually(lambda: any(isinstance(e, InboundMessage) for _, e in sink.events))

        refuse = await control.post("/_emulator/smpp/refuse-binds", json={"count": 1})
        assert refuse.is_success
        dropped = await control.post("/_emulator/smpp/drop", params={"system_id": SYSTEM_ID})
        assert dropped.json() == {"dropped": 1}

        async def bound_again() -> bool:
            sessions = (await control.get("/_emulator/smpp/sessions")).json()
            return sessions["bound"][SYSTEM_ID] == 1 and len(sessions["binds"]) == 3

        await eventually(bound_again)
        binds = (await control.get("/_emulator/smpp/sessions")).json()["binds"]
        assert [b["status"] for b in binds] == [0, 0x0D, 0]
    finally:
        await pool.close()


async def test_an_account_needs_a_system_id_and_password(control: httpx.AsyncClient) -> None:
    response = await control.post("/_emulator/smpp/accounts", json={"system_id": "x"})
    assert response.status_code == 422
