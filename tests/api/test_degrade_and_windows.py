"""Live sends: ``"degrade": true`` renders content down; Messenger's window and its tag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import OutboundMessage
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.storage import conversations as conversation_store
from chatgate.storage import messages as message_store
from chatgate.storage.types import utcnow
from tests.api.test_channels import whatsapp
from tests.api.test_validation import assert_envelope
from tests.channels.contract import SAMPLES
from tests.support import Tenant, auth, gateway

NOWHERE = "http://127.0.0.1:9"
PSID = "24075914432052811"
WA_USER = "+14155550123"


def _messenger() -> dict[str, Any]:
    return {
        "type": "messenger",
        "name": "shop page",
        "credentials": {
            "page_access_token": "EAAG-page-token-0123456789",
            "page_id": "104852249312345",
            "app_secret": "messenger-app-secret-0123",
            "verify_token": "verify-me",
        },
        "settings": {"api_base": NOWHERE},
    }


async def _connect(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> None:
    created = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert created.status_code == 201, created.text


async def _wrote(app: FastAPI, tenant: Tenant, channel: str, peer: str, ago: timedelta) -> None:
    async with gateway(app).database.write() as conn:
        await conversation_store.record_inbound(
            conn, tenant.account_id, KeyMode.LIVE.value, channel, peer, utcnow() - ago
        )


async def _send(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post("/v1/messages", json=body, headers=auth(tenant.live))


async def test_degrade_renders_down_and_records_what_it_changed(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant, whatsapp())
    await _wrote(app, tenant, "whatsapp", WA_USER, timedelta(minutes=5))
    cards = {
        "type": "interactive",
        "interactive": {"kind": "cards", "body": "Our picks", "cards": [{"title": "Blue mug"}]},
    }
    refused = await _send(client, tenant, channel="whatsapp", to=WA_USER, content=cards)
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {
        "channel": "whatsapp",
        "feature": "interactive.cards",
    }

    accepted = await _send(
        client, tenant, channel="whatsapp", to=WA_USER, content=cards, degrade=True
    )
    assert accepted.status_code == 202, accepted.text
    sent = accepted.json()
    assert sent["content"] == {"type": "text", "text": "Our picks\n\nBlue mug"}
    degraded = sent["degraded"]
    assert degraded["features"] == ["interactive.cards"]
    assert degraded["reply_to"] is None
    # The original is kept as accepted (normalised, with the model's defaults filled in).
    original = degraded["original"]["interactive"]
    assert (original["kind"], original["body"]) == ("cards", "Our picks")
    assert [card["title"] for card in original["cards"]] == ["Blue mug"]
    shown = await client.get(f"/v1/messages/{sent['id']}", headers=auth(tenant.live))
    assert shown.json()["degraded"] == sent["degraded"]
    assert shown.json()["content"] == sent["content"]

    # What needs nothing rendered down is sent as it is, and says so.
    plain = await _send(
        client, tenant, channel="whatsapp", to=WA_USER, content=SAMPLES["text_emoji"], degrade=True
    )
    assert plain.json()["degraded"] is None


async def test_degrade_keeps_refusing_what_has_no_faithful_form(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant, _messenger())
    await _wrote(app, tenant, "messenger", PSID, timedelta(minutes=1))
    refused = await _send(
        client, tenant, channel="messenger", to=PSID, content=SAMPLES["template"], degrade=True
    )
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {
        "channel": "messenger",
        "feature": "template",
        "degradable": False,
    }
    sticker = await _send(
        client, tenant, channel="messenger", to=PSID, content=SAMPLES["sticker"], degrade=True
    )
    assert_envelope(sticker, 422, "unsupported_content", "content")
    assert sticker.json()["error"]["details"] == {
        "channel": "messenger",
        "feature": "sticker",
        "degradable": False,
    }
    assert "a sticker has no text form" in sticker.json()["error"]["message"]
    location = await _send(
        client, tenant, channel="messenger", to=PSID, content=SAMPLES["location"], degrade=True
    )
    assert location.status_code == 202, location.text
    assert location.json()["content"]["text"].endswith("query=48.8584%2C2.2945")


async def test_fallback_steps_are_checked_and_rendered_down_for_their_own_channel(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant, whatsapp())
    await _connect(client, tenant, _messenger())
    await _wrote(app, tenant, "messenger", PSID, timedelta(minutes=1))
    step = {"channel": "messenger", "to": PSID, "content": SAMPLES["contact"], "on": "failed"}
    refused = await _send(
        client, tenant, channel="whatsapp", to=WA_USER, content=SAMPLES["template"], fallback=[step]
    )
    assert_envelope(refused, 422, "unsupported_content", "fallback.0.content")

    accepted = await _send(
        client,
        tenant,
        channel="whatsapp",
        to=WA_USER,
        content=SAMPLES["template"],
        fallback=[step],
        degrade=True,
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["degraded"] is None  # the template itself fits WhatsApp
    async with gateway(app).database.read() as conn:
        stored = await message_store.get_message(
            conn, tenant.account_id, KeyMode.LIVE, accepted.json()["id"]
        )
    assert stored is not None
    [planned] = stored.fallback
    assert planned.content == {
        "type": "text",
        "text": "Ada Lovelace\nAnalytical Engines\n+447700900123\nada@example.com",
    }
    assert planned.degraded is not None
    assert planned.degraded["features"] == ["contact"]
    assert planned.degraded["original"]["contacts"][0]["name"] == "Ada Lovelace"


async def test_messenger_window_and_the_human_agent_tag(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant, _messenger())
    text = SAMPLES["text_emoji"]
    never = await _send(client, tenant, channel="messenger", to="24075914432059999", content=text)
    assert_envelope(never, 409, "channel_cannot_initiate", "to")

    await _wrote(app, tenant, "messenger", PSID, timedelta(hours=30))
    outside = await _send(client, tenant, channel="messenger", to=PSID, content=text)
    assert_envelope(outside, 409, "outside_service_window", "to")
    assert "HUMAN_AGENT" in outside.json()["error"]["message"]

    tagged = await _send(
        client, tenant, channel="messenger", to=PSID, content=text, options={"tag": "HUMAN_AGENT"}
    )
    assert tagged.status_code == 202, tagged.text

    retired = await _send(
        client,
        tenant,
        channel="messenger",
        to=PSID,
        content=text,
        options={"tag": "POST_PURCHASE_UPDATE"},
    )
    assert_envelope(retired, 422, "invalid_tag", "options.tag")
    assert "retired" in retired.json()["error"]["message"]

    await _wrote(app, tenant, "messenger", "24075914432057777", timedelta(days=8))
    too_late = await _send(
        client,
        tenant,
        channel="messenger",
        to="24075914432057777",
        content=text,
        options={"tag": "HUMAN_AGENT"},
    )
    assert_envelope(too_late, 409, "outside_service_window", "to")


async def test_a_tag_on_a_channel_without_tags_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _connect(client, tenant, whatsapp())
    await _wrote(app, tenant, "whatsapp", WA_USER, timedelta(minutes=5))
    refused = await _send(
        client,
        tenant,
        channel="whatsapp",
        to=WA_USER,
        content=SAMPLES["text_emoji"],
        options={"tag": "HUMAN_AGENT"},
    )
    assert_envelope(refused, 422, "invalid_tag", "options.tag")


async def test_an_older_message_never_shortens_the_window(tenant: Tenant, app: FastAPI) -> None:
    await _wrote(app, tenant, "messenger", PSID, timedelta(minutes=1))
    await _wrote(app, tenant, "messenger", PSID, timedelta(hours=30))
    async with gateway(app).database.read() as conn:
        last = await conversation_store.last_inbound_at(
            conn, tenant.account_id, KeyMode.LIVE.value, "messenger", PSID
        )
    assert last is not None
    assert utcnow() - last < timedelta(minutes=2)


def test_the_adapter_sees_the_requests_options_but_not_accepts_records() -> None:
    message = Message.new(
        account_id="acc_1",
        mode=KeyMode.LIVE,
        direction="outbound",
        channel="messenger",
        sender=None,
        recipient=PSID,
        content=SAMPLES["text_emoji"],
        status=Status.QUEUED,
        at=utcnow(),
        options={"tag": "HUMAN_AGENT", "degraded": {"features": ["location"], "original": {}}},
    )
    assert OutboundMessage.of(message).options == {"tag": "HUMAN_AGENT"}
