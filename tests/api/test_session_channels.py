"""A session is its account's ``whatsapp_web`` channel: made, renamed, paced and removed
with it, and never through ``/v1/channels``."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_sessions import create_session
from tests.channels.whatsapp import contract as whatsapp
from tests.support import Tenant, auth


async def _web_channels(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    listed = await client.get("/v1/channels", headers=auth(tenant.live))
    assert listed.status_code == 200, listed.text
    return [c for c in listed.json()["data"] if c["type"] == "whatsapp_web"]


async def test_a_session_is_a_whatsapp_web_channel_for_its_whole_life(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    session = await create_session(client, tenant.live, "desk")
    [channel] = await _web_channels(client, tenant)
    assert (channel["id"], channel["name"], channel["default"]) == (session["id"], "desk", True)
    assert channel["credentials_set"] == []
    assert channel["settings"] == {"rate_per_second": 20 / 60}

    changed = await client.patch(
        f"/v1/sessions/{session['id']}",
        json={"name": "front", "pacing": {"messages_per_minute": 120}},
        headers=auth(tenant.live),
    )
    assert changed.status_code == 200, changed.text
    [channel] = await _web_channels(client, tenant)
    assert (channel["name"], channel["settings"]) == ("front", {"rate_per_second": 2.0})

    second = await create_session(client, tenant.live, "shop")
    removed = await client.delete(f"/v1/sessions/{session['id']}", headers=auth(tenant.live))
    assert removed.status_code == 204
    [left] = await _web_channels(client, tenant)
    assert (left["id"], left["default"]) == (second["id"], True)


async def test_channels_and_sessions_share_the_accounts_names(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await client.post(
        "/v1/channels",
        json=whatsapp.channel_body("http://127.0.0.1:9/graph", "desk"),
        headers=auth(tenant.live),
    )
    assert made.status_code == 201, made.text
    clash = await client.post("/v1/sessions", json={"name": "desk"}, headers=auth(tenant.live))
    assert clash.status_code == 409, clash.text
    assert (clash.json()["error"]["code"], clash.json()["error"]["field"]) == ("name_taken", "name")
    assert await _web_channels(client, tenant) == []
    listed = await client.get("/v1/sessions", headers=auth(tenant.live))
    assert listed.json()["data"] == []


async def test_a_whatsapp_web_channel_is_made_as_a_session(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"type": "whatsapp_web", "name": "desk", "credentials": {}}
    refused = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_channel", "type")
    assert "POST /v1/sessions" in error["message"]
    # What a session's channel carries is published with every other channel's.
    capabilities = (await client.get("/v1/channels/capabilities")).json()["channels"]
    assert "media.voice" in capabilities["whatsapp_web"]
    assert "interactive.list" not in capabilities["whatsapp_web"]
