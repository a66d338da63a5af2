"""``/v1/webhooks``: endpoints made, read, changed and removed; secrets shown only once."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.keys import KeyMode
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, make_key, make_tenant
from tests.test_net_guard import REFUSED

HOOK = "http://127.0.0.1:9/hooks"


async def _create(client: httpx.AsyncClient, secret: str, **body: object) -> httpx.Response:
    return await client.post("/v1/webhooks", json={"url": HOOK, **body}, headers=auth(secret))


async def test_create_shows_the_secret_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _create(client, tenant.test, description="orders")
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] is None
    assert created["enabled"] is True
    endpoint_id = created["id"]
    got = (await client.get(f"/v1/webhooks/{endpoint_id}", headers=auth(tenant.test))).json()
    listed = (await client.get("/v1/webhooks", headers=auth(tenant.test))).json()
    assert "secret" not in got
    assert [e["id"] for e in listed["data"]] == [endpoint_id]
    assert "whsec_" not in str(listed)


async def test_an_idempotent_replay_does_not_show_the_secret_again(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = {**auth(tenant.test), "Idempotency-Key": "hook-1"}
    first = await client.post("/v1/webhooks", json={"url": HOOK}, headers=headers)
    again = await client.post("/v1/webhooks", json={"url": HOOK}, headers=headers)
    assert first.json()["secret"].startswith("whsec_")
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["secret"] is None
    assert again.json()["id"] == first.json()["id"]


async def test_change_rotate_and_remove(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = (await _create(client, tenant.test, event_types=["message.received"])).json()
    path = f"/v1/webhooks/{created['id']}"
    changed = await client.patch(
        path, json={"enabled": False, "plain_signature": True}, headers=auth(tenant.test)
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["enabled"], body["disabled_reason"], body["plain_signature"]) == (
        False,
        "by_request",
        True,
    )
    assert body["event_types"] == ["message.received"]  # not given: left alone
    every = await client.patch(path, json={"event_types": None}, headers=auth(tenant.test))
    assert every.json()["event_types"] is None

    rotated = await client.post(f"{path}/rotate-secret", headers=auth(tenant.test))
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (None, created["secret"])

    assert (await client.delete(path, headers=auth(tenant.test))).status_code == 204
    assert_envelope(await client.get(path, headers=auth(tenant.test)), 404, "not_found", "id")


@pytest.mark.parametrize("url", [*REFUSED.values(), "http://localhost:8000/hooks"])
async def test_private_addresses_are_refused_unless_the_operator_allows_them(
    app: FastAPI, url: str
) -> None:
    from asgi_lifespan import LifespanManager

    from chatgate.api.app import create_app

    settings = app.state.gateway.settings.model_copy(update={"allow_private_webhooks": False})
    guarded = create_app(settings)
    async with LifespanManager(guarded):
        tenant = await make_tenant(guarded)
        transport = httpx.ASGITransport(app=guarded)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await _create(client, tenant.test, url=url)
    assert_envelope(response, 422, "url_not_allowed", "url")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": ["message.nope"]}, "event_types.0"),
        ({"api_key_id": "key_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"}, "api_key_id"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_fields_are_named(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": HOOK, **body}, headers=auth(tenant.test)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_other_accounts_and_modes_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = (await _create(client, tenant.test)).json()
    other = await make_tenant(app)
    for secret in (other.test, tenant.live):
        for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test")):
            response = await client.request(
                method,
                f"/v1/webhooks/{created['id']}{suffix}",
                json={} if method == "PATCH" else None,
                headers=auth(secret),
            )
            assert_envelope(response, 404, "not_found", "id")
    # A key of another account cannot be bound either.
    stranger_key_id, _ = await make_key(app, other.account_id, KeyMode.TEST)
    bound = await _create(client, tenant.test, api_key_id=stranger_key_id)
    assert_envelope(bound, 422, "invalid_request", "api_key_id")


async def test_managing_webhooks_needs_its_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, reader = await make_key(
        app, tenant.account_id, KeyMode.TEST, scopes=frozenset({"messages:read"})
    )
    assert_envelope(await _create(client, reader), 403, "insufficient_scope", None)
    response = await client.get("/v1/webhooks", headers=auth(reader))
    assert_envelope(response, 403, "insufficient_scope", None)
