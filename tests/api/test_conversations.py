"""Conversation threads: made by the first message either way, unread counts, the window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, make_tenant, until

USER = "+14155550123"
OTHER = "+14155550199"


async def _writes(
    client: httpx.AsyncClient,
    tenant: Tenant,
    text: str,
    channel: str = "whatsapp",
    peer: str = USER,
) -> dict[str, Any]:
    body = {"channel": channel, "from": peer, "content": {"type": "text", "text": text}}
    response = await client.post("/v1/sandbox/inbound", json=body, headers=auth(tenant.test))
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def _answers(
    client: httpx.AsyncClient,
    tenant: Tenant,
    text: str,
    channel: str = "whatsapp",
    peer: str = USER,
) -> dict[str, Any]:
    body = {"channel": channel, "to": peer, "content": {"type": "text", "text": text}}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    message: dict[str, Any] = response.json()
    return message


async def _threads(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/conversations", params=params, headers=auth(tenant.test))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def _once_moved_on(
    client: httpx.AsyncClient, tenant: Tenant, message_id: str
) -> list[dict[str, Any]]:
    """The threads, once the one of ``message_id`` (outbound) shows it as its last message:
    threads follow accepted messages a moment later."""
    threads: list[dict[str, Any]] = []

    async def moved_on() -> bool:
        nonlocal threads
        threads = (await _threads(client, tenant))["data"]
        return any((t["last_message"] or {}).get("id") == message_id for t in threads)

    await until(moved_on)
    return threads


async def test_an_inbound_message_opens_a_thread_with_its_window(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await _writes(client, tenant, "hi")
    second = await _writes(client, tenant, "anyone there?")
    [thread] = (await _threads(client, tenant))["data"]
    assert thread["id"].startswith("cnv_")
    assert (thread["channel"], thread["peer"], thread["unread"]) == ("whatsapp", USER, 2)
    assert thread["last_message"]["id"] == second["id"]
    wrote = datetime.fromisoformat(second["created_at"])
    assert thread["window"]["hours"] == 24
    assert thread["window"]["open"] is True
    assert datetime.fromisoformat(thread["window"]["open_until"]) == wrote + timedelta(hours=24)
    assert first["id"] != second["id"]


async def test_an_answer_reads_the_thread_and_becomes_its_last_message(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    asked = await _writes(client, tenant, "price?")
    answered = await _answers(client, tenant, "9.99")
    [thread] = await _once_moved_on(client, tenant, answered["id"])
    assert thread["unread"] == 0
    assert thread["last_message"]["id"] == answered["id"]
    assert thread["last_outbound_at"] is not None
    listed = await client.get(
        f"/v1/conversations/{thread['id']}/messages", headers=auth(tenant.test)
    )
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["data"]] == [answered["id"], asked["id"]]


async def test_marking_read_clears_the_unread_count(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _writes(client, tenant, "one")
    await _writes(client, tenant, "two")
    [thread] = (await _threads(client, tenant, unread=True))["data"]
    read = await client.post(f"/v1/conversations/{thread['id']}/read", headers=auth(tenant.test))
    assert read.status_code == 200, read.text
    assert read.json()["unread"] == 0
    assert (await _threads(client, tenant, unread=True))["data"] == []


async def test_a_thread_the_business_started_has_no_window_yet(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    sent = await _answers(client, tenant, "your code is 1234", channel="sms")
    [thread] = await _once_moved_on(client, tenant, sent["id"])
    # SMS has no service window: anything may be sent at any time.
    assert thread["window"] == {"hours": None, "open": True, "open_until": None}
    assert (thread["unread"], thread["last_inbound_at"]) == (0, None)


async def test_threads_come_most_recently_active_first_a_page_at_a_time(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _writes(client, tenant, "a", peer=USER)
    await _writes(client, tenant, "b", peer=OTHER)
    await _writes(client, tenant, "c", channel="sms", peer=USER)
    first = await _threads(client, tenant, limit=2)
    assert [(t["channel"], t["peer"]) for t in first["data"]] == [
        ("sms", USER),
        ("whatsapp", OTHER),
    ]
    assert first["has_more"] is True
    rest = await _threads(client, tenant, limit=2, cursor=first["next_cursor"])
    assert [(t["channel"], t["peer"]) for t in rest["data"]] == [("whatsapp", USER)]
    assert rest["has_more"] is False
    only_sms = await _threads(client, tenant, channel="sms")
    assert [t["peer"] for t in only_sms["data"]] == [USER]


async def test_another_accounts_or_modes_thread_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    await _writes(client, tenant, "mine")
    [thread] = (await _threads(client, tenant))["data"]
    stranger = await make_tenant(app)
    for secret in (stranger.test, stranger.live, tenant.live):
        for suffix in ("", "/messages"):
            response = await client.get(
                f"/v1/conversations/{thread['id']}{suffix}", headers=auth(secret)
            )
            assert_envelope(response, 404, "not_found", "id")
        marked = await client.post(f"/v1/conversations/{thread['id']}/read", headers=auth(secret))
        assert_envelope(marked, 404, "not_found", "id")
