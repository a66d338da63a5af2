"""The session runner driving sessions through the emulated WhatsApp Web, and its backoff."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.device_driver import (
    Connected,
    DriverError,
    DriverEvent,
    Outgoing,
)
from chatgate.domain.sessions import SessionPacing
from chatgate.engine.retry import RetryPolicy
from chatgate.services.audit import Actor
from chatgate.services.session_runner import RunnerSettings, SessionHost, SessionRunner
from chatgate.storage import sessions as session_store
from chatgate.storage.sessions import StoredSession
from chatgate.storage.types import utcnow
from tests.channels.whatsapp_web.support import CONTROL, PHONE, driver, emulator_client, scan
from tests.channels.whatsapp_web.support import settings_without_sessions as settings  # noqa: F401
from tests.support import Tenant, gateway, until


@pytest.fixture
async def emulator() -> AsyncIterator[httpx.AsyncClient]:
    async for made in emulator_client():
        yield made


class Waits:
    """A sleep that returns at once and remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


async def _session(app: FastAPI, tenant: Tenant, name: str = "desk") -> str:
    async with gateway(app).database.write() as conn:
        stored = await gateway(app).sessions.create(
            conn, Actor(tenant.account_id), name=name, pacing=SessionPacing(), now=utcnow()
        )
    return stored.id


def _reader(app: FastAPI, session_id: str) -> Callable[[], Awaitable[StoredSession | None]]:
    async def read() -> StoredSession | None:
        async with gateway(app).database.read() as conn:
            return await session_store.get_session(conn, session_id)

    return read


async def _state_is(app: FastAPI, session_id: str, state: str, reason: str | None = None) -> None:
    read = _reader(app, session_id)

    async def reached() -> bool:
        found = await read()
        return found is not None and (found.state, found.reason) == (state, reason)

    await until(reached)


async def _pair(app: FastAPI, emulator: httpx.AsyncClient, session_id: str) -> None:
    """The running session shows a code, the phone scans it, the session works."""
    await _state_is(app, session_id, "scan_qr")
    await scan(emulator)
    await _state_is(app, session_id, "working")


def _host(app: FastAPI, emulator: httpx.AsyncClient, waits: Waits) -> SessionHost:
    return SessionHost(
        gateway(app).database, gateway(app).sessions, lambda: driver(emulator), sleep=waits
    )


@contextlib.asynccontextmanager
async def _working(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient, waits: Waits
) -> AsyncIterator[tuple[str, SessionHost, SessionRunner]]:
    """A session run by a host of its own, paired: its id, the host and its runner."""
    session_id = await _session(app, tenant)
    host = _host(app, emulator, waits)
    try:
        runner = host.start(session_id)
        await _pair(app, emulator, session_id)
        yield session_id, host, runner
    finally:
        await host.close()


async def test_a_session_shows_codes_until_scanned_then_works_and_resumes(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient
) -> None:
    async with _working(app, tenant, emulator, Waits()) as (session_id, host, _):
        stored = await _reader(app, session_id)()
        assert stored is not None
        assert (stored.phone, stored.push_name) == (PHONE, "Ada")
        assert stored.device_state is not None
        devices = (await emulator.get(f"{CONTROL}/devices")).json()
        # The device's keys are stored encrypted, and they resume it.
        assert gateway(app).sessions.device_state(stored) is not None
        assert devices[0]["connections"] == 1
        await host.stop(session_id)
        assert (await emulator.get(f"{CONTROL}/devices")).json()[0]["connections"] == 0
        host.start(session_id)
        await until(_connected(emulator))
        assert (await emulator.get(f"{CONTROL}/qr")).json() == []


def _connected(emulator: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        devices = (await emulator.get(f"{CONTROL}/devices")).json()
        return bool(devices) and devices[0]["connections"] == 1

    return check


async def test_a_drop_reconnects_without_a_new_code(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient
) -> None:
    waits = Waits()
    async with _working(app, tenant, emulator, waits) as (session_id, _, _):
        assert (await emulator.post(f"{CONTROL}/drop", json={"phone": PHONE})).status_code == 200
        await until(_connected(emulator))
        await _state_is(app, session_id, "working")
        assert len(waits.asked) == 1
        assert 0 <= waits.asked[0] <= 1.0  # the first wait: within the base delay


async def test_logout_from_the_phone_ends_failed_without_a_loop(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient
) -> None:
    waits = Waits()
    async with _working(app, tenant, emulator, waits) as (session_id, host, runner):
        assert (await emulator.post(f"{CONTROL}/logout", json={"phone": PHONE})).status_code == 200
        await _state_is(app, session_id, "failed", "logged_out")
        await until(lambda: _done(host, session_id))
        stored = await _reader(app, session_id)()
        assert stored is not None
        assert stored.device_state is None
        assert waits.asked == []  # no reconnect was even scheduled
        assert runner.showed_qr


async def _done(host: SessionHost, session_id: str) -> bool:
    return session_id not in host.running()


async def test_removing_a_session_logs_its_device_out(
    app: FastAPI, tenant: Tenant, emulator: httpx.AsyncClient
) -> None:
    async with _working(app, tenant, emulator, Waits()) as (session_id, host, _):
        await host.remove(session_id)
        devices = (await emulator.get(f"{CONTROL}/devices")).json()
        assert [(d["linked"], d["connections"]) for d in devices] == [(False, 0)]


class FlakyDriver:
    """A paired device whose platform refuses ``failures`` connects, then connects."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0

    async def start(self, device_state: str | None) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise DriverError("unreachable", "refused", retryable=True)

    async def events(self) -> AsyncIterator[DriverEvent]:
        yield Connected("1:1@s.whatsapp.net", "+1", "Ada")
        await asyncio.Event().wait()  # stays connected

    async def send(self, message: Outgoing) -> str:
        return "id"

    async def stop(self) -> None:
        return None

    async def logout(self) -> None:
        return None


async def _paired_session(app: FastAPI, tenant: Tenant) -> str:
    session_id = await _session(app, tenant)
    async with gateway(app).database.write() as conn:
        await session_store.update_session(
            conn,
            session_id,
            {"device_state": gateway(app).sessions.box.encrypt({"device_state": "k"})},
        )
    return session_id


async def test_reconnects_back_off_exponentially_with_jitter_up_to_a_ceiling(
    app: FastAPI, tenant: Tenant
) -> None:
    session_id = await _paired_session(app, tenant)
    flaky = FlakyDriver(failures=9)
    waits = Waits()
    policy = RetryPolicy(base=2.0, cap=60.0)
    host = SessionHost(
        gateway(app).database,
        gateway(app).sessions,
        lambda: flaky,
        settings=RunnerSettings(backoff=policy),
        sleep=waits,
    )
    try:
        runner = host.start(session_id)
        runner.rng = random.Random(7)
        await _state_is(app, session_id, "working")
        assert flaky.starts == 10
        assert len(waits.asked) == 9
        ceilings = [min(60.0, 2.0 * 2**n) for n in range(9)]
        assert all(0 <= w <= c for w, c in zip(waits.asked, ceilings, strict=True))
        # Jittered: not simply the ceilings, and the later waits may reach the cap only.
        assert waits.asked != ceilings
        assert max(waits.asked) <= 60.0
    finally:
        await host.close()


async def test_an_unpaired_session_that_never_showed_a_code_is_not_retried(
    app: FastAPI, tenant: Tenant
) -> None:
    session_id = await _session(app, tenant)
    flaky = FlakyDriver(failures=100)
    waits = Waits()
    host = SessionHost(gateway(app).database, gateway(app).sessions, lambda: flaky, sleep=waits)
    try:
        host.start(session_id)
        await _state_is(app, session_id, "failed", "unreachable")
        await until(lambda: _done(host, session_id))
        assert (flaky.starts, waits.asked) == (1, [])
    finally:
        await host.close()
