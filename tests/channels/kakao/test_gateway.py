"""Kakao through the gateway: the templates-only rule, results by webhook and by polling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatgate.emulators.app import create_emulator_app
from tests.channels.kakao import contract
from tests.support import Tenant, auth, served_in_this_loop, wait_for_status

TEMPLATE = {
    "type": "template",
    "template": {"name": "order_shipped", "variables": {"name": "홍길동"}},
}
TEXT = {"type": "text", "text": "이번 주 할인 소식 🎉"}
BRAND = {"kakao": {"type": "brand"}}


async def _send(client: httpx.AsyncClient, secret: str, **body: Any) -> httpx.Response:
    message = {"channel": "kakao", "to": contract.RECIPIENT, **body}
    return await client.post("/v1/messages", json=message, headers=auth(secret))


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("template_required", field)
    assert "kakao sends templates only" in error["message"]
    assert 'options.kakao.type "brand"' in error["message"]


@pytest.mark.parametrize("options", [None, {"kakao": {"type": "alimtalk"}}])
async def test_free_text_without_the_brand_type_is_refused_naming_the_rule(
    client: httpx.AsyncClient, tenant: Tenant, options: dict[str, Any] | None
) -> None:
    extra = {"options": options} if options else {}
    _refused(await _send(client, tenant.test, content=TEXT, **extra), "content")


async def test_a_fallback_step_to_kakao_must_be_a_template(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/v1/messages",
        json={
            "channel": "sms",
            "to": contract.RECIPIENT,
            "content": {"type": "text", "text": "hi"},
            "fallback": [{"channel": "kakao", "to": contract.RECIPIENT, "on": "failed"}],
        },
        headers=auth(tenant.test),
    )
    _refused(response, "fallback.0.content")


@pytest.mark.parametrize(
    ("content", "options"),
    [(TEMPLATE, None), (TEMPLATE, BRAND), (TEXT, BRAND)],
)
async def test_templates_and_named_brand_messages_are_accepted(
    client: httpx.AsyncClient,
    tenant: Tenant,
    content: dict[str, Any],
    options: dict[str, Any] | None,
) -> None:
    extra = {"options": options} if options else {}
    response = await _send(client, tenant.test, content=content, **extra)
    assert response.status_code == 202, response.text
    kept = response.json()["content"]
    assert kept["type"] == content["type"]
    # Korean text is kept as given.
    assert kept.get("text") == content.get("text")
    assert kept.get("template", {}).get("variables") == content.get("template", {}).get("variables")


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    """The emulators on loopback, with the test app registered without a webhook URL."""
    async with served_in_this_loop(create_emulator_app()) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            registered = await http.post(
                "/_emulator/kakao/accounts", json=contract.emulator_account()
            )
            assert registered.status_code == 201, registered.text
            timing = await http.put("/_emulator/timing", json={"delivered_after": 0.0})
            assert timing.status_code == 200, timing.text
        yield url


async def _connect(client: httpx.AsyncClient, tenant: Tenant, emulator: str) -> None:
    created = await client.post(
        "/v1/channels",
        headers=auth(tenant.live),
        json={
            "type": "kakao",
            "name": "shop channel",
            "credentials": {
                "app_key": contract.APP_KEY,
                "secret_key": contract.SECRET_KEY,
                "sender_key": contract.SENDER_KEY,
                "webhook_secret": contract.WEBHOOK_SECRET,
            },
            "settings": {"api_base": f"{emulator}/kakao", "result_poll_seconds": 0.2},
        },
    )
    assert created.status_code == 201, created.text


async def test_without_a_webhook_the_result_is_polled_until_delivered(
    client: httpx.AsyncClient, tenant: Tenant, emulator: str
) -> None:
    await _connect(client, tenant, emulator)
    accepted = await _send(client, tenant.live, content=TEMPLATE)
    assert accepted.status_code == 202, accepted.text
    message = await wait_for_status(client, tenant.live, accepted.json()["id"], "delivered")
    assert message["status"] == "delivered"
    [event] = [e for e in message["events"] if e["status"] == "delivered"]
    assert event["detail"] == {"platform_status": "1000", "polled": True}
    async with httpx.AsyncClient(base_url=emulator) as http:
        calls = (await http.get("/_emulator/kakao/received")).json()
    sends = [call for call in calls if call["recipient"] == contract.RECIPIENT]
    queries = [call for call in calls if call["recipient"] is None]
    assert len(sends) == 1
    assert queries
    assert all("/messages/" in query["path"] for query in queries)


async def test_degrade_renders_a_location_down_to_a_brand_text(
    client: httpx.AsyncClient, tenant: Tenant, emulator: str
) -> None:
    await _connect(client, tenant, emulator)
    location = {
        "type": "location",
        "location": {"latitude": 37.5665, "longitude": 126.978, "name": "서울시청"},
    }
    refused = await _send(client, tenant.live, content=location, options=BRAND)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "unsupported_content"
    accepted = await _send(client, tenant.live, content=location, options=BRAND, degrade=True)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["content"]["type"] == "text"
    message = await wait_for_status(client, tenant.live, accepted.json()["id"], "delivered")
    assert message["degraded"]["features"] == ["location"]
    async with httpx.AsyncClient(base_url=emulator) as http:
        calls = (await http.get("/_emulator/kakao/received")).json()
    [sent] = [call for call in calls if call["recipient"] == contract.RECIPIENT]
    assert sent["path"].endswith("/freestyle-messages")
    assert sent["body"]["content"].startswith("서울시청\n")


async def test_a_send_whose_answer_was_lost_is_sent_once_and_keeps_nhns_id(
    client: httpx.AsyncClient, tenant: Tenant, emulator: str
) -> None:
    await _connect(client, tenant, emulator)
    async with httpx.AsyncClient(base_url=emulator) as http:
        fault = {"kind": "answer_lost", "recipient": contract.RECIPIENT}
        assert (await http.post("/_emulator/kakao/faults", json=fault)).status_code == 201
    accepted = await _send(client, tenant.live, content=TEMPLATE)
    assert accepted.status_code == 202, accepted.text
    message = await wait_for_status(client, tenant.live, accepted.json()["id"], "delivered")
    async with httpx.AsyncClient(base_url=emulator) as http:
        calls = (await http.get("/_emulator/kakao/received")).json()
    sends = [call for call in calls if call["recipient"] == contract.RECIPIENT]
    # NHN kept the first try (its answer lost on the way) and refused the second as a repeat.
    assert [call["message_id"] is not None for call in sends] == [True, False]
    assert message["provider_message_id"] == sends[0]["message_id"]
    # Delivered by polling NHN's result of that very id.
    [event] = [e for e in message["events"] if e["status"] == "delivered"]
    assert event["detail"]["polled"] is True
