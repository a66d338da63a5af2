"""API keys: shown once, scopes, IP allowlist, allowed channels, revocation everywhere."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.keys import KeyMode, hash_secret
from chatgate.storage.tables import api_keys
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, text_message


async def test_key_secret_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await client.post(
        "/v1/keys", json={"name": "ci", "scopes": ["messages:read"]}, headers=auth(tenant.live)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["key"]
    assert secret.startswith("cg_live_")
    assert body["prefix"] == secret[: len("cg_live_") + 4] + "…"
    listed = await client.get("/v1/keys", headers=auth(tenant.live))
    assert secret not in listed.text
    assert body["id"] in {key["id"] for key in listed.json()["data"]}
    async with gateway(app).database.read() as conn:
        stored = (await conn.execute(api_keys.select().where(api_keys.c.id == body["id"]))).one()
    assert stored.secret_hash == hash_secret(secret)
    assert secret not in repr(stored)
    # The new key works, within its scope only.
    assert (await client.get("/v1/messages", headers=auth(secret))).status_code == 200
    refused = await client.post("/v1/messages", json=text_message(), headers=auth(secret))
    assert_envelope(refused, 403, "insufficient_scope", None)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer cg_live_nope", "Basic dXNlcjpwYXNz", "Bearer sk_live_xyz"],
)
async def test_missing_or_unknown_keys_are_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/v1/account", headers=headers)
    assert_envelope(response, 401, "unauthenticated", "Authorization")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_account_shows_the_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/account", headers=auth(tenant.test))
    assert response.status_code == 200
    assert response.json()["id"] == tenant.account_id
    assert response.json()["mode"] == "test"


async def test_no_escalation_through_key_creation(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, limited = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"keys:manage", "messages:read"})
    )
    wider = await client.post("/v1/keys", json={"scopes": ["messages:send"]}, headers=auth(limited))
    assert_envelope(wider, 403, "forbidden", "scopes")
    live_from_test = await client.post("/v1/keys", json={"mode": "live"}, headers=auth(tenant.test))
    assert_envelope(live_from_test, 403, "forbidden", "mode")
    same = await client.post("/v1/keys", json={"scopes": ["messages:read"]}, headers=auth(limited))
    assert same.status_code == 201


async def test_a_key_revokes_only_keys_within_its_own_scopes(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    """``*`` grants all of an account's scopes but ``admin``: its keys are out of reach."""
    admin_id, _ = await make_key(app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"admin"}))
    refused = await client.delete(f"/v1/keys/{admin_id}", headers=auth(tenant.live))
    assert_envelope(refused, 403, "forbidden", "scopes")
    assert "['admin']" in refused.json()["error"]["message"]
    made = await client.post("/v1/keys", json={"scopes": ["admin"]}, headers=auth(tenant.live))
    assert_envelope(made, 403, "forbidden", "scopes")
    assert "['admin']" in made.json()["error"]["message"]

    # A keys:manage key cannot touch a key holding more than it does, "*" included.
    _, manager = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"keys:manage", "messages:read"})
    )
    everything_id, _ = await make_key(app, tenant.account_id, KeyMode.LIVE)
    sender_id, _ = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:send"})
    )
    for target, missing in ((everything_id, "['*']"), (sender_id, "['messages:send']")):
        refused = await client.delete(f"/v1/keys/{target}", headers=auth(manager))
        assert_envelope(refused, 403, "forbidden", "scopes")
        assert missing in refused.json()["error"]["message"]
    # Nor may a test key revoke a live one.
    assert_envelope(
        await client.delete(f"/v1/keys/{sender_id}", headers=auth(tenant.test)),
        403,
        "forbidden",
        "mode",
    )
    listed = await client.get("/v1/keys", headers=auth(tenant.live))
    revoked = {key["id"]: key["revoked_at"] for key in listed.json()["data"]}
    assert revoked[admin_id] is None
    assert revoked[everything_id] is None
    assert revoked[sender_id] is None

    # A key holding the admin scope besides "*" reaches admin keys; one within may be revoked.
    _, operator = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"*", "admin"})
    )
    made = await client.post("/v1/keys", json={"scopes": ["admin"]}, headers=auth(operator))
    assert made.status_code == 201, made.text
    for target in (admin_id, made.json()["id"]):
        revoked_admin = await client.delete(f"/v1/keys/{target}", headers=auth(operator))
        assert revoked_admin.status_code == 200, revoked_admin.text
    reader_id, _ = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    within = await client.delete(f"/v1/keys/{reader_id}", headers=auth(manager))
    assert within.status_code == 200, within.text


async def test_ip_allowlist_v4_and_v6(tenant: Tenant, app: FastAPI) -> None:
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, ip_allowlist=())
    created = await _client_from(app, "127.0.0.1").post(
        "/v1/keys",
        json={"ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"]},
        headers=auth(secret),
    )
    assert created.status_code == 201, created.text
    restricted = created.json()["key"]
    for host, allowed in [
        ("203.0.113.9", True),
        ("198.51.100.1", False),
        ("2001:db8::17", True),
        ("2001:db9::1", False),
        ("::ffff:203.0.113.9", True),
    ]:
        response = await _client_from(app, host).get("/v1/account", headers=auth(restricted))
        if allowed:
            assert response.status_code == 200, host
        else:
            assert_envelope(response, 403, "ip_not_allowed", None)


async def test_bad_cidr_is_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/keys", json={"ip_allowlist": ["10.0.0.0/8", "nonsense"]}, headers=auth(tenant.test)
    )
    assert_envelope(response, 422, "invalid_request", "ip_allowlist.1")


async def test_allowed_channels(client: httpx.AsyncClient, tenant: Tenant, app: FastAPI) -> None:
    _, sms_only = await make_key(
        app, tenant.account_id, KeyMode.TEST, allowed_channels=frozenset({"sms"})
    )
    assert (
        await client.post("/v1/messages", json=text_message(), headers=auth(sms_only))
    ).status_code == 202
    other = {
        "channel": "whatsapp",
        "to": "+14155550123",
        "content": {"type": "template", "template": {"name": "hello"}},
    }
    refused = await client.post("/v1/messages", json=other, headers=auth(sms_only))
    assert_envelope(refused, 403, "channel_not_allowed", "channel")


async def test_revoked_key_is_refused_by_every_process(
    settings: Settings, tenant: Tenant, app: FastAPI
) -> None:
    """Two gateways share one store; a revocation through one is honoured by the other."""
    other = create_app(settings)
    async with LifespanManager(other):
        here, there = _client_from(app, "127.0.0.1"), _client_from(other, "127.0.0.1")
        key_id, secret = await make_key(app, tenant.account_id, KeyMode.TEST)
        assert (
            await there.get("/v1/account", headers=auth(secret))
        ).status_code == 200  # cached there
        revoked = await here.delete(f"/v1/keys/{key_id}", headers=auth(tenant.test))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        # The other process notices at its next refresh (every 0.1 s here; at most 1 s by config).
        await gateway(other).key_cache.wait_for_refresh()
        assert_envelope(
            await there.get("/v1/account", headers=auth(secret)),
            401,
            "unauthenticated",
            "Authorization",
        )
        assert_envelope(
            await here.get("/v1/account", headers=auth(secret)),
            401,
            "unauthenticated",
            "Authorization",
        )
        again = await here.delete(f"/v1/keys/{key_id}", headers=auth(tenant.test))
        assert again.status_code == 200


def test_refresh_interval_is_at_most_one_second() -> None:
    assert Settings().key_cache_refresh_seconds <= 1.0
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings(key_cache_refresh_seconds=5)


async def test_revoking_another_accounts_key_is_404(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    from tests.support import make_tenant

    other = await make_tenant(app)
    key_id, _ = await make_key(app, other.account_id, KeyMode.TEST)
    response = await client.delete(f"/v1/keys/{key_id}", headers=auth(tenant.test))
    assert_envelope(response, 404, "not_found", "id")


def _client_from(app: FastAPI, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_link_tracking_round_trips_and_defaults_to_on(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    """``track_links`` false is kept, shown and stored; absent or null means true."""
    shown: dict[str, bool] = {}
    for name, extra in (
        ("off", {"track_links": False}),
        ("absent", {}),
        ("null", {"track_links": None}),
    ):
        made = await client.post(
            "/v1/keys", json={"name": name, "dialect": "bik", **extra}, headers=auth(tenant.test)
        )
        assert made.status_code == 201, made.text
        shown[made.json()["id"]] = made.json()["track_links"]
    assert sorted(shown.values()) == [False, True, True]
    listed = await client.get("/v1/keys", headers=auth(tenant.test))
    assert {k["id"]: k["track_links"] for k in listed.json()["data"] if k["id"] in shown} == shown
    async with gateway(app).database.read() as conn:
        rows = await conn.execute(api_keys.select().where(api_keys.c.id.in_(list(shown))))
        assert {row.id: row.track_links for row in rows} == shown
    bad = await client.post("/v1/keys", json={"track_links": "no"}, headers=auth(tenant.test))
    assert_envelope(bad, 422, "invalid_request", "track_links")
