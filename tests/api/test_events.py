"""The event log: ``GET /v1/events`` pages in commit order, and the live SSE stream resumes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from chatgate.domain.keys import KeyMode
from tests.api.test_validation import assert_envelope
from tests.support import (
    Tenant,
    auth,
    make_key,
    make_tenant,
    served_in_this_loop,
    text_message,
    until,
    wait_for_status,
)

STATUSES = ["queued", "sent", "delivered", "read"]


async def _send_and_finish(client: httpx.AsyncClient, secret: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/messages", json=text_message(**extra), headers=auth(secret))
    assert response.status_code == 202, response.text
    return await wait_for_status(client, secret, response.json()["id"], "read")


async def _all_events(
    client: httpx.AsyncClient, secret: str, limit: int, at_least: int = 0, **params: Any
) -> list[dict[str, Any]]:
    """Every event of the log, page by page, once there are ``at_least``: on PostgreSQL an
    event is readable once every transaction older than its own has ended."""
    events: list[dict[str, Any]] = []

    async def read_all() -> bool:
        nonlocal events
        events = []
        cursor = None
        while True:
            query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/events", params=query, headers=auth(secret))).json()
            events += page["data"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return len(events) >= at_least

    await until(read_all)
    return events


async def test_the_log_holds_every_status_in_order_with_the_metadata(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await _send_and_finish(client, tenant.test, metadata={"order": 1, "note": "né 👋"})
    second = await _send_and_finish(client, tenant.test, metadata={"order": 2})

    events = await _all_events(client, tenant.test, limit=3, at_least=8)
    assert len({event["id"] for event in events}) == len(events) == 8
    for message in (first, second):
        mine = [event for event in events if event["data"]["message_id"] == message["id"]]
        assert [event["data"]["status"] for event in mine] == STATUSES
        assert [event["data"]["seq"] for event in mine] == [1, 2, 3, 4]
        assert all(event["type"] == "message.status" for event in mine)
        assert all(event["data"]["metadata"] == message["metadata"] for event in mine)
        assert [event["data"]["status"] for event in mine] == [
            event["status"] for event in message["events"]
        ]
    # The first message's history was complete before the second was sent.
    assert [event["data"]["message_id"] for event in events[:4]] == [first["id"]] * 4


async def test_filters_by_message_and_type(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await _send_and_finish(client, tenant.test)
    await _send_and_finish(client, tenant.test)

    mine = await _all_events(client, tenant.test, limit=100, at_least=4, message_id=first["id"])
    assert [event["data"]["status"] for event in mine] == STATUSES
    statuses = await _all_events(client, tenant.test, limit=100, type="message.received")
    assert statuses == []


async def test_inbound_messages_are_logged_with_their_content(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/v1/sandbox/inbound",
        json={
            "channel": "telegram",
            "from": "123456789",
            "content": {"type": "text", "text": "hi"},
        },
        headers=auth(tenant.test),
    )
    assert response.status_code in (200, 201, 202), response.text
    [event] = await _all_events(client, tenant.test, limit=10, at_least=1, type="message.received")
    assert event["data"]["content"]["text"] == "hi"
    assert event["data"]["direction"] == "inbound"
    assert event["data"]["from"] == "123456789"


async def test_keys_see_only_their_own_account_and_mode(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _send_and_finish(client, tenant.test)
    other = await make_tenant(app)
    assert await _all_events(client, other.test, limit=100) == []
    assert await _all_events(client, tenant.live, limit=100) == []
    [event_id] = [e["id"] for e in await _all_events(client, tenant.test, 100, at_least=1)][:1]
    for secret in (other.test, tenant.live):
        response = await client.get("/v1/events", params={"cursor": event_id}, headers=auth(secret))
        assert_envelope(response, 404, "not_found", "cursor")


async def test_reading_events_needs_the_read_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, sender = await make_key(
        app, tenant.account_id, KeyMode.TEST, scopes=frozenset({"messages:send"})
    )
    response = await client.get("/v1/events", headers=auth(sender))
    assert_envelope(response, 403, "insufficient_scope", None)


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a real loopback port: the in-process transport cannot stream."""
    async with served_in_this_loop(app) as base_url:
        yield base_url


async def _read_stream(
    http: httpx.AsyncClient, secret: str, count: int, last_event_id: str | None = None
) -> list[dict[str, Any]]:
    headers = {**auth(secret), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    received: list[dict[str, Any]] = []
    async with (
        asyncio.timeout(15),
        aconnect_sse(http, "GET", "/v1/events/stream", headers=headers) as source,
    ):
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            event = json.loads(sse.data)
            assert sse.id == event["id"]
            assert sse.event == event["type"]
            received.append(event)
            if len(received) == count:
                return received
    raise AssertionError("the stream ended early")


async def test_the_stream_delivers_live_and_resumes_after_last_event_id(
    served: str, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=20) as http:
        reader = asyncio.create_task(_read_stream(http, tenant.test, 4))
        await asyncio.sleep(0.3)  # let the stream start from "now" before anything happens
        first = await _send_and_finish(client, tenant.test, metadata={"n": 1})
        live = await reader
        assert [e["data"]["status"] for e in live] == STATUSES
        assert {e["data"]["message_id"] for e in live} == {first["id"]}

        # Disconnected, the client misses a whole message; resuming gets it, nothing twice.
        second = await _send_and_finish(client, tenant.test, metadata={"n": 2})
        resumed = await _read_stream(http, tenant.test, 4, last_event_id=live[-1]["id"])
        assert [e["data"]["message_id"] for e in resumed] == [second["id"]] * 4
        assert [e["data"]["status"] for e in resumed] == STATUSES
        assert resumed[0]["data"]["metadata"] == {"n": 2}


async def test_the_stream_refuses_an_unknown_last_event_id(served: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=5) as http:
        response = await http.get(
            "/v1/events/stream",
            headers={**auth(tenant.test), "Last-Event-ID": "evt_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"},
        )
    assert_envelope(response, 404, "not_found", "cursor")
