"""Shared by the linked-device tests: the emulator over ASGI, and reading a driver's events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from chatgate.channels.device_driver import DriverEvent
from chatgate.channels.whatsapp_web_emulated import EmulatedWebDriver
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState

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
