"""Sessions end to end: the gateway's worker runs them on the emulated WhatsApp Web."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, aconnect_sse

from chatgate.api.app import create_app
from chatgate.config import Settings
from tests.channels.whatsapp_web.support import CONTROL, PHONE
from tests.support import Tenant, auth, make_tenant, served_in_this_loop, until


async def _first(events: AsyncIterator[ServerSentEvent], wanted: str) -> dict[str, Any]:
    async for sse in events:
        if sse.event == wanted:
            found: dict[str, Any] = json.loads(sse.data)
            return found
    raise AssertionError(f"the stream ended before {wanted}")


async def test_pairing_over_the_stream_and_resuming_after_a_restart(
    settings: Settings, emulator_url: str
) -> None:
    phone = httpx.AsyncClient(base_url=emulator_url)
    first = create_app(settings)
    async with LifespanManager(first), served_in_this_loop(first) as served:
        tenant: Tenant = await make_tenant(first)
        async with httpx.AsyncClient(base_url=served, timeout=20) as http:
            created = await http.post(
                "/v1/sessions", json={"name": "front desk"}, headers=auth(tenant.live)
            )
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            path = f"/v1/sessions/{session_id}/stream"
            async with (
                asyncio.timeout(15),
                aconnect_sse(http, "GET", path, headers=auth(tenant.live)) as source,
            ):
                events = source.aiter_sse()
                qr = await _first(events, "qr")
                assert qr["png"].startswith("data:image/png;base64,")
                scanned = await phone.post(
                    f"{CONTROL}/scan", json={"code": qr["qr"], "phone": PHONE, "name": "Ada"}
                )
                assert scanned.status_code == 200, scanned.text
                connected = await _first(events, "connected")
            assert connected["phone"] == PHONE
            shown = await http.get(f"/v1/sessions/{session_id}", headers=auth(tenant.live))
            assert shown.json()["state"] == "working"
            codes = await _qr_events(http, tenant)

    # A new process on the same store resumes the session without a new code.
    second = create_app(settings)
    async with (
        LifespanManager(second),
        served_in_this_loop(second) as served,
        httpx.AsyncClient(base_url=served, timeout=20) as http,
    ):

        async def working_again() -> bool:
            devices = (await phone.get(f"{CONTROL}/devices")).json()
            shown = await http.get(f"/v1/sessions/{session_id}", headers=auth(tenant.live))
            return devices[0]["connections"] == 1 and shown.json()["state"] == "working"

        await until(working_again)

        async def handed_over() -> bool:
            # The first process handed the session back as it stopped; this one resumed it.
            # (On PostgreSQL the log shows an event once the transactions before it ended.)
            statuses = await http.get(
                "/v1/events", params={"type": "session.status"}, headers=auth(tenant.live)
            )
            data = [e["data"] for e in statuses.json()["data"]]
            states = [(d["state"], d["reason"]) for d in data]
            return states[-2:] == [("starting", "worker_stopped"), ("working", None)]

        await until(handed_over)
        # (On PostgreSQL the store may hold other tests' sessions, pairing on this
        # emulator too: this account's codes are what tell.)
        assert await _qr_events(http, tenant) == codes
    await phone.aclose()


async def _qr_events(http: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    """The QR codes the account's sessions showed."""
    found = await http.get(
        "/v1/events", params={"type": "session.qr", "limit": 100}, headers=auth(tenant.live)
    )
    return [event["data"]["qr"] for event in found.json()["data"]]


async def test_a_session_removed_through_the_api_is_logged_out(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, emulator_url: str
) -> None:
    phone = httpx.AsyncClient(base_url=emulator_url)
    created = await client.post("/v1/sessions", json={"name": "desk"}, headers=auth(tenant.live))
    session_id = created.json()["id"]

    async def shows_a_code() -> bool:
        return bool(await _qr_events(client, tenant))

    await until(shows_a_code)
    code = (await _qr_events(client, tenant))[-1]
    scanned = await phone.post(f"{CONTROL}/scan", json={"phone": PHONE, "code": code})
    assert scanned.status_code == 200, scanned.text

    async def working() -> bool:
        found = await client.get(f"/v1/sessions/{session_id}", headers=auth(tenant.live))
        return bool(found.json()["state"] == "working")

    await until(working)
    removed = await client.delete(f"/v1/sessions/{session_id}", headers=auth(tenant.live))
    assert removed.status_code == 204

    async def unlinked() -> bool:
        devices = (await phone.get(f"{CONTROL}/devices")).json()
        return [(d["linked"], d["connections"]) for d in devices] == [(False, 0)]

    await until(unlinked)
    await phone.aclose()


async def test_a_stopped_session_stays_stopped_and_starts_again_without_a_code(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, emulator_url: str
) -> None:
    phone = httpx.AsyncClient(base_url=emulator_url)
    created = await client.post("/v1/sessions", json={"name": "desk"}, headers=auth(tenant.live))
    url = f"/v1/sessions/{created.json()['id']}"

    async def shows_a_code() -> bool:
        return bool(await _qr_events(client, tenant))

    await until(shows_a_code)
    code = (await _qr_events(client, tenant))[-1]
    assert (await phone.post(f"{CONTROL}/scan", json={"phone": PHONE, "code": code})).is_success

    def state_is(state: str, connections: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            found = (await client.get(url, headers=auth(tenant.live))).json()
            devices = (await phone.get(f"{CONTROL}/devices")).json()
            return bool(found["state"] == state and devices[0]["connections"] == connections)

        return check

    await until(state_is("working", 1))
    stopped = await client.post(f"{url}/stop", headers=auth(tenant.live))
    assert (stopped.status_code, stopped.json()["state"]) == (200, "stopped")
    await until(state_is("stopped", 0))
    started = await client.post(f"{url}/start", headers=auth(tenant.live))
    assert (started.status_code, started.json()["state"]) == (200, "starting")
    await until(state_is("working", 1))
    assert await _qr_events(client, tenant) == [code]
    await phone.aclose()
