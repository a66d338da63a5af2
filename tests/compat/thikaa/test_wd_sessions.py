"""``wd`` on the account's linked-device sessions, as their states are stored (the sending
itself is tested on the emulated phone in ``test_verbatim``)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from chatgate.domain.sessions import SessionPacing, SessionState
from chatgate.services.audit import Actor
from chatgate.storage import messages as message_store
from chatgate.storage.types import utcnow
from tests.compat.thikaa.conftest import Instance
from tests.support import auth, gateway

DIRECT = {"channel": "wd", "to": "+966500000001", "message": "Your order has shipped 🚚✅"}
SEND = "?action=send"


async def _session(app: FastAPI, instance: Instance, name: str, state: SessionState) -> str:
    service = gateway(app).sessions
    async with gateway(app).database.write() as conn:
        stored = await service.create(
            conn, Actor(instance.account_id), name=name, pacing=SessionPacing(), now=utcnow()
        )
        await service.change_state(conn, stored.id, state, reason=None, now=utcnow())
    return stored.id


async def test_wd_names_the_session_that_is_not_connected(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    await _session(app, instance, "desk", "scan_qr")
    answer = await client.post(f"{instance.base}{SEND}", json=DIRECT, headers=auth(instance.live))
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "wd_not_connected"
    assert "'desk'" in error["message"]
    assert "scan_qr" in error["message"]


async def test_with_several_working_sessions_the_oldest_sends_wd(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    oldest = await _session(app, instance, "desk", "working")
    await _session(app, instance, "shop", "working")
    answer = await client.post(f"{instance.base}{SEND}", json=DIRECT, headers=auth(instance.live))
    assert answer.status_code == 200, answer.text
    message_id = answer.json()["message_id"]
    async with gateway(app).database.read() as conn:
        stored = await message_store.get_message_by_id(conn, message_id)
    assert stored is not None
    assert (stored.channel, stored.connection_id) == ("whatsapp_web", oldest)
    status = await client.get(f"{instance.base}?action=status", headers=auth(instance.live))
    assert {c["channel"]: c["connected"] for c in status.json()["channels"]}["wd"] is True
