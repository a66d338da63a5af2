"""Product, product-list and address messages through ``POST /v1/messages``: WhatsApp carries
them; every other channel refuses them (422 ``unsupported_content``) or, with ``degrade``,
sends their faithful text."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain import capabilities as cap
from tests.api.test_channels import whatsapp
from tests.api.test_degrade_and_windows import PSID, WA_USER, _connect, _messenger, _send, _wrote
from tests.api.test_validation import assert_envelope
from tests.channels.contract import SAMPLES
from tests.support import Tenant

COMMERCE = {"product": cap.PRODUCT, "product_list": cap.PRODUCT_LIST, "address": cap.ADDRESS}


async def _open(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, channel: str, user: str
) -> None:
    """A live connection of ``channel`` to which ``user`` wrote a minute ago."""
    await _connect(client, tenant, whatsapp() if channel == "whatsapp" else _messenger())
    await _wrote(app, tenant, channel, user, timedelta(minutes=1))


async def test_only_whatsapp_publishes_them(client: httpx.AsyncClient) -> None:
    channels = (await client.get("/v1/channels/capabilities")).json()["channels"]
    for name, features in channels.items():
        carried = {feature for feature in COMMERCE.values() if feature in features}
        assert carried == (set(COMMERCE.values()) if name == "whatsapp" else set()), name


@pytest.mark.parametrize("case", list(COMMERCE))
async def test_whatsapp_takes_them_as_they_are(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, case: str
) -> None:
    await _open(client, tenant, app, "whatsapp", WA_USER)
    accepted = await _send(client, tenant, channel="whatsapp", to=WA_USER, content=SAMPLES[case])
    assert accepted.status_code == 202, accepted.text
    kept = accepted.json()["content"]["interactive"]
    # As given, with the empty lists of the other kinds filled in.
    assert kept == {"buttons": [], "sections": [], "cards": [], **SAMPLES[case]["interactive"]}
    assert accepted.json()["degraded"] is None


@pytest.mark.parametrize("case", list(COMMERCE))
async def test_another_channel_refuses_them_or_sends_their_text(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, case: str
) -> None:
    await _open(client, tenant, app, "messenger", PSID)
    refused = await _send(client, tenant, channel="messenger", to=PSID, content=SAMPLES[case])
    assert_envelope(refused, 422, "unsupported_content", "content")
    assert refused.json()["error"]["details"] == {"channel": "messenger", "feature": COMMERCE[case]}
    degraded = await _send(
        client, tenant, channel="messenger", to=PSID, content=SAMPLES[case], degrade=True
    )
    assert degraded.status_code == 202, degraded.text
    sent = degraded.json()
    assert sent["content"]["type"] == "text"
    assert SAMPLES[case]["interactive"]["body"] in sent["content"]["text"]
    assert sent["degraded"]["features"] == [COMMERCE[case]]
    assert sent["degraded"]["original"]["interactive"]["kind"] == case


async def test_a_bad_product_list_is_refused_naming_its_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    content = {
        "type": "interactive",
        "interactive": {**SAMPLES["product_list"]["interactive"], "header": None},
    }
    refused = await _send(client, tenant, channel="whatsapp", to=WA_USER, content=content)
    assert_envelope(refused, 422, "invalid_request", "content.interactive.header")
