"""Idempotency-Key: replay, a changed body, a request still in flight, secrets not replayed."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from chatgate.api.app import create_app
from chatgate.config import Settings
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, text_message, until


def _headers(tenant: Tenant, key: str) -> dict[str, str]:
    return {**auth(tenant.test), "Idempotency-Key": key, "Content-Type": "application/json"}


async def test_replay_returns_the_stored_answer(client: httpx.AsyncClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    body = json.dumps(text_message(text="once 🙂"))
    first = await client.post("/v1/messages", content=body, headers=_headers(tenant, key))
    assert first.status_code == 202
    assert "Idempotency-Replayed" not in first.headers
    # Same content, keys in another order: still the same request.
    reordered = json.dumps(dict(reversed(list(json.loads(body).items()))))
    second = await client.post("/v1/messages", content=reordered, headers=_headers(tenant, key))
    assert second.status_code == 202
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json() == first.json()
    listed = await client.get("/v1/messages", headers=auth(tenant.test))
    assert [m["id"] for m in listed.json()["data"]] == [first.json()["id"]]


async def test_same_key_different_body_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    await client.post(
        "/v1/messages", content=json.dumps(text_message(text="a")), headers=_headers(tenant, key)
    )
    changed = await client.post(
        "/v1/messages", content=json.dumps(text_message(text="b")), headers=_headers(tenant, key)
    )
    assert_envelope(changed, 422, "idempotency_key_reused", "Idempotency-Key")


async def test_key_in_flight_is_409_until_the_first_answers(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    database = gateway(app).database
    body = json.dumps(text_message())
    # Hold the store so that the first request stays inside its transaction.
    async with database.write() as conn:
        if not database.is_sqlite:
            await conn.execute(text("LOCK TABLE idempotency_keys IN EXCLUSIVE MODE"))
        first = asyncio.create_task(
            client.post("/v1/messages", content=body, headers=_headers(tenant, "busy"))
        )

        async def in_flight() -> bool:
            return bool(gateway(app).idempotency_in_flight)

        await until(in_flight)
        busy = await client.post("/v1/messages", content=body, headers=_headers(tenant, "busy"))
        assert_envelope(busy, 409, "idempotency_in_progress", "Idempotency-Key")
    answered = await first
    assert answered.status_code == 202
    replayed = await client.post("/v1/messages", content=body, headers=_headers(tenant, "busy"))
    assert replayed.headers["Idempotency-Replayed"] == "true"
    assert replayed.json()["id"] == answered.json()["id"]


async def test_a_key_raced_from_two_processes_is_done_once(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    """Another gateway on the same store: the later claim waits for the first and replays."""
    other_app = create_app(settings.model_copy(update={"worker_enabled": False}))
    body = json.dumps(text_message())
    async with (
        LifespanManager(other_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_app), base_url="http://other"
        ) as other,
    ):
        answers = await asyncio.gather(
            *(
                http.post("/v1/messages", content=body, headers=_headers(tenant, "raced"))
                for http in (client, other, client, other)
            )
        )
    accepted = [a for a in answers if a.status_code == 202]
    assert {a.json()["id"] for a in accepted} == {accepted[0].json()["id"]}
    # Requests that met the first in flight in their own process got 409; none did it twice.
    assert all(a.status_code in (202, 409) for a in answers)
    assert sum("Idempotency-Replayed" not in a.headers for a in accepted) == 1
    listed = await client.get("/v1/messages", headers=auth(tenant.test))
    assert [m["id"] for m in listed.json()["data"]] == [accepted[0].json()["id"]]


async def test_keys_are_scoped_to_the_account(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    from tests.support import make_tenant

    other = await make_tenant(app)
    body = json.dumps(text_message())
    mine = await client.post("/v1/messages", content=body, headers=_headers(tenant, "shared-key"))
    theirs = await client.post("/v1/messages", content=body, headers=_headers(other, "shared-key"))
    assert theirs.status_code == 202
    assert "Idempotency-Replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]


async def test_a_refused_request_releases_its_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = json.dumps(
        {"channel": "telegram", "to": "123456789", "content": {"type": "text", "text": "hi"}}
    )
    refused = await client.post("/v1/messages", content=body, headers=_headers(tenant, "retry-me"))
    assert_envelope(refused, 409, "channel_cannot_initiate", "to")
    again = await client.post("/v1/messages", content=body, headers=_headers(tenant, "retry-me"))
    assert (
        again.json()["error"]["code"] == "channel_cannot_initiate"
    )  # evaluated afresh, not replayed


async def test_created_key_secret_is_not_replayed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = _headers(tenant, "new-key")
    first = await client.post("/v1/keys", content=b'{"name": "x"}', headers=headers)
    replay = await client.post("/v1/keys", content=b'{"name": "x"}', headers=headers)
    assert first.json()["key"].startswith("cg_test_")
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert replay.json()["key"] is None
    assert replay.json()["id"] == first.json()["id"]


async def test_batch_is_idempotent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = json.dumps({"messages": [text_message(text="1"), text_message(text="2")]})
    first = await client.post(
        "/v1/messages/batch", content=body, headers=_headers(tenant, "batch-1")
    )
    second = await client.post(
        "/v1/messages/batch", content=body, headers=_headers(tenant, "batch-1")
    )
    assert second.json() == first.json()
    assert len((await client.get("/v1/messages", headers=auth(tenant.test))).json()["data"]) == 2


async def test_bad_idempotency_key_is_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/messages", content=json.dumps(text_message()), headers=_headers(tenant, "k" * 300)
    )
    assert_envelope(response, 422, "invalid_request", "Idempotency-Key")
