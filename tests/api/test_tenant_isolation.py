"""Tenant isolation and scopes, table-driven over every route of the API.

BOLA: account A makes one of every object; account B's keys try every route that takes an
id with A's ids, and always get 404 with nothing of A's in the answer (and A's object is
untouched). Scopes: every route is listed with the scope it needs, and a key holding every
other scope gets 403. Both tables are checked against the routes the app really has, so a
new route must be added to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from chatgate.api.app import ROUTE_MODULES
from chatgate.config import Settings
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, Scope
from chatgate.storage import media as media_store
from chatgate.storage.media import MediaStatus, StoredMedia
from chatgate.storage.types import utcnow
from tests.api.test_channels import whatsapp
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, make_tenant, settings_for

# Routes that take an id but answer without an API key, by design.
PUBLIC = {
    ("GET", "/inbound/{channel_id}"),  # the platform's handshake, checked by its own token
    ("POST", "/inbound/{channel_id}"),  # the platform's webhook, checked by its signature
    ("GET", "/l/{code}"),  # a tracked link: the unguessable code is all a click presents
    # An inbound file by a signed, expiring link (dialect webhooks): the signature is the key.
    ("GET", "/media-links/{token}"),
}
# The operator's routes: they act on any account by design, and need the admin scope.
OPERATOR = {
    ("POST", "/v1/admin/accounts/{account_id}/credit"),
    ("PATCH", "/v1/admin/accounts/{account_id}"),
}


def _routes() -> Iterator[tuple[str, str, APIRoute]]:
    for module in ROUTE_MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods):
                    yield method, route.path, route


def _required_scopes(route: APIRoute) -> set[str]:
    found: set[str] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("require_"):
            found.add(Scope[name.removeprefix("require_").upper()].value)
        pending.extend(dependency.dependencies)
    return found


@dataclass(frozen=True)
class World:
    """Account A's objects, by the path parameter naming them, and the keys of A and B."""

    ids: dict[str, str]
    owner: Tenant
    stranger: Tenant


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A webhook endpoint on loopback is allowed (nothing is delivered to it here)."""
    return settings_for(database_url, allow_private_webhooks=True)


async def _made(client: httpx.AsyncClient, secret: str, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body, headers=auth(secret))
    assert response.status_code in (201, 202), response.text
    made: str = response.json()["id"]
    return made


async def _media_of(app: FastAPI, owner: Tenant, message_id: str) -> str:
    item = StoredMedia(
        id=new_id("med"),
        account_id=owner.account_id,
        mode=KeyMode.TEST,
        message_id=message_id,
        connection_id="sandbox",
        reference="file-1",
        status=MediaStatus.PENDING,
        mime_type=None,
        size=None,
        sha256=None,
        filename=None,
        path=None,
        error_code=None,
        error_message=None,
        created_at=utcnow(),
        stored_at=None,
    )
    async with gateway(app).database.write() as conn:
        await media_store.insert_media(conn, item)
    return item.id


@pytest.fixture
async def world(client: httpx.AsyncClient, app: FastAPI) -> World:
    """One of every object in account A (test mode where objects have a mode)."""
    owner, stranger = await make_tenant(app), await make_tenant(app)
    key_id, _ = await make_key(app, owner.account_id, KeyMode.TEST)
    sms = {"type": "text", "text": "hi"}
    message = await _made(
        client, owner.test, "/v1/messages", {"channel": "sms", "to": "+14155550123", "content": sms}
    )
    inbound = await client.post(
        "/v1/sandbox/inbound",
        json={"channel": "sms", "from": "+14155550124", "content": sms},
        headers=auth(owner.test),
    )
    assert inbound.status_code == 201, inbound.text
    threads = await client.get("/v1/conversations", headers=auth(owner.test))
    channel = await _made(client, owner.live, "/v1/channels", whatsapp())
    session = await _made(client, owner.live, "/v1/sessions", {"name": "front desk"})
    endpoint = await _made(client, owner.test, "/v1/webhooks", {"url": "http://127.0.0.1:9/hook"})
    pinged = await client.post(f"/v1/webhooks/{endpoint}/test", headers=auth(owner.test))
    assert pinged.status_code in (200, 202), pinged.text
    deliveries = await client.get(f"/v1/webhooks/{endpoint}/deliveries", headers=auth(owner.test))
    template = await _made(
        client,
        owner.test,
        "/v1/templates",
        {"name": "hello", "language": "en", "variables": [], "body": "Hello"},
    )
    contact = await _made(client, owner.test, "/v1/contacts", {"name": "Ada"})
    distribution = await _made(
        client,
        owner.test,
        "/v1/messages/distribute",
        {"content": sms, "recipients": [{"channel": "sms", "to": "+14155550125"}]},
    )
    return World(
        ids={
            "message_id": message,
            "key_id": key_id,
            "channel_id": channel,
            "session_id": session,
            "endpoint_id": endpoint,
            "delivery_id": deliveries.json()["data"][0]["id"],
            "template_id": template,
            "contact_id": contact,
            "conversation_id": threads.json()["data"][0]["id"],
            "distribution_id": distribution,
            "media_id": await _media_of(app, owner, message),
        },
        owner=owner,
        stranger=stranger,
    )


# A valid body for each route that takes one, so that only the id can be at fault.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/channels/{channel_id}"): {"name": "taken over"},
    ("PATCH", "/v1/sessions/{session_id}"): {"name": "taken over"},
    ("PATCH", "/v1/contacts/{contact_id}"): {"name": "taken over"},
    ("PATCH", "/v1/templates/{template_id}"): {"body": "taken over"},
    ("POST", "/v1/templates/{template_id}/preview"): {"channel": "sms", "variables": {}},
    ("PATCH", "/v1/webhooks/{endpoint_id}"): {"description": "taken over"},
    ("POST", "/v1/webhooks/{endpoint_id}/replay"): {"since": "2020-01-01T00:00:00Z"},
}
# Where the owner reads each object back, to see that it is untouched.
READ_BACK = {
    "message_id": "/v1/messages/{message_id}",
    "channel_id": "/v1/channels/{channel_id}",
    "session_id": "/v1/sessions/{session_id}",
    "endpoint_id": "/v1/webhooks/{endpoint_id}",
    "template_id": "/v1/templates/{template_id}",
    "contact_id": "/v1/contacts/{contact_id}",
    "conversation_id": "/v1/conversations/{conversation_id}",
    "distribution_id": "/v1/distributions/{distribution_id}",
}
_PARAM = re.compile(r"\{(\w+)\}")


def _with_ids(path: str, ids: dict[str, str]) -> str:
    return _PARAM.sub(lambda match: ids[match.group(1)], path)


def _id_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path, _ in _routes()
        if _PARAM.search(path) and (method, path) not in PUBLIC | OPERATOR
    )


async def test_another_accounts_ids_are_never_found(
    client: httpx.AsyncClient, world: World
) -> None:
    routes = _id_routes()
    assert len(routes) >= 25  # every route that takes an id, found from the app itself
    for method, path in routes:
        url = _with_ids(path, world.ids)
        for secret in (world.stranger.test, world.stranger.live):
            response = await client.request(
                method, url, json=BODIES.get((method, path)), headers=auth(secret)
            )
            assert_envelope(response, 404, "not_found", response.json()["error"]["field"])
            # Nothing of A's comes back but the id that B itself sent.
            for value in world.ids.values():
                assert value in url or value not in response.text, (method, path)
    # The owner's objects are as they were (B's PATCH and DELETE changed nothing).
    owner = world.owner
    for name, path in READ_BACK.items():
        secret = owner.live if name in ("channel_id", "session_id") else owner.test
        found = await client.get(_with_ids(path, world.ids), headers=auth(secret))
        assert found.status_code == 200, (name, found.text)
        assert "taken over" not in found.text
    keys = await client.get("/v1/keys", headers=auth(owner.test))
    mine = next(k for k in keys.json()["data"] if k["id"] == world.ids["key_id"])
    assert mine["revoked_at"] is None


async def test_the_other_modes_ids_are_not_found_either(
    client: httpx.AsyncClient, world: World
) -> None:
    # Messages, contacts, threads, distributions, media and webhooks belong to a mode.
    for name in ("message_id", "contact_id", "conversation_id", "distribution_id", "endpoint_id"):
        found = await client.get(
            _with_ids(READ_BACK[name], world.ids), headers=auth(world.owner.live)
        )
        assert found.status_code == 404, (name, found.text)


# Every authenticated route and the one scope it needs.
SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/v1/account"): "account:read",
    ("GET", "/v1/account/ledger"): "account:read",
    ("POST", "/v1/admin/accounts/{account_id}/credit"): "admin",
    ("PATCH", "/v1/admin/accounts/{account_id}"): "admin",
    ("GET", "/v1/audit"): "audit:read",
    ("POST", "/v1/channels"): "channels:manage",
    ("GET", "/v1/channels"): "channels:manage",
    ("GET", "/v1/channels/{channel_id}"): "channels:manage",
    ("PATCH", "/v1/channels/{channel_id}"): "channels:manage",
    ("DELETE", "/v1/channels/{channel_id}"): "channels:manage",
    ("POST", "/v1/sessions"): "channels:manage",
    ("GET", "/v1/sessions"): "channels:manage",
    ("GET", "/v1/sessions/{session_id}"): "channels:manage",
    ("PATCH", "/v1/sessions/{session_id}"): "channels:manage",
    ("DELETE", "/v1/sessions/{session_id}"): "channels:manage",
    ("GET", "/v1/sessions/{session_id}/stream"): "channels:manage",
    ("GET", "/v1/sessions/{session_id}/qr.png"): "channels:manage",
    ("POST", "/v1/sessions/{session_id}/start"): "channels:manage",
    ("POST", "/v1/sessions/{session_id}/stop"): "channels:manage",
    ("POST", "/v1/contacts"): "contacts:write",
    ("GET", "/v1/contacts"): "contacts:read",
    ("GET", "/v1/contacts/{contact_id}"): "contacts:read",
    ("PATCH", "/v1/contacts/{contact_id}"): "contacts:write",
    ("DELETE", "/v1/contacts/{contact_id}"): "contacts:write",
    ("GET", "/v1/conversations"): "messages:read",
    ("GET", "/v1/conversations/{conversation_id}"): "messages:read",
    ("GET", "/v1/conversations/{conversation_id}/messages"): "messages:read",
    ("POST", "/v1/conversations/{conversation_id}/read"): "messages:read",
    ("POST", "/v1/messages/distribute"): "messages:send",
    ("GET", "/v1/distributions/{distribution_id}"): "messages:read",
    ("GET", "/v1/events"): "messages:read",
    ("GET", "/v1/events/stream"): "messages:read",
    ("POST", "/v1/keys"): "keys:manage",
    ("GET", "/v1/keys"): "keys:manage",
    ("DELETE", "/v1/keys/{key_id}"): "keys:manage",
    ("GET", "/v1/media/{media_id}"): "messages:read",
    ("POST", "/v1/messages"): "messages:send",
    ("POST", "/v1/messages/batch"): "messages:send",
    ("GET", "/v1/messages/{message_id}"): "messages:read",
    ("DELETE", "/v1/messages/{message_id}"): "messages:send",
    ("GET", "/v1/messages"): "messages:read",
    ("POST", "/v1/sandbox/inbound"): "messages:send",
    ("POST", "/v1/templates"): "templates:manage",
    ("GET", "/v1/templates"): "templates:manage",
    ("GET", "/v1/templates/{template_id}"): "templates:manage",
    ("PATCH", "/v1/templates/{template_id}"): "templates:manage",
    ("DELETE", "/v1/templates/{template_id}"): "templates:manage",
    ("POST", "/v1/templates/{template_id}/preview"): "templates:manage",
    ("POST", "/v1/webhooks"): "webhooks:manage",
    ("GET", "/v1/webhooks"): "webhooks:manage",
    ("GET", "/v1/webhooks/{endpoint_id}"): "webhooks:manage",
    ("PATCH", "/v1/webhooks/{endpoint_id}"): "webhooks:manage",
    ("DELETE", "/v1/webhooks/{endpoint_id}"): "webhooks:manage",
    ("POST", "/v1/webhooks/{endpoint_id}/rotate-secret"): "webhooks:manage",
    ("POST", "/v1/webhooks/{endpoint_id}/test"): "webhooks:manage",
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): "webhooks:manage",
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): "webhooks:manage",
    ("POST", "/v1/webhooks/{endpoint_id}/replay"): "webhooks:manage",
}
# Routes open without a key: health, the capability matrix, and the PUBLIC ones above.
UNAUTHENTICATED = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v1/channels/capabilities"),
    *PUBLIC,
}
# Ids of the right shape for each path parameter: the scope is checked before any lookup.
SHAPED_IDS = {
    "account_id": "acc",
    "channel_id": "ch",
    "contact_id": "ct",
    "conversation_id": "cnv",
    "delivery_id": "dlv",
    "distribution_id": "dst",
    "endpoint_id": "we",
    "key_id": "key",
    "media_id": "med",
    "message_id": "msg",
    "session_id": "ses",
    "template_id": "tpl",
}


def test_the_tables_cover_every_route() -> None:
    routes = {(method, path): route for method, path, route in _routes()}
    assert set(SCOPES) | UNAUTHENTICATED == set(routes)
    for where, route in routes.items():
        wanted = {SCOPES[where]} if where in SCOPES else set()
        assert _required_scopes(route) == wanted, where
    covered = set(_id_routes()) | PUBLIC | OPERATOR
    assert covered == {(m, p) for m, p in routes if _PARAM.search(p)}


async def test_every_route_refuses_a_key_without_its_scope(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    ids = {name: new_id(prefix) for name, prefix in SHAPED_IDS.items()}
    every_scope = {scope.value for scope in Scope if scope is not Scope.ALL}
    lacking: dict[str, str] = {}
    for scope in set(SCOPES.values()):
        _, lacking[scope] = await make_key(
            app, tenant.account_id, KeyMode.TEST, scopes=frozenset(every_scope - {scope})
        )
    for (method, path), scope in sorted(SCOPES.items()):
        response = await client.request(method, _with_ids(path, ids), headers=auth(lacking[scope]))
        assert_envelope(response, 403, "insufficient_scope", None)
        assert scope in response.json()["error"]["message"], (method, path)
