"""The real neonize driver (whatsmeow in a child process) with no way out to the platform.

These tests must talk only to loopback, so the child is given a proxy on loopback (a
setting of neonize's, ``CHATGATE_WHATSAPP_WEB_PROXY``): whatsmeow then dials only that
proxy (SOCKS5 passes the platform's host name to the proxy: nothing is even resolved). A
closed port refuses at once; a listener that accepts and stays silent makes whatsmeow's
connect hang, as a stuck connection to the platform does. Nothing inside neonize is
patched. Without the ``whatsapp-web`` extra the tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from chatgate.api.app import create_app
from chatgate.channels.device_driver import Disconnected, DriverEvent
from chatgate.channels.whatsapp_web_device_store import DeviceStore, device_store_url
from chatgate.channels.whatsapp_web_neonize import ChildTimings, NeonizeWebDriver, device_state
from chatgate.storage.database import postgres_dsn, sqlite_path
from tests.support import auth, make_tenant, settings_for, until

neonize = pytest.importorskip(
    "neonize", reason="the whatsapp-web extra is not installed: pip install -e '.[whatsapp-web]'"
)


@pytest.fixture
def refusing_proxy() -> str:
    """A loopback proxy address where nothing listens: connects are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"socks5://127.0.0.1:{port}"


@pytest.fixture
async def silent_proxy() -> AsyncIterator[str]:
    """A loopback proxy that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"socks5://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def _all(stream: AsyncIterator[DriverEvent], limit: float) -> list[DriverEvent]:
    async with asyncio.timeout(limit):
        return [event async for event in stream]


def _gone(pid: int | None) -> bool:
    assert pid is not None
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text()


async def test_offline_a_pairing_reports_the_platform_unreachable_within_seconds(
    tmp_path: Path, refusing_proxy: str
) -> None:
    store = DeviceStore(str(tmp_path / "chatgate.devices.db"))
    driver = NeonizeWebDriver(store, proxy=refusing_proxy)
    await driver.start(None)
    pid = driver.pid
    assert await _all(driver.events(), limit=10) == [Disconnected("unreachable")]
    await driver.stop()
    assert _gone(pid)
    assert (tmp_path / "chatgate.devices.db").exists()  # whatsmeow's store, made by the child


async def test_a_connect_that_hangs_is_killed_not_waited_for(
    tmp_path: Path, silent_proxy: str
) -> None:
    timings = ChildTimings(ping_every=0.1, ping_timeout=2.0, connect_timeout=1.5)
    store = DeviceStore(str(tmp_path / "chatgate.devices.db"))
    driver = NeonizeWebDriver(store, proxy=silent_proxy, timings=timings)
    await driver.start(None)
    pid = driver.pid
    assert await _all(driver.events(), limit=10) == [Disconnected("connect_timeout")]
    async with asyncio.timeout(5):
        await driver.stop()
    assert _gone(pid)


async def test_the_gateway_fails_an_unreachable_session_once_and_never_loops(
    fresh_database_url: str, refusing_proxy: str
) -> None:
    settings = settings_for(
        fresh_database_url, whatsapp_web_driver="neonize", whatsapp_web_proxy=refusing_proxy
    )
    app = create_app(settings)
    async with LifespanManager(app):
        tenant = await make_tenant(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            created = await http.post(
                "/v1/sessions", json={"name": "desk"}, headers=auth(tenant.live)
            )
            assert created.status_code == 201, created.text
            path = f"/v1/sessions/{created.json()['id']}"

            async def failed() -> bool:
                shown = (await http.get(path, headers=auth(tenant.live))).json()
                return (shown["state"], shown["reason"]) == ("failed", "unreachable")

            await until(failed, limit=20)
            states: list[tuple[str, str | None]] = []

            async def logged() -> bool:
                # (On PostgreSQL the log shows an event once the transactions before it ended.)
                found = await http.get(
                    "/v1/events", params={"type": "session.status"}, headers=auth(tenant.live)
                )
                data = [event["data"] for event in found.json()["data"]]
                states[:] = [(d["state"], d["reason"]) for d in data]
                return states[-1:] == [("failed", "unreachable")]

            await until(logged)
            # Created, tried once, failed: no reconnect of a session that never showed a code.
            assert states == [("starting", None), ("failed", "unreachable")]
    await _store_was_made(fresh_database_url)


async def _store_was_made(database_url: str) -> None:
    """whatsmeow's tables are where the README says: beside the database, or its schema."""
    settings = settings_for(database_url)
    if settings.is_sqlite:
        beside = Path(sqlite_path(database_url)).with_suffix(".devices.db")
        assert device_store_url(settings) == str(beside)
        assert beside.exists()
        return
    conn = await asyncpg.connect(postgres_dsn(database_url))
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'whatsmeow'"
        )
    finally:
        await conn.close()
    assert "whatsmeow_device" in {row["table_name"] for row in tables}


DEVICE = "237612345678:7@s.whatsapp.net"
_DEVICE_ROW = (
    "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,"
    " signed_pre_key, signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details,"
    " adv_account_sig, adv_account_sig_key, adv_device_sig) VALUES ({marks})"
)
_DEVICE_VALUES = (
    DEVICE,
    1,
    b"n" * 32,
    b"i" * 32,
    b"s" * 32,
    1,
    b"g" * 64,
    b"a",
    b"d",
    b"c" * 64,
    b"k" * 32,
    b"v" * 64,
)
_KEY_ROW = "INSERT INTO whatsmeow_identity_keys (our_jid, their_id, identity) VALUES ({marks})"


async def _in_store(store: DeviceStore, insert: bool) -> int:
    """Insert a device with one identity key (``insert``); the keys of the device now."""
    key_values = (DEVICE, "237699000111.0", b"x" * 32)
    count = "SELECT count(*) FROM whatsmeow_identity_keys WHERE our_jid = {mark}"
    if store.is_postgres:
        url, _, _ = store.url.partition("?")
        conn = await asyncpg.connect(url, server_settings={"search_path": "whatsmeow"})
        try:
            if insert:
                marks = ", ".join(f"${n}" for n in range(1, 13))
                await conn.execute(_DEVICE_ROW.format(marks=marks), *_DEVICE_VALUES)
                await conn.execute(_KEY_ROW.format(marks="$1, $2, $3"), *key_values)
            found: int = await conn.fetchval(count.format(mark="$1"), DEVICE)
            return found
        finally:
            await conn.close()

    def in_file() -> int:
        with sqlite3.connect(store.url) as conn:
            if insert:
                conn.execute(_DEVICE_ROW.format(marks=", ".join("?" * 12)), _DEVICE_VALUES)
                conn.execute(_KEY_ROW.format(marks="?, ?, ?"), key_values)
            found: int = conn.execute(count.format(mark="?"), (DEVICE,)).fetchone()[0]
            return found

    return await asyncio.to_thread(in_file)


async def test_a_device_deleted_while_offline_has_its_keys_forgotten(
    fresh_database_url: str, refusing_proxy: str
) -> None:
    store = DeviceStore(device_store_url(settings_for(fresh_database_url)))
    driver = NeonizeWebDriver(store, proxy=refusing_proxy)
    await driver.start(None)  # offline: whatsmeow makes its tables all the same
    await _all(driver.events(), limit=10)
    await driver.stop()
    assert await _in_store(store, insert=True) == 1
    await driver.start(device_state(DEVICE))
    ended = await _all(driver.events(), limit=10)
    assert len(ended) == 1
    assert isinstance(ended[0], Disconnected)
    await driver.logout()  # the platform cannot be told: the keys are forgotten here
    assert await _in_store(store, insert=False) == 0
