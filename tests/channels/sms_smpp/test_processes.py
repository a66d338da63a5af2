"""SMPP across processes: ``serve --no-worker`` and workers of their own, on either store.

A connection made through the API process is bound by a worker within moments, with no
send; however many workers run, one of them binds it, and when that one dies another takes
it over; removed, it is unbound once. All of it seen from outside: the emulator's SMSC
counts binds and unbinds over TCP.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatgate.config import Settings
from chatgate.storage.database import Database
from chatgate.storage.tables import session_holds
from tests.e2e.world import LOOPBACK, SERVE_SETTINGS, _create_tenant, _wait_until_up
from tests.processes import Processes, chatgate_env, free_port, processes
from tests.support import auth, until

pytestmark = pytest.mark.slow

SYSTEM_ID = "procs-esme"
PASSWORD = "pw-procs"
SOURCE = "+14155550100"
USER = "+14155570099"
# Holds run out fast, so that a killed worker's connection is taken over within seconds.
SETTINGS = {**SERVE_SETTINGS, "worker_lease_seconds": 2, "hold_seconds": 2, "log_level": "info"}


@dataclass
class Stack:
    api: httpx.AsyncClient
    emulator: httpx.AsyncClient
    secret: str
    running: Processes
    workers: list[Any]
    log_dir: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    async def sessions(self) -> dict[str, Any]:
        found: dict[str, Any] = (await self.emulator.get("/_emulator/smpp/sessions")).json()
        return found

    async def binds(self) -> int:
        """The SMSC's successful binds of the test account so far."""
        return sum(
            1
            for bind in (await self.sessions())["binds"]
            if bind["system_id"] == SYSTEM_ID and bind["status"] == 0
        )

    async def bound(self) -> int:
        """The test account's sessions bound now."""
        return int((await self.sessions())["bound"].get(SYSTEM_ID, 0))

    async def wait(self, condition: Callable[[], Any], limit: float, what: str) -> None:
        try:
            await until(condition, limit=limit)
        except TimeoutError:
            raise AssertionError(f"{what} not within {limit} s\n{self.logs()}") from None

    async def user_writes(self, text: str) -> None:
        payload = {"system_id": SYSTEM_ID, "from": USER, "to": SOURCE, "text": text}
        answer = await self.emulator.post("/_emulator/smpp/inbound", json=payload)
        assert answer.status_code == 200, answer.text

        async def stored() -> bool:
            response = await self.api.get(
                "/v1/messages", params={"direction": "inbound"}, headers=auth(self.secret)
            )
            return any(m["content"].get("text") == text for m in response.json()["data"])

        await self.wait(stored, 5.0, f"the user's {text!r} stored")


@pytest.fixture
async def stack(fresh_database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The emulator, an API process without a worker, and workers of their own: one on
    SQLite (one writer), two on PostgreSQL."""
    store = fresh_database_url
    secret = await asyncio.to_thread(_create_tenant, store)
    api_port, emulator_port = free_port(), free_port()
    api_url = f"http://{LOOPBACK}:{api_port}"
    env = chatgate_env(store, public_url=api_url, media_path=tmp_path / "media", **SETTINGS)
    env = {name: value for name, value in env.items() if not name.lower().endswith("_proxy")}
    emulator_url = f"http://{LOOPBACK}:{emulator_port}"
    with processes(tmp_path) as running:
        running.start(["emulate", "--host", LOOPBACK, "--port", str(emulator_port)], env, "emulate")
        serve = ["serve", "--host", LOOPBACK, "--port", str(api_port), "--no-migrate"]
        running.start([*serve, "--no-worker"], env, "serve")
        count = 2 if store.startswith("postgresql") else 1
        workers = [running.start(["worker"], env, f"worker{n}") for n in range(count)]
        await asyncio.to_thread(
            _wait_until_up, running, emulator_url, "/_emulator/smpp/server", tmp_path
        )
        await asyncio.to_thread(_wait_until_up, running, api_url, "/readyz", tmp_path)
        async with (
            httpx.AsyncClient(base_url=api_url, trust_env=False, timeout=10.0) as api,
            httpx.AsyncClient(base_url=emulator_url, trust_env=False, timeout=10.0) as emulator,
        ):
            found = Stack(api, emulator, secret, running, workers, tmp_path)

            async def started() -> bool:
                return all(
                    "worker.started" in (tmp_path / f"worker{n}.log").read_text(errors="replace")
                    for n in range(count)
                )

            await found.wait(started, 30.0, "the workers started")
            yield found
        for child in running.children:
            running.stop(child)


async def _holder_pid(store: str) -> int:
    database = Database(Settings(database_url=store))
    try:
        async with database.read() as conn:
            holders = list(await conn.scalars(select(session_holds.c.holder)))
    finally:
        await database.dispose()
    (holder,) = holders
    return int(holder.split(":")[1])


async def test_a_worker_of_its_own_binds_a_new_connection_at_once(
    stack: Stack, fresh_database_url: str
) -> None:
    account = {"system_id": SYSTEM_ID, "password": PASSWORD}
    assert (await stack.emulator.post("/_emulator/smpp/accounts", json=account)).is_success
    port = (await stack.emulator.get("/_emulator/smpp/server")).json()["port"]
    credentials = {"provider": "smpp", "host": LOOPBACK, "port": port, "source_addr": SOURCE}
    created = await stack.api.post(
        "/v1/channels",
        json={"type": "sms", "name": "smsc", "credentials": {**credentials, **account}},
        headers=auth(stack.secret),
    )
    assert created.status_code == 201, created.text

    async def bound_once() -> bool:
        return await stack.bound() == 1

    await stack.wait(bound_once, 5.0, "bound")
    await stack.user_writes("hello before any send")
    # However many workers run, one of them bound it.
    assert await stack.binds() == 1
    if len(stack.workers) > 1:
        # Its worker dies: another takes the connection over once the hold runs out.
        pid = await _holder_pid(fresh_database_url)
        (holder,) = [w for w in stack.workers if w.pid == pid]
        holder.send_signal(signal.SIGKILL)
        holder.wait()

        async def rebound() -> bool:
            return await stack.binds() == 2 and await stack.bound() == 1

        await stack.wait(rebound, 10.0, "taken over")
        await stack.user_writes("hello after the takeover")
    removed = await stack.api.delete(
        f"/v1/channels/{created.json()['id']}", headers=auth(stack.secret)
    )
    assert removed.status_code == 204, removed.text

    async def unbound() -> bool:
        return (await stack.sessions())["unbinds"] == [SYSTEM_ID] and await stack.bound() == 0

    await stack.wait(unbound, 5.0, "unbound")
