"""The runner's health watchdog: a working session whose connection stops answering (the
emulator's hang control) is started again, and the emulated driver's ping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.device_driver import DriverError
from chatgate.channels.whatsapp_web_emulated import EmulatedWebDriver
from chatgate.services.session_runner import UNRESPONSIVE, RunnerSettings, SessionHost
from tests.channels.whatsapp_web.support import BASE, CONTROL, PHONE, emulator_client
from tests.channels.whatsapp_web.support import settings_without_sessions as settings  # noqa: F401
from tests.channels.whatsapp_web.test_emulated_driver import _paired
from tests.channels.whatsapp_web.test_runner import _pair, _session, _state_is
from tests.support import Tenant, gateway, until


@pytest.fixture
async def emulator() -> AsyncIterator[httpx.AsyncClient]:
    async for made in emulator_client():
        yield made


class CountingDriver(EmulatedWebDriver):
    """The emulated driver, counting the pings it answered."""

    answered = 0

    async def ping(self) -> None:
        await super().ping()
        CountingDriver.answered += 1


class HeldWaits:
    """A backoff sleep that waits until the test lets it go, remembering what was asked."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.go = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self.go.wait()


async def _hang(emulator: httpx.AsyncClient, hung: bool = True) -> int:
    response = await emulator.post(f"{CONTROL}/hang", json={"phone": PHONE, "hung": hung})
    assert response.status_code == 200, response.text
    count: int = response.json()["connections"]
    return count


async def _live_connections(emulator: httpx.AsyncClient) -> int:
    devices = (await emulator.get(f"{CONTROL}/devices")).json()
    return int(devices[0]["connections"]) if devices else 0


async def test_a_working_session_that_stops_answering_is_started_again(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient
) -> None:
    session_id = await _session(app, tenant)
    waits = HeldWaits()
    host = SessionHost(
        gateway(app).database,
        gateway(app).sessions,
        lambda: CountingDriver(emulator, BASE, poll_wait=0.5),
        settings=RunnerSettings(ping_every=0.05, ping_timeout=1.0),
        sleep=waits,
    )
    try:
        host.start(session_id)
        await _pair(app, emulator, session_id)
        # Answering pings, it stays working (several pings go by).
        CountingDriver.answered = 0
        await until(_answered(3))
        await _state_is(app, session_id, "working")
        assert waits.asked == []
        assert await _hang(emulator) == 1
        # The watchdog notices, says so at once, and closes the silent connection.
        await _state_is(app, session_id, "starting", UNRESPONSIVE)
        await until(lambda: _no_connection(emulator))
        assert len(waits.asked) == 1
        assert 0 <= waits.asked[0] <= 1.0  # the usual backoff, from its first step
        waits.go.set()
        # Reconnected without a new code: the device resumes.
        await _state_is(app, session_id, "working")
        assert await _live_connections(emulator) == 1
        assert (await emulator.get(f"{CONTROL}/qr")).json() == []
    finally:
        await host.close()


def _answered(count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return CountingDriver.answered >= count

    return check


async def _no_connection(emulator: httpx.AsyncClient) -> bool:
    return await _live_connections(emulator) == 0


async def test_the_emulated_driver_ping_waits_while_the_connection_hangs(
    emulator: httpx.AsyncClient,
) -> None:
    device, _ = await _paired(emulator)
    await device.ping()  # answered
    await _hang(emulator)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await device.ping()
    await _hang(emulator, hung=False)
    await device.ping()
    await device.stop()
    with pytest.raises(DriverError) as refused:
        await device.ping()
    assert refused.value.code == "not_connected"
