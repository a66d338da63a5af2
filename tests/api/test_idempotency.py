"""Idempotency-Key: replay, a changed body, a request still in flight, secrets not replayed."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from chatgate.api.idempotency import fingerprint
from chatgate.storage.idempotency import claim_key
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, text_message


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


async def test_key_in_flight_is_409_and_abandoned_one_is_taken_over(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    body = json.dumps(text_message()).encode()
    request_print = fingerprint("POST", "/v1/messages", body)
    now = utcnow()
    async with gateway(app).database.write() as conn:
        for key, lock_until in (
            ("busy", now + timedelta(minutes=1)),
            ("abandoned", now - timedelta(seconds=1)),
        ):
            await claim_key(
                conn,
                tenant.account_id,
                key,
                request_print,
                now=now - timedelta(minutes=2),
                lock_until=lock_until,
                expires_at=now + timedelta(hours=24),
            )
    busy = await client.post("/v1/messages", content=body, headers=_headers(tenant, "busy"))
    assert_envelope(busy, 409, "idempotency_in_progress", "Idempotency-Key")
    taken_over = await client.post(
        "/v1/messages", content=body, headers=_headers(tenant, "abandoned")
    )
    assert taken_over.status_code == 202


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
