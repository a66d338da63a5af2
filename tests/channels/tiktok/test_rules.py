"""TikTok through the API: user-initiated only and the 48-hour window (409), text and
images only (422, or rendered down with ``degrade``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.domain.channels import CHANNEL_RULES, ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.storage import conversations as conversation_store
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.channels.tiktok import contract
from tests.support import Tenant, auth, gateway

NOWHERE = "http://127.0.0.1:9"
USER = "u5JhpselBAhoPOlnH0tZ9y07kg=="
TEXT = {"type": "text", "text": "Thanks for your order!"}


async def _connect(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(
        "/v1/channels",
        json={
            "type": "tiktok",
            "name": "mug shop",
            "credentials": {
                "access_token": contract.ACCESS_TOKEN,
                "business_id": contract.BUSINESS_ID,
                "client_secret": contract.CLIENT_SECRET,
            },
            "settings": {"api_base": NOWHERE},
        },
        headers=auth(tenant.live),
    )
    assert created.status_code == 201, created.text


async def _wrote(app: FastAPI, tenant: Tenant, ago: timedelta) -> None:
    async with gateway(app).database.write() as conn:
        await conversation_store.record_inbound(
            conn, tenant.account_id, KeyMode.LIVE.value, "tiktok", USER, utcnow() - ago
        )


async def _send(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/messages", json={"channel": "tiktok", "to": USER, **body}, headers=auth(tenant.live)
    )


def test_the_rules_are_tiktoks() -> None:
    rules = CHANNEL_RULES[ChannelType.TIKTOK]
    assert (rules.can_initiate, rules.service_window_hours, rules.templates_outside_window) == (
        False,
        48,
        False,
    )
    assert not rules.tag_windows


async def test_only_to_users_who_wrote_in_the_last_48_hours(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    never = await _send(client, tenant, content=TEXT)
    assert_envelope(never, 409, "channel_cannot_initiate", "to")

    await _wrote(app, tenant, timedelta(hours=49))
    late = await _send(client, tenant, content=TEXT)
    assert_envelope(late, 409, "outside_service_window", "to")
    assert "48 hours" in late.json()["error"]["message"]

    await _wrote(app, tenant, timedelta(hours=47))
    within = await _send(client, tenant, content=TEXT)
    assert within.status_code == 202, within.text
    assert within.json()["to"] == USER


async def test_what_tiktok_cannot_carry_is_refused_or_rendered_down(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    await _wrote(app, tenant, timedelta(minutes=5))
    buttons = {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "Did it arrive?",
            "buttons": [{"type": "reply", "id": "yes", "title": "Yes"}],
        },
    }
    refused = await _send(client, tenant, content=buttons)
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {
        "channel": "tiktok",
        "feature": "interactive.buttons.reply",
    }
    degraded = await _send(client, tenant, content=buttons, degrade=True)
    assert degraded.status_code == 202, degraded.text
    assert degraded.json()["content"] == {"type": "text", "text": "Did it arrive?\n\n1. Yes"}

    template = {"type": "template", "template": {"name": "x", "language": "en"}}
    never = await _send(client, tenant, content=template, degrade=True)
    assert_envelope(never, 422, "unsupported_content", "content")


async def test_capabilities_are_text_images_and_quotes(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/channels/capabilities")
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["channels"]["tiktok"]) == ["media.image", "reply_to", "text"]


async def test_ten_messages_per_user_message_then_409_until_the_user_writes_again(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    await _wrote(app, tenant, timedelta(minutes=5))
    batch = {"messages": [{"channel": "tiktok", "to": USER, "content": TEXT}] * 4}
    answered = await client.post("/v1/messages/batch", json=batch, headers=auth(tenant.live))
    assert answered.json()["accepted"] == 4
    for _ in range(5):
        assert (await _send(client, tenant, content=TEXT)).status_code == 202
    # A batch counts what it accepted before: the tenth goes, the eleventh does not.
    answered = await client.post(
        "/v1/messages/batch", json={"messages": batch["messages"][:2]}, headers=auth(tenant.live)
    )
    results = answered.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["error"]["code"] == "message_cap_reached"
    refused = await _send(client, tenant, content=TEXT)
    assert_envelope(refused, 409, "message_cap_reached", "to")
    await _wrote(app, tenant, timedelta(seconds=0))
    assert (await _send(client, tenant, content=TEXT)).status_code == 202


async def test_canceled_messages_do_not_count_against_the_cap(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant)
    await _wrote(app, tenant, timedelta(minutes=5))
    later = (utcnow() + timedelta(hours=1)).isoformat()
    for _ in range(10):
        scheduled = await _send(client, tenant, content=TEXT, schedule_at=later)
        assert scheduled.status_code == 202, scheduled.text
        canceled = await client.delete(
            f"/v1/messages/{scheduled.json()['id']}", headers=auth(tenant.live)
        )
        assert canceled.status_code == 200, canceled.text
    assert (await _send(client, tenant, content=TEXT)).status_code == 202
