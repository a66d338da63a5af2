"""``/v1/sessions``: linked-device sessions, their events, their stream and their QR image."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.keys import KeyMode
from chatgate.services.sessions import Pairing
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.support import (
    SseSeen,
    Tenant,
    auth,
    gateway,
    make_key,
    make_tenant,
    read_sse,
    served_in_this_loop,
    until,
)

PNG = b"\x89PNG\r\n\x1a\n"


async def create_session(
    client: httpx.AsyncClient, secret: str, name: str = "front desk", **body: Any
) -> dict[str, Any]:
    """A session of the key's account, as created."""
    response = await client.post("/v1/sessions", json={"name": name, **body}, headers=auth(secret))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _statuses(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/events", params={"type": "session.status", "limit": 100}, headers=auth(tenant.live)
    )
    assert response.status_code == 200, response.text
    return [event["data"] for event in response.json()["data"]]


async def test_a_session_is_created_listed_changed_and_removed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create_session(client, tenant.live, pacing={"new_chats_per_day": 5})
    assert created["id"].startswith("ses_")
    assert (created["object"], created["state"], created["reason"]) == ("session", "starting", None)
    assert created["pacing"] == {"messages_per_minute": 20, "new_chats_per_day": 5}
    assert "device_state" not in created
    listed = await client.get("/v1/sessions", headers=auth(tenant.live))
    assert [s["id"] for s in listed.json()["data"]] == [created["id"]]

    url = f"/v1/sessions/{created['id']}"
    changed = await client.patch(
        url,
        json={"name": "reception", "pacing": {"messages_per_minute": 6}},
        headers=auth(tenant.live),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "reception"
    assert changed.json()["pacing"] == {"messages_per_minute": 6, "new_chats_per_day": 5}
    assert (await client.get(url, headers=auth(tenant.live))).json()["name"] == "reception"

    assert (await client.delete(url, headers=auth(tenant.live))).status_code == 204
    assert_envelope(await client.get(url, headers=auth(tenant.live)), 404, "not_found", "id")
    wanted = [(created["id"], "starting"), (created["id"], "removed")]

    async def logged() -> bool:
        # PostgreSQL shows an event once every transaction before it has ended.
        return [(e["session_id"], e["state"]) for e in await _statuses(client, tenant)] == wanted

    await until(logged)


async def test_names_are_unique_per_account(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    first = await create_session(client, tenant.live)
    again = await client.post(
        "/v1/sessions", json={"name": "front desk"}, headers=auth(tenant.live)
    )
    assert_envelope(again, 409, "name_taken", "name")
    other = await create_session(client, tenant.live, name="back office")
    renamed = await client.patch(
        f"/v1/sessions/{other['id']}", json={"name": "front desk"}, headers=auth(tenant.live)
    )
    assert_envelope(renamed, 409, "name_taken", "name")
    # Another account may use the name.
    stranger = await make_tenant(app)
    theirs = await create_session(client, stranger.live)
    assert theirs["name"] == first["name"]
    assert theirs["id"] != first["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "pacing": {"messages_per_minute": 0}}, "pacing.messages_per_minute"),
        ({"name": "ok", "pacing": {"new_chats_per_day": -1}}, "pacing.new_chats_per_day"),
        ({"name": "ok", "state": "working"}, "state"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/sessions", json=body, headers=auth(tenant.live))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_managing_sessions_needs_the_channels_scope(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, reader = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    response = await client.post("/v1/sessions", json={"name": "x"}, headers=auth(reader))
    assert_envelope(response, 403, "insufficient_scope", None)


async def test_the_qr_image_is_the_code_shown_now(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await create_session(client, tenant.live)
    url = f"/v1/sessions/{created['id']}/qr.png"
    assert_envelope(await client.get(url, headers=auth(tenant.live)), 409, "no_qr", "id")
    sessions = gateway(app).sessions
    async with gateway(app).database.write() as conn:
        await sessions.show_qr(conn, created["id"], "2@first,code", utcnow())
    image = await client.get(url, headers=auth(tenant.live))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(PNG)
    shown = await client.get(f"/v1/sessions/{created['id']}", headers=auth(tenant.live))
    assert shown.json()["state"] == "scan_qr"


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a real loopback port: the in-process transport cannot stream."""
    async with served_in_this_loop(app) as base_url:
        yield base_url


async def test_the_stream_shows_codes_then_connected_and_resumes(
    served: str, client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await create_session(client, tenant.live)
    session_id = created["id"]
    path = f"/v1/sessions/{session_id}/stream"
    other = await create_session(client, tenant.live, name="other")
    service, database = gateway(app).sessions, gateway(app).database
    async with database.write() as conn:
        await service.show_qr(conn, session_id, "2@first,code", utcnow())
    async with httpx.AsyncClient(base_url=served, timeout=20) as http:
        seen: SseSeen = []
        reader = asyncio.create_task(read_sse(http, path, tenant.live, 3, found=seen))

        async def opened() -> bool:
            return bool(seen)  # the stream opens with the code shown now

        await until(opened)
        async with database.write() as conn:
            await service.show_qr(conn, other["id"], "2@not,mine", utcnow())
            await service.show_qr(conn, session_id, "2@second,code", utcnow())
        async with database.write() as conn:
            pairing = Pairing("237600000000:1@s.whatsapp.net", "+237600000000", "Ada", "keys")
            await service.change_state(
                conn, session_id, "working", reason=None, now=utcnow(), pairing=pairing
            )
        opening, rotated, connected = await reader
        assert (opening[0], opening[1], opening[2]["qr"]) == (None, "qr", "2@first,code")
        assert opening[2]["png"].startswith("data:image/png;base64,")
        assert (rotated[1], rotated[2]["qr"]) == ("qr", "2@second,code")
        assert rotated[0] is not None
        assert rotated[0].startswith("evt_")
        assert connected[1] == "connected"
        assert (connected[2]["phone"], connected[2]["phone_name"]) == ("+237600000000", "Ada")

        async with database.write() as conn:
            await service.change_state(
                conn, session_id, "starting", reason="connection_lost", now=utcnow()
            )
            await service.change_state(
                conn, session_id, "failed", reason="logged_out", now=utcnow()
            )
        resumed = await read_sse(http, path, tenant.live, 2, last=connected[0])
        assert [(e, d["reason"]) for _, e, d in resumed] == [
            ("disconnected", "connection_lost"),
            ("error", "logged_out"),
        ]
        unknown = await http.get(
            path, headers={**auth(tenant.live), "Last-Event-ID": "evt_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"}
        )
        assert_envelope(unknown, 404, "not_found", "Last-Event-ID")
    stored = await client.get(f"/v1/sessions/{session_id}", headers=auth(tenant.live))
    assert (stored.json()["state"], stored.json()["reason"]) == ("failed", "logged_out")
