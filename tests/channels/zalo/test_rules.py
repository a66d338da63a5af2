"""Zalo through the API: the 7-day interaction rule (409), what it carries (422), and
rotated tokens kept in the connection's encrypted credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.zalo import ZaloAdapter, ZaloCredentials
from chatgate.domain.keys import KeyMode
from chatgate.storage import audit as audit_store
from chatgate.storage import channels as channel_store
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.channels.zalo import contract
from tests.support import Tenant, auth, gateway

NOWHERE = "http://127.0.0.1:9"
USER = "6418340393291765437"
TEXT = {"type": "text", "text": "Xin chào"}
ORDER = {
    "type": "template",
    "template": {"name": "transaction_order", "language": "vi", "variables": {"Mã đơn": "#1"}},
}


def _channel() -> dict[str, Any]:
    return {
        "type": "zalo",
        "name": "shop OA",
        "credentials": {
            "access_token": contract.ACCESS_TOKEN,
            "refresh_token": contract.REFRESH_TOKEN,
            "app_id": contract.APP_ID,
            "app_secret": contract.APP_SECRET,
            "oa_secret_key": contract.OA_SECRET_KEY,
        },
        "settings": {"api_base": NOWHERE},
    }


async def _connect(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    created = await client.post("/v1/channels", json=_channel(), headers=auth(tenant.live))
    assert created.status_code == 201, created.text
    channel: dict[str, Any] = created.json()
    return channel


async def _wrote(app: FastAPI, tenant: Tenant, peer: str, ago: timedelta) -> None:
    async with gateway(app).database.write() as conn:
        await conversation_store.record_inbound(
            conn, tenant.account_id, KeyMode.LIVE.value, "zalo", peer, utcnow() - ago
        )


async def _send(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post("/v1/messages", json=body, headers=auth(tenant.live))


async def test_consultation_only_within_7_days_templates_any_time(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    never = await _send(client, tenant, channel="zalo", to=USER, content=TEXT)
    assert_envelope(never, 409, "outside_service_window", "content")
    assert "168 hours" in never.json()["error"]["message"]

    await _wrote(app, tenant, USER, timedelta(days=8))
    late = await _send(client, tenant, channel="zalo", to=USER, content=TEXT)
    assert_envelope(late, 409, "outside_service_window", "content")
    transaction = await _send(client, tenant, channel="zalo", to=USER, content=ORDER)
    assert transaction.status_code == 202, transaction.text

    await _wrote(app, tenant, USER, timedelta(days=6))
    within = await _send(client, tenant, channel="zalo", to=USER, content=TEXT)
    assert within.status_code == 202, within.text


async def test_what_zalo_cannot_carry_is_422_and_degrades_to_text(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    await _wrote(app, tenant, USER, timedelta(minutes=5))
    # Zalo takes PDF, DOC and DOCX files: a spreadsheet is known to be refused at accept.
    sheet = {
        "type": "media",
        "media": {"url": "https://cdn.example.com/a.xlsx", "kind": "document"},
    }
    refused = await _send(client, tenant, channel="zalo", to=USER, content=sheet)
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {"channel": "zalo", "feature": "media.document"}
    video = {"type": "media", "media": {"url": "https://cdn.example.com/a.mp4", "kind": "video"}}
    refused = await _send(client, tenant, channel="zalo", to=USER, content=video)
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {"channel": "zalo", "feature": "media.video"}
    degraded = await _send(client, tenant, channel="zalo", to=USER, content=video, degrade=True)
    assert degraded.status_code == 202, degraded.text
    assert degraded.json()["content"] == {"type": "text", "text": "https://cdn.example.com/a.mp4"}
    # A file of a type Zalo does not take goes as its link too, though Zalo takes files.
    degraded = await _send(client, tenant, channel="zalo", to=USER, content=sheet, degrade=True)
    assert degraded.status_code == 202, degraded.text
    assert degraded.json()["content"] == {"type": "text", "text": "https://cdn.example.com/a.xlsx"}
    assert degraded.json()["degraded"]["features"] == ["media.document"]
    pdf = {"type": "media", "media": {"url": "https://cdn.example.com/a.pdf", "kind": "document"}}
    accepted = await _send(client, tenant, channel="zalo", to=USER, content=pdf)
    assert accepted.status_code == 202, accepted.text


async def test_rotated_tokens_replace_the_stored_ones(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    channel = await _connect(client, tenant)
    channels = gateway(app).channels
    fresh = ZaloCredentials.model_validate(
        {
            "access_token": "rotated-access",
            "refresh_token": "rotated-refresh",
            "app_id": contract.APP_ID,
            "app_secret": contract.APP_SECRET,
            "oa_secret_key": contract.OA_SECRET_KEY,
        }
    )
    async with gateway(app).database.write() as conn:
        await channels.store_rotated_credentials(conn, channel["id"], fresh, utcnow())
    async with gateway(app).database.read() as conn:
        stored = await channel_store.get_connection(conn, channel["id"])
        entries = await audit_store.list_entries(
            conn,
            tenant.account_id,
            audit_store.AuditFilter(action="channel.updated"),
            before=None,
            limit=10,
        )
    assert stored is not None
    adapter = channels.adapter(stored)
    assert isinstance(adapter, ZaloAdapter)
    assert adapter.credentials.access_token.get_secret_value() == "rotated-access"
    assert adapter.credentials.refresh_token.get_secret_value() == "rotated-refresh"
    [rotated] = entries
    assert rotated.detail is not None
    assert rotated.detail["rotated"] is True
    assert rotated.detail["credentials"] == ["access_token", "refresh_token"]
    assert "rotated-access" not in str(rotated.detail)
