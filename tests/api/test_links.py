"""Link tracking: ``"track_links": true`` rewrites links to ``/l/{code}``; a click redirects
to the original and is recorded as a ``message.link_clicked`` event with the metadata."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, text_message, until, wait_for_status

ORIGINAL = "https://shop.example/orders/1042?utm=sms"
TEXT = f"Hi Ana 👋🏽 your order (see {ORIGINAL}). Questions? https://help.example/faq, 日本語"


@pytest.fixture
def base(app: FastAPI) -> str:
    """Where tracked links point: the gateway's public base (here no public URL is set)."""
    public: str = gateway(app).channels.public_url
    assert public == "http://127.0.0.1:8000"
    return public


def _codes(text: str, base: str) -> list[str]:
    return re.findall(rf"{re.escape(base)}/l/([A-Za-z0-9_-]+)", text)


async def _send(client: httpx.AsyncClient, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    body = text_message(text=TEXT, metadata={"order": 1042, "note": "né 👋"}, **extra)
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    sent: dict[str, Any] = response.json()
    return sent


async def _clicks(
    client: httpx.AsyncClient, tenant: Tenant, count: int = 1
) -> list[dict[str, Any]]:
    """The click events of the log, once there are ``count``: on PostgreSQL an event is
    readable once every transaction older than its own has ended."""
    events: list[dict[str, Any]] = []

    async def all_there() -> bool:
        nonlocal events
        response = await client.get(
            "/v1/events",
            params={"type": "message.link_clicked", "limit": 100},
            headers=auth(tenant.test),
        )
        assert response.status_code == 200, response.text
        events = response.json()["data"]
        return len(events) >= count

    await until(all_there)
    return events


async def test_links_are_rewritten_and_the_sandbox_delivers_the_message(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    sent = await _send(client, tenant, track_links=True)

    text = sent["content"]["text"]
    first, second = _codes(text, base)
    assert first != second
    assert text == (
        f"Hi Ana 👋🏽 your order (see {base}/l/{first}). Questions? {base}/l/{second}, 日本語"
    )
    assert len(first) >= 12
    delivered = await wait_for_status(client, tenant.test, sent["id"], "delivered")
    assert delivered["content"]["text"] == text


async def test_a_click_redirects_and_is_an_event_with_the_metadata(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    sent = await _send(client, tenant, track_links=True)
    code = _codes(sent["content"]["text"], base)[0]
    await wait_for_status(client, tenant.test, sent["id"], "read")

    click = await client.get(f"/l/{code}", headers={"User-Agent": "Mozilla/5.0 (Test)"})
    assert click.status_code == 302
    assert click.headers["location"] == ORIGINAL
    assert click.headers["cache-control"] == "no-store"

    [event] = await _clicks(client, tenant)
    assert event["type"] == "message.link_clicked"
    assert event["data"]["message_id"] == sent["id"]
    assert event["data"]["metadata"] == {"order": 1042, "note": "né 👋"}
    assert event["data"]["status"] is None
    assert event["data"]["seq"] == 5  # after queued, sent, delivered, read
    assert event["data"]["detail"] == {
        "url": ORIGINAL,
        "code": code,
        "user_agent": "Mozilla/5.0 (Test)",
    }
    history = await wait_for_status(client, tenant.test, sent["id"], "read")
    assert history["events"][-1]["type"] == "message.link_clicked"
    assert history["status"] == "read"  # a click is no status


async def test_every_click_is_an_event_of_its_own(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    sent = await _send(client, tenant, track_links=True)
    first, second = _codes(sent["content"]["text"], base)

    long_agent = "A" * 1000
    for code in (first, first, second):
        response = await client.get(f"/l/{code}", headers={"User-Agent": long_agent})
        assert response.status_code == 302
    assert (await client.get(f"/l/{second}")).headers["location"] == "https://help.example/faq"

    events = await _clicks(client, tenant, count=4)
    assert [event["data"]["detail"]["code"] for event in events] == [first, first, second, second]
    assert events[0]["data"]["detail"]["user_agent"] == "A" * 256
    assert {event["data"]["message_id"] for event in events} == {sent["id"]}


async def test_an_unknown_code_is_404(client: httpx.AsyncClient) -> None:
    for code in ("AAAAAAAAAAAA", "not a code!", "x" * 100):
        response = await client.get(f"/l/{code}")
        assert_envelope(response, 404, "not_found", "code")


async def test_without_track_links_nothing_is_rewritten(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    sent = await _send(client, tenant)
    assert sent["content"]["text"] == TEXT
    stored = await wait_for_status(client, tenant.test, sent["id"], "delivered")
    assert stored["content"]["text"] == TEXT


async def test_a_batch_item_tracks_its_links(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    items = [
        text_message(text=f"tracked {ORIGINAL}", track_links=True),
        text_message(text=f"plain {ORIGINAL}"),
    ]
    response = await client.post(
        "/v1/messages/batch", json={"messages": items}, headers=auth(tenant.test)
    )
    assert response.status_code == 202, response.text
    tracked, plain = (result["message"] for result in response.json()["results"])
    [code] = _codes(tracked["content"]["text"], base)
    assert tracked["content"]["text"] == f"tracked {base}/l/{code}"
    assert plain["content"]["text"] == f"plain {ORIGINAL}"

    assert (await client.get(f"/l/{code}")).headers["location"] == ORIGINAL
    [event] = await _clicks(client, tenant)
    assert event["data"]["message_id"] == tracked["id"]


async def test_a_fallback_step_sends_the_same_tracked_link(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    sent = await _send(
        client,
        tenant,
        to="+15005550001",  # the sandbox refuses it: the chain moves on
        track_links=True,
        fallback=[{"channel": "sms", "to": "+14155550123", "on": "failed"}],
    )
    failed = await wait_for_status(client, tenant.test, sent["id"], "failed")
    [moved] = [event for event in failed["events"] if event["type"] == "message.fallback"]
    step = await wait_for_status(client, tenant.test, moved["detail"]["message_id"], "delivered")
    assert step["content"] == sent["content"]

    code = _codes(step["content"]["text"], base)[0]
    assert (await client.get(f"/l/{code}")).status_code == 302
    [event] = await _clicks(client, tenant)
    # The links belong to the message that was accepted: the chain's first.
    assert event["data"]["message_id"] == sent["id"]


async def test_a_media_caption_is_rewritten_but_not_the_media_url(
    client: httpx.AsyncClient, tenant: Tenant, base: str
) -> None:
    media = {"url": "https://cdn.example/invoice.pdf", "caption": f"Pay at {ORIGINAL}"}
    body = {
        "channel": "sms",
        "to": "+14155550123",
        "content": {"type": "media", "media": media},
        "track_links": True,
    }
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    sent = response.json()["content"]["media"]
    assert sent["url"] == media["url"]
    [code] = _codes(sent["caption"], base)
    assert sent["caption"] == f"Pay at {base}/l/{code}"


async def test_a_text_too_long_once_rewritten_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    text = "https://a.example " * 227  # 4086 characters: each link grows to 36
    body = text_message(text=text, track_links=True)
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "content.text")
    accepted = await client.post(
        "/v1/messages", json=text_message(text=text), headers=auth(tenant.test)
    )
    assert accepted.status_code == 202
