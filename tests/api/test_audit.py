"""The audit log: every change to keys, channels and webhooks, every refused authentication;
``GET /v1/audit`` with its filters, pages, scope and account boundary; never a secret."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import audit_log
from tests.api.test_channels import APP_SECRET, NOWHERE, TOKEN, VERIFY, whatsapp
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, make_tenant, settings_for

# The in-process transport's peer address: what the log records as the source.
CLIENT_IP = "127.0.0.1"
# A receiver's URL with a password, a token in the path and one in the query: only the
# origin may reach the log.
HOOK = "http://hook-user:hook-password@127.0.0.1:9/hooks/path-token-1234?token=query-token-5678"
HOOK_SECRETS = ("hook-password", "path-token-1234", "query-token-5678")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings that let webhook endpoints point at this machine."""
    return settings_for(database_url, allow_private_webhooks=True)


async def audit(client: httpx.AsyncClient, secret: str, **params: Any) -> list[dict[str, Any]]:
    """One page (up to 100) of the key's account's log, newest first."""
    response = await client.get("/v1/audit", params={"limit": 100, **params}, headers=auth(secret))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def only(client: httpx.AsyncClient, secret: str, action: str, target: str) -> dict[str, Any]:
    """The one entry of ``action`` on ``target``."""
    found = await audit(client, secret, action=action, target=target)
    assert len(found) == 1, found
    return found[0]


async def whole_log(client: httpx.AsyncClient, secret: str) -> str:
    """Every page of the account's log, as the API sends them."""
    texts: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/audit", params=params, headers=auth(secret))
        assert response.status_code == 200, response.text
        texts.append(response.text)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return "\n".join(texts)


def assert_by(entry: dict[str, Any], action: str, target: str, key_id: str | None) -> None:
    """The entry is a success of ``action`` on ``target`` by ``key_id`` from the client."""
    assert (entry["action"], entry["target"], entry["outcome"]) == (action, target, "succeeded")
    assert (entry["key_id"], entry["source_ip"]) == (key_id, CLIENT_IP)


async def key_id_of(client: httpx.AsyncClient, secret: str) -> str:
    """The id of the key ``secret`` (from the log of the key it makes)."""
    made = await client.post("/v1/keys", json={"name": "probe"}, headers=auth(secret))
    assert made.status_code == 201, made.text
    entry = await only(client, secret, "key.created", made.json()["id"])
    key_id: str = entry["key_id"]
    return key_id


# Keys


async def test_creating_and_revoking_a_key_is_audited_without_its_secret(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    actor_id, actor = await make_key(app, tenant.account_id, KeyMode.LIVE)
    body = {
        "name": "ci",
        "scopes": ["messages:read", "messages:send"],
        "allowed_channels": ["whatsapp", "sms"],
        "ip_allowlist": ["203.0.113.0/24"],
    }
    headers = {**auth(actor), "Idempotency-Key": "key-1"}
    created = await client.post("/v1/keys", json=body, headers=headers)
    assert created.status_code == 201, created.text
    replayed = await client.post("/v1/keys", json=body, headers=headers)
    assert replayed.headers["Idempotency-Replayed"] == "true"
    key_id, secret = created.json()["id"], created.json()["key"]

    # One entry, though the request came twice: the replay changed nothing.
    entry = await only(client, actor, "key.created", key_id)
    assert_by(entry, "key.created", key_id, actor_id)
    assert entry["detail"] == {
        "name": "ci",
        "mode": "live",
        "scopes": ["messages:read", "messages:send"],
        "allowed_channels": ["sms", "whatsapp"],
        "ip_allowlist": ["203.0.113.0/24"],
        "rate_limit": None,
        "dialect": None,
        "track_links": True,
    }
    for _ in range(2):  # revoking again changes nothing, and is not logged again
        revoked = await client.delete(f"/v1/keys/{key_id}", headers=auth(actor))
        assert revoked.status_code == 200, revoked.text
    entry = await only(client, actor, "key.revoked", key_id)
    assert_by(entry, "key.revoked", key_id, actor_id)
    assert entry["detail"] == {"name": "ci", "mode": "live"}
    assert (await audit(client, actor))[0] == entry  # the newest of the account

    log = await whole_log(client, actor)
    for shown_once in (secret, actor, tenant.live, tenant.test):
        assert shown_once not in log
        assert shown_once[len("cg_live_") + 4 :] not in log


# Channels


async def test_channel_changes_are_audited_with_credential_names_only(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    actor_id, actor = await make_key(app, tenant.account_id, KeyMode.LIVE)
    headers = {**auth(actor), "Idempotency-Key": "channel-1"}
    for _ in range(2):
        created = await client.post("/v1/channels", json=whatsapp("support"), headers=headers)
        assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    entry = await only(client, actor, "channel.created", channel_id)
    assert_by(entry, "channel.created", channel_id, actor_id)
    assert entry["detail"] == {
        "type": "whatsapp",
        "name": "support",
        "default": True,
        "credentials": ["access_token", "app_secret", "phone_number_id", "verify_token"],
        "settings": ["api_base"],
    }

    new_token = "EAAG-another-access-token-9876543210"
    changed = await client.patch(
        f"/v1/channels/{channel_id}",
        json={
            "name": "sales",
            # The phone number id is given unchanged: only the token is a change.
            "credentials": {"access_token": new_token, "phone_number_id": "106540352242922"},
            "settings": {"rate_per_second": 20},
        },
        headers=auth(actor),
    )
    assert changed.status_code == 200, changed.text
    entry = await only(client, actor, "channel.updated", channel_id)
    assert_by(entry, "channel.updated", channel_id, actor_id)
    assert entry["detail"] == {
        "type": "whatsapp",
        "name": "sales",
        "fields": ["name", "credentials", "settings"],
        "credentials": ["access_token"],
        "settings": ["rate_per_second"],
    }

    removed = await client.delete(f"/v1/channels/{channel_id}", headers=auth(actor))
    assert removed.status_code == 204
    entry = await only(client, actor, "channel.deleted", channel_id)
    assert_by(entry, "channel.deleted", channel_id, actor_id)
    assert entry["detail"] == {"type": "whatsapp", "name": "sales", "default": True}

    log = await whole_log(client, actor)
    for value in (TOKEN, new_token, APP_SECRET, VERIFY, NOWHERE):
        assert value not in log


async def test_a_refused_channel_change_leaves_no_entry(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await client.post("/v1/channels", json=whatsapp(), headers=auth(tenant.live))
    channel_id = created.json()["id"]
    bad = await client.patch(
        f"/v1/channels/{channel_id}",
        json={"name": "x", "settings": {"api_base": "ftp://nope"}},
        headers=auth(tenant.live),
    )
    assert_envelope(bad, 422, "invalid_request", "settings.api_base")
    assert await audit(client, tenant.live, action="channel.updated", target=channel_id) == []


# Webhooks


async def test_webhook_changes_are_audited_without_the_signing_secret(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    actor_id, actor = await make_key(app, tenant.account_id, KeyMode.TEST)
    headers = {**auth(actor), "Idempotency-Key": "hook-1"}
    body = {"url": HOOK, "event_types": ["message.received"], "description": "orders"}
    created = await client.post("/v1/webhooks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    replayed = await client.post("/v1/webhooks", json=body, headers=headers)
    assert replayed.headers["Idempotency-Replayed"] == "true"
    endpoint_id = created.json()["id"]
    secrets = [created.json()["secret"]]
    entry = await only(client, actor, "webhook.created", endpoint_id)
    assert_by(entry, "webhook.created", endpoint_id, actor_id)
    assert entry["detail"] == {
        "mode": "test",
        "url_origin": "http://127.0.0.1:9",
        "description": "orders",
        "event_types": ["message.received"],
        "api_key_id": None,
        "enabled": True,
        "plain_signature": False,
        "format": "standard",
    }

    path = f"/v1/webhooks/{endpoint_id}"
    changed = await client.patch(
        path, json={"enabled": False, "event_types": None}, headers=auth(actor)
    )
    assert changed.status_code == 200, changed.text
    entry = await only(client, actor, "webhook.updated", endpoint_id)
    assert_by(entry, "webhook.updated", endpoint_id, actor_id)
    assert entry["detail"] == {
        "fields": ["event_types", "enabled"],
        "event_types": None,
        "enabled": False,
    }

    rotated = await client.post(f"{path}/rotate-secret", headers=auth(actor))
    assert rotated.status_code == 200, rotated.text
    secrets.append(rotated.json()["secret"])
    entry = await only(client, actor, "webhook.secret_rotated", endpoint_id)
    assert_by(entry, "webhook.secret_rotated", endpoint_id, actor_id)
    until = datetime.fromisoformat(entry["detail"]["previous_secret_valid_until"])
    assert until > datetime.now(UTC)

    removed = await client.delete(path, headers=auth(actor))
    assert removed.status_code == 204
    entry = await only(client, actor, "webhook.deleted", endpoint_id)
    assert_by(entry, "webhook.deleted", endpoint_id, actor_id)
    assert entry["detail"]["url_origin"] == "http://127.0.0.1:9"

    log = await whole_log(client, actor)
    assert all(secret.startswith("whsec_") for secret in secrets)
    assert "whsec_" not in log
    for value in (*secrets, *HOOK_SECRETS):
        assert value not in log


async def test_replays_are_audited_with_the_delivery_or_the_time_and_count(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    actor_id, actor = await make_key(app, tenant.account_id, KeyMode.TEST)
    created = await client.post("/v1/webhooks", json={"url": HOOK}, headers=auth(actor))
    endpoint_id = created.json()["id"]
    ping = await client.post(f"/v1/webhooks/{endpoint_id}/test", headers=auth(actor))
    assert ping.status_code == 202, ping.text
    delivery_id = ping.json()["id"]

    replayed = await client.post(
        f"/v1/webhooks/deliveries/{delivery_id}/replay", headers=auth(actor)
    )
    assert replayed.status_code == 202, replayed.text
    [entry] = await audit(client, actor, action="webhook.replayed", target=endpoint_id)
    assert_by(entry, "webhook.replayed", endpoint_id, actor_id)
    assert entry["detail"] == {"delivery_id": delivery_id, "count": 1}

    since = "2020-01-01T00:00:00Z"
    again = await client.post(
        f"/v1/webhooks/{endpoint_id}/replay", json={"since": since}, headers=auth(actor)
    )
    assert again.status_code == 202, again.text
    found = await audit(client, actor, action="webhook.replayed", target=endpoint_id)
    assert len(found) == 2
    [entry] = [e for e in found if "since" in e["detail"]]
    assert_by(entry, "webhook.replayed", endpoint_id, actor_id)
    assert datetime.fromisoformat(entry["detail"]["since"]) == datetime(2020, 1, 1, tzinfo=UTC)
    assert entry["detail"]["count"] == again.json()["replayed"]


# Refused authentication


async def _stored_refusals(app: FastAPI, path: str) -> list[Any]:
    """The refusals of requests to ``path``, whichever account they are in (or none)."""
    async with gateway(app).database.read() as conn:
        rows = await conn.execute(select(audit_log).where(audit_log.c.action == "auth.refused"))
        return [row for row in rows if (row.detail or {}).get("path") == path]


@pytest.mark.parametrize(
    ("header", "reason"),
    [(None, "missing_key"), ("Bearer cg_live_NotAKeyOfAnyone0123456789abcdef", "unknown_key")],
)
async def test_a_refusal_without_a_known_key_is_in_no_account(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, header: str | None, reason: str
) -> None:
    path = f"/v1/contacts/{new_id('ct')}"  # a path of this test's own, to find its entry
    response = await client.get(path, headers={"Authorization": header} if header else {})
    assert_envelope(response, 401, "unauthenticated", "Authorization")

    [stored] = await _stored_refusals(app, path)
    assert (stored.account_id, stored.api_key_id, stored.target) == (None, None, None)
    assert (stored.outcome, stored.source_ip) == ("refused", CLIENT_IP)
    assert stored.detail == {"reason": reason, "method": "GET", "path": path}
    assert "NotAKeyOfAnyone" not in repr(stored)  # what was presented is never kept
    # No account sees it.
    seen = await audit(client, tenant.live, action="auth.refused")
    assert all(entry["detail"].get("path") != path for entry in seen)


async def test_a_revoked_key_is_refused_in_its_account(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key_id, secret = await make_key(app, tenant.account_id, KeyMode.TEST)
    revoked = await client.delete(f"/v1/keys/{key_id}", headers=auth(tenant.live))
    assert revoked.status_code == 200
    await gateway(app).key_cache.wait_for_refresh()
    refused = await client.get("/v1/account", headers=auth(secret))
    assert_envelope(refused, 401, "unauthenticated", "Authorization")

    [entry] = await audit(client, tenant.live, action="auth.refused", key_id=key_id)
    assert (entry["target"], entry["outcome"], entry["source_ip"]) == (key_id, "refused", CLIENT_IP)
    assert entry["detail"] == {"reason": "revoked_key", "method": "GET", "path": "/v1/account"}
    assert secret not in await whole_log(client, tenant.live)


async def test_a_key_used_from_an_address_it_may_not_use_is_refused_in_its_account(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key_id, secret = await make_key(
        app, tenant.account_id, KeyMode.LIVE, ip_allowlist=(ip_network("203.0.113.0/24"),)
    )
    refused = await client.get("/v1/messages", headers=auth(secret))
    assert_envelope(refused, 403, "ip_not_allowed", None)

    [entry] = await audit(client, tenant.live, action="auth.refused", key_id=key_id)
    assert (entry["outcome"], entry["source_ip"]) == ("refused", CLIENT_IP)
    assert entry["detail"] == {"reason": "ip_not_allowed", "method": "GET", "path": "/v1/messages"}


async def test_reading_the_log_needs_audit_read_and_the_refusal_names_the_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key_id, reader = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    refused = await client.get("/v1/audit", headers=auth(reader))
    assert_envelope(refused, 403, "insufficient_scope", None)

    [entry] = await audit(client, tenant.live, action="auth.refused", key_id=key_id)
    assert (entry["target"], entry["outcome"]) == (key_id, "refused")
    assert entry["detail"] == {
        "reason": "insufficient_scope",
        "method": "GET",
        "path": "/v1/audit",
        "scope": "audit:read",
    }
    _, auditor = await make_key(
        app, tenant.account_id, KeyMode.TEST, scopes=frozenset({"audit:read"})
    )
    assert (await client.get("/v1/audit", headers=auth(auditor))).status_code == 200


# Reading the log


async def test_filters_by_action_key_outcome_and_time(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first_id, first = await make_key(app, tenant.account_id, KeyMode.LIVE)
    _, reader = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    before = await client.post("/v1/keys", json={"name": "before"}, headers=auth(first))
    assert (await client.get("/v1/audit", headers=auth(reader))).status_code == 403
    await asyncio.sleep(0.05)
    boundary = datetime.now(UTC)
    await asyncio.sleep(0.05)
    after = await client.post("/v1/keys", json={"name": "after"}, headers=auth(tenant.live))
    before_id, after_id = before.json()["id"], after.json()["id"]

    by_action = await audit(client, tenant.live, action="key.created")
    assert {e["action"] for e in by_action} == {"key.created"}
    assert {before_id, after_id} <= {e["target"] for e in by_action}

    by_key = await audit(client, tenant.live, key_id=first_id)
    assert [e["target"] for e in by_key] == [before_id]

    refused = await audit(client, tenant.live, outcome="refused")
    assert refused
    assert {e["outcome"] for e in refused} == {"refused"}
    succeeded = await audit(client, tenant.live, outcome="succeeded")
    assert {e["outcome"] for e in succeeded} == {"succeeded"}
    assert {e["id"] for e in refused}.isdisjoint(e["id"] for e in succeeded)

    since = await audit(client, tenant.live, since=boundary.isoformat())
    assert [e["target"] for e in since] == [after_id]
    until = await audit(client, tenant.live, until=boundary.isoformat())
    assert after_id not in {e["target"] for e in until}
    assert before_id in {e["target"] for e in until}
    assert all(datetime.fromisoformat(e["created_at"]) < boundary for e in until)
    assert all(datetime.fromisoformat(e["created_at"]) >= boundary for e in since)


async def test_pages_follow_the_cursor_newest_first(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = []
    for n in range(5):
        response = await client.post("/v1/keys", json={"name": f"k{n}"}, headers=auth(tenant.live))
        made.append(response.json()["id"])
    everything = await audit(client, tenant.live, action="key.created")
    assert set(made) <= {e["target"] for e in everything}

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"action": "key.created", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/audit", params=params, headers=auth(tenant.live))
        page = response.json()
        assert len(page["data"]) <= 2
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything]
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == len(seen)


async def test_an_account_never_sees_another_accounts_entries(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await client.post("/v1/keys", json={"name": "a's"}, headers=auth(tenant.live))
    a_key_id = made.json()["id"]
    a_actor = await key_id_of(client, tenant.live)
    _, a_reader = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    assert (await client.get("/v1/audit", headers=auth(a_reader))).status_code == 403
    a_ids = {e["id"] for e in await audit(client, tenant.live)}
    assert a_ids

    other = await make_tenant(app)
    b_log = await audit(client, other.live)
    assert a_ids.isdisjoint(e["id"] for e in b_log)
    assert await audit(client, other.live, target=a_key_id) == []
    assert await audit(client, other.live, key_id=a_actor) == []
    # B's log holds B's own two keys, made with B's account, and nothing else.
    assert [e["action"] for e in b_log] == ["key.created", "key.created"]


async def test_refusals_kept_from_one_address_are_bounded(database_url: str) -> None:
    """Anyone can be refused: what one address makes the log keep is capped a minute; its
    requests are refused alike, and another address's refusals are still kept."""
    application = create_app(settings_for(database_url, auth_refusals_logged_per_minute=3))
    path = f"/v1/contacts/{new_id('ct')}"
    async with LifespanManager(application):
        for address, tries in (("127.0.0.2", 6), ("127.0.0.3", 2)):
            transport = httpx.ASGITransport(app=application, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                for _ in range(tries):
                    refused = await http.get(path)
                    assert_envelope(refused, 401, "unauthenticated", "Authorization")
        kept = await _stored_refusals(application, path)
    by_address = Counter(row.source_ip for row in kept)
    assert by_address == {"127.0.0.2": 3, "127.0.0.3": 2}
