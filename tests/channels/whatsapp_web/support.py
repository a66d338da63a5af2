"""Shared by the linked-device tests: the emulator over ASGI, and reading a driver's events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from chatgate.channels.device_driver import DriverEvent
from chatgate.channels.whatsapp_web_emulated import EmulatedWebDriver
from chatgate.config import Settings
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState
from tests.support import settings_for, until

BASE = "http://emulator"
CONTROL = "/_emulator/whatsapp_web"
PHONE = "+237612345678"
FAST = {"qr_interval": 0.05, "sent_after": 0.01, "delivered_after": 0.02, "read_after": 0.03}


async def emulator_client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh emulator (served in process) with fast QR codes and receipts."""
    app = create_emulator_app(EmulatorState())
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            assert (await client.put(f"{CONTROL}/settings", json=FAST)).status_code == 200
            yield client


def driver(client: httpx.AsyncClient) -> EmulatedWebDriver:
    """A driver speaking to the emulator, polling briefly."""
    return EmulatedWebDriver(client, BASE, poll_wait=0.5)


async def take(stream: AsyncIterator[DriverEvent], count: int = 1) -> list[DriverEvent]:
    """The next ``count`` events of ``stream`` (fails after 5 seconds)."""
    found: list[DriverEvent] = []
    async with asyncio.timeout(5):
        while len(found) < count:
            found.append(await anext(stream))
    return found


async def scan(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """The phone scans the only QR code shown."""
    response = await client.post(f"{CONTROL}/scan", json={"phone": PHONE, "name": "Ada", **fields})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def session_codes(gateway: httpx.AsyncClient, secret: str, session_id: str) -> list[str]:
    """The QR codes the session showed, oldest first (from the account's event log)."""
    found = await gateway.get(
        "/v1/events",
        params={"type": "session.qr", "limit": 100},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert found.status_code == 200, found.text
    events = found.json()["data"]
    return [e["data"]["qr"] for e in events if e["data"]["session_id"] == session_id]


async def session_state(gateway: httpx.AsyncClient, secret: str, session_id: str) -> str:
    """The session's state as the API shows it."""
    found = await gateway.get(
        f"/v1/sessions/{session_id}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert found.status_code == 200, found.text
    state: str = found.json()["state"]
    return state


async def paired_session(
    gateway: httpx.AsyncClient,
    secret: str,
    phone: httpx.AsyncClient,
    name: str,
    number: str = PHONE,
    **pacing: int,
) -> str:
    """A new session of the key's account (with ``pacing``), paired with the phone
    ``number`` (it scans the session's code) and ``working``; its id."""
    created = await gateway.post(
        "/v1/sessions",
        json={"name": name, "pacing": pacing},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert created.status_code == 201, created.text
    session_id: str = created.json()["id"]

    async def shows_a_code() -> bool:
        return bool(await session_codes(gateway, secret, session_id))

    await until(shows_a_code)
    codes = await session_codes(gateway, secret, session_id)
    scanned = await phone.post(
        f"{CONTROL}/scan", json={"code": codes[-1], "phone": number, "name": name}
    )
    assert scanned.status_code == 200, scanned.text

    async def working() -> bool:
        return await session_state(gateway, secret, session_id) == "working"

    await until(working)
    return session_id


@pytest.fixture
def settings_without_sessions(database_url: str) -> Settings:
    """Gateway settings whose worker runs no session: for a module whose tests run sessions
    in hosts of their own (imported there as ``settings``), so that no second runner of the
    same session, on another emulator, competes with theirs."""
    return settings_for(database_url)
