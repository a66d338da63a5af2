"""``/v1/contacts``: made, read, listed, changed and removed; scoped by account and mode."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import audit_log, contact_identities
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, make_tenant

ADA_PHONE = "+14155550123"
TG_CHAT = "123456789"
LINE_USER = "U" + "0123456789abcdef" * 2


async def _create(client: httpx.AsyncClient, secret: str, **body: Any) -> httpx.Response:
    return await client.post("/v1/contacts", json=body, headers=auth(secret))


async def _created(client: httpx.AsyncClient, secret: str, **body: Any) -> dict[str, Any]:
    response = await _create(client, secret, **body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_normalises_and_reads_back(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _created(
        client,
        tenant.live,
        name="Ada Lovelace",
        phone="+1 (415) 555-0123",
        email="ada@Example.COM",
        attributes={"plan": "gold", "orders": 3, "vip": True, "score": 4.5},
        preferred_channels=["telegram", "whatsapp"],
        identities=[
            {"channel": "whatsapp", "id": "+1 415 555 0123"},
            {"channel": "telegram", "id": TG_CHAT},
        ],
    )
    assert created["id"].startswith("ct_")
    assert created["object"] == "contact"
    assert created["phone"] == ADA_PHONE
    assert created["email"] == "ada@example.com"
    assert created["attributes"] == {"plan": "gold", "orders": 3, "vip": True, "score": 4.5}
    assert created["preferred_channels"] == ["telegram", "whatsapp"]
    assert {(i["channel"], i["id"]) for i in created["identities"]} == {
        ("whatsapp", ADA_PHONE),
        ("telegram", TG_CHAT),
    }
    got = await client.get(f"/v1/contacts/{created['id']}", headers=auth(tenant.live))
    assert got.status_code == 200
    assert got.json() == created


async def test_create_is_audited_without_personal_data(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await _created(client, tenant.live, name="Ada", phone=ADA_PHONE)
    async with gateway(app).database.read() as conn:
        rows = (
            await conn.execute(select(audit_log).where(audit_log.c.target == created["id"]))
        ).all()
    assert [row.action for row in rows] == ["contact.created"]
    assert ADA_PHONE not in str(rows[0].detail)


async def test_idempotent_create_makes_one_contact(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = {**auth(tenant.live), "Idempotency-Key": "ct-1"}
    first = await client.post("/v1/contacts", json={"name": "Ada"}, headers=headers)
    again = await client.post("/v1/contacts", json={"name": "Ada"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = (await client.get("/v1/contacts", headers=auth(tenant.live))).json()
    assert [c["id"] for c in listed["data"]] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "ada@localhost"}, "email"),
        ({"phone": "4155550123"}, "phone"),
        ({"identities": [{"channel": "telegram", "id": "not a chat"}]}, "identities.0.id"),
        ({"identities": [{"channel": "pigeon", "id": "1"}]}, "identities.0.channel"),
        ({"preferred_channels": ["whatsapp", "fax"]}, "preferred_channels.1"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({"attributes": {"list": [1]}}, "attributes.list"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await _create(client, tenant.live, **body)
    assert_envelope(response, 422, "invalid_request", field)
    listed = (await client.get("/v1/contacts", headers=auth(tenant.live))).json()
    assert listed["data"] == []


async def test_an_identity_listed_twice_is_duplicate_identity(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # The same number written two ways: distinct as text (uniqueItems holds), one once
    # normalised, which no schema can tell.
    identities = [
        {"channel": "whatsapp", "id": "+44 7911 123456"},
        {"channel": "whatsapp", "id": "+447911123456"},
    ]
    response = await _create(client, tenant.live, identities=identities)
    assert_envelope(response, 422, "duplicate_identity", "identities.1.id")
    listed = (await client.get("/v1/contacts", headers=auth(tenant.live))).json()
    assert listed["data"] == []


async def test_an_identity_belongs_to_one_contact(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await _created(
        client, tenant.live, identities=[{"channel": "whatsapp", "id": ADA_PHONE}]
    )
    second = await _create(
        client,
        tenant.live,
        name="Impostor",
        identities=[
            {"channel": "telegram", "id": TG_CHAT},
            {"channel": "whatsapp", "id": "+1 415-555-0123"},
        ],
    )
    assert_envelope(second, 409, "identity_taken", "identities.1.id")
    assert second.json()["error"]["details"] == {"channel": "whatsapp", "contact_id": first["id"]}
    # Nothing of the refused contact was written: its free identity is still free.
    third = await _create(client, tenant.live, identities=[{"channel": "telegram", "id": TG_CHAT}])
    assert third.status_code == 201, third.text
    # The same identity in the other mode is another person's business.
    other_mode = await _create(
        client, tenant.test, identities=[{"channel": "whatsapp", "id": ADA_PHONE}]
    )
    assert other_mode.status_code == 201, other_mode.text


async def test_patch_changes_only_what_it_names(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _created(
        client,
        tenant.live,
        name="Ada",
        phone=ADA_PHONE,
        email="ada@example.com",
        attributes={"plan": "gold"},
        identities=[{"channel": "telegram", "id": TG_CHAT}],
    )
    path = f"/v1/contacts/{created['id']}"
    changed = await client.patch(
        path,
        json={"name": "Ada King", "email": None, "preferred_channels": ["sms"]},
        headers=auth(tenant.live),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["phone"], body["email"]) == ("Ada King", ADA_PHONE, None)
    assert body["attributes"] == {"plan": "gold"}
    assert body["preferred_channels"] == ["sms"]
    assert body["identities"] == [{"channel": "telegram", "id": TG_CHAT}]
    assert body["updated_at"] >= created["updated_at"]
    assert (await client.get(path, headers=auth(tenant.live))).json() == body


async def test_patch_replaces_the_identities(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await _created(
        client,
        tenant.live,
        identities=[{"channel": "telegram", "id": TG_CHAT}, {"channel": "line", "id": LINE_USER}],
    )
    path = f"/v1/contacts/{created['id']}"
    changed = await client.patch(
        path,
        json={
            "identities": [
                {"channel": "line", "id": LINE_USER},
                {"channel": "sms", "id": ADA_PHONE},
            ]
        },
        headers=auth(tenant.live),
    )
    assert changed.status_code == 200, changed.text
    assert {(i["channel"], i["id"]) for i in changed.json()["identities"]} == {
        ("line", LINE_USER),
        ("sms", ADA_PHONE),
    }
    # The dropped identity is free for another contact now.
    other = await _create(client, tenant.live, identities=[{"channel": "telegram", "id": TG_CHAT}])
    assert other.status_code == 201, other.text
    # ... and taking one that is held is refused, changing nothing.
    refused = await client.patch(
        path,
        json={"name": "x", "identities": [{"channel": "telegram", "id": TG_CHAT}]},
        headers=auth(tenant.live),
    )
    assert_envelope(refused, 409, "identity_taken", "identities.0.id")
    after = (await client.get(path, headers=auth(tenant.live))).json()
    assert after == changed.json()
    async with gateway(app).database.read() as conn:
        held = (
            await conn.execute(
                select(contact_identities.c.channel).where(
                    contact_identities.c.contact_id == created["id"]
                )
            )
        ).scalars()
        assert sorted(held) == ["line", "sms"]


async def test_delete_frees_the_identities(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await _created(
        client, tenant.live, identities=[{"channel": "telegram", "id": TG_CHAT}]
    )
    path = f"/v1/contacts/{created['id']}"
    deleted = await client.delete(path, headers=auth(tenant.live))
    assert deleted.status_code == 204
    assert_envelope(await client.get(path, headers=auth(tenant.live)), 404, "not_found", "id")
    assert_envelope(await client.delete(path, headers=auth(tenant.live)), 404, "not_found", "id")
    again = await _create(client, tenant.live, identities=[{"channel": "telegram", "id": TG_CHAT}])
    assert again.status_code == 201, again.text


async def test_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ada = await _created(
        client,
        tenant.live,
        name="Ada Lovelace",
        phone=ADA_PHONE,
        email="Ada@example.com",
        identities=[{"channel": "telegram", "id": TG_CHAT}],
    )
    alan = await _created(
        client,
        tenant.live,
        name="alan Turing",
        phone="+447911123456",
        identities=[{"channel": "whatsapp", "id": "+447911123456"}],
    )
    await _created(client, tenant.live, name="Grace_Hopper", email="grace@example.com")

    async def names(**params: str) -> list[str]:
        response = await client.get("/v1/contacts", params=params, headers=auth(tenant.live))
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["data"]]

    assert await names(phone="+1 415 555 0123") == ["Ada Lovelace"]
    assert await names(email="ada@EXAMPLE.com") == ["Ada Lovelace"]
    assert await names(channel="telegram", identity=TG_CHAT) == ["Ada Lovelace"]
    assert await names(channel="whatsapp", identity="+44 7911 123456") == ["alan Turing"]
    assert await names(channel="whatsapp") == ["alan Turing"]
    assert await names(q="a") == ["alan Turing", "Ada Lovelace"]
    assert await names(q="AL") == ["alan Turing"]
    # "_" is a character to match, not a wildcard.
    assert await names(q="Grace_") == ["Grace_Hopper"]
    assert await names(q="Grac_") == []
    assert await names(channel="telegram", identity="987654321") == []
    assert {ada["id"], alan["id"]} <= {
        c["id"]
        for c in (await client.get("/v1/contacts", headers=auth(tenant.live))).json()["data"]
    }
    response = await client.get(
        "/v1/contacts", params={"identity": TG_CHAT}, headers=auth(tenant.live)
    )
    # OpenAPI parameters cannot require each other: a code of its own.
    assert_envelope(response, 422, "channel_required", "channel")
    # An address, but of another channel's shape than the channel named beside it.
    response = await client.get(
        "/v1/contacts",
        params={"channel": "telegram", "identity": LINE_USER},
        headers=auth(tenant.live),
    )
    assert_envelope(response, 422, "invalid_address", "identity")
    response = await client.get(
        "/v1/contacts", params={"phone": "12345"}, headers=auth(tenant.live)
    )
    assert_envelope(response, 422, "invalid_request", "phone")


async def test_pagination_newest_first(client: httpx.AsyncClient, tenant: Tenant) -> None:
    made = [(await _created(client, tenant.live, name=f"c{n}"))["id"] for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/contacts", params=params, headers=auth(tenant.live))).json()
        seen += [c["id"] for c in page["data"]]
        assert len(page["data"]) <= 2
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == sorted(made, reverse=True)


async def test_another_accounts_or_modes_contact_is_404(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await _created(client, tenant.live, name="Ada")
    path = f"/v1/contacts/{created['id']}"
    other = await make_tenant(app)
    for secret in (other.live, tenant.test):
        assert_envelope(await client.get(path, headers=auth(secret)), 404, "not_found", "id")
        patched = await client.patch(path, json={"name": "x"}, headers=auth(secret))
        assert_envelope(patched, 404, "not_found", "id")
        deleted = await client.delete(path, headers=auth(secret))
        assert_envelope(deleted, 404, "not_found", "id")
        listed = (await client.get("/v1/contacts", headers=auth(secret))).json()
        assert listed["data"] == []
    assert (await client.get(path, headers=auth(tenant.live))).json()["name"] == "Ada"


async def test_read_and_write_scopes(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    created = await _created(client, tenant.live, name="Ada")
    path = f"/v1/contacts/{created['id']}"
    _, reader = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"contacts:read"})
    )
    _, writer = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"contacts:write"})
    )
    _, neither = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:read"})
    )
    assert (await client.get(path, headers=auth(reader))).status_code == 200
    assert (await client.get("/v1/contacts", headers=auth(reader))).status_code == 200
    for refused in (
        await _create(client, reader, name="x"),
        await client.patch(path, json={"name": "x"}, headers=auth(reader)),
        await client.delete(path, headers=auth(reader)),
        await client.get(path, headers=auth(writer)),
        await client.get("/v1/contacts", headers=auth(neither)),
    ):
        assert_envelope(refused, 403, "insufficient_scope", None)
    made = await _create(client, writer, name="by writer")
    assert made.status_code == 201, made.text
    assert (await client.patch(path, json={"name": "y"}, headers=auth(writer))).status_code == 200
    assert (await client.delete(path, headers=auth(writer))).status_code == 204


async def test_malformed_ids_are_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/contacts/ct_nope", headers=auth(tenant.live))
    assert_envelope(response, 422, "invalid_request", "contact_id")
    response = await client.get(
        "/v1/contacts", params={"cursor": "msg_01"}, headers=auth(tenant.live)
    )
    assert_envelope(response, 422, "invalid_request", "cursor")
