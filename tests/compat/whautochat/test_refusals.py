"""Every refusal is a ``MessageResponse`` (``id: null``, ``status: "failed"``, the error
naming the field), and each status WhautoChat answers is reached on purpose: 400, 401, 403,
404 and 429."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.messagehub.conftest import user_writes
from tests.compat.whautochat.conftest import BASE, contact_on, refused, wac_key, wac_post
from tests.support import Tenant, make_key

__all__ = ["wac_key"]  # the module's fixtures

PHONE = "+14155550123"
# Of Chatgate's shape: the body's other faults are found before the contact is looked up.
CONTACT = "ct_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"


def _text(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {"workspace": {"id": tenant.account_id}, "textMessage": "hello", **fields}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "contact"),
        ({"contact": {"id": CONTACT}, "recepient": {"phoneNumber": PHONE}}, "recepient"),
        ({"contact": {"id": CONTACT}, "recipient": {"phoneNumber": PHONE}}, "recipient"),
        (
            {"recepient": {"phoneNumber": PHONE}, "recipient": {"phoneNumber": PHONE}},
            "recipient",
        ),
    ],
)
async def test_both_or_neither_contact_and_recepient_is_400(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str, fields: dict[str, Any], field: str
) -> None:
    for route in ("whatsapp/sendtext", "whatsapp/sendmedia", "whatsapp/sendtemplate"):
        body = {
            **_text(tenant, **fields),
            "mediaUrl": "https://x.example/a",
            "mimeType": "image/png",
        }
        body = {**body, "template": "t"}
        # Each route refuses its own fields' absence after the recipient's: only the
        # recipient is at fault here, so keep the fields the route takes.
        answer = await wac_post(client, wac_key, route, _only_route_fields(route, body))
        error = refused(answer, 400, field)
        assert ("either contact" in error) if field == "contact" else ("not both" in error)


def _only_route_fields(route: str, body: dict[str, Any]) -> dict[str, Any]:
    own = {
        "sendtext": {"textMessage"},
        "sendmedia": {"mediaUrl", "mimeType"},
        "sendtemplate": {"template"},
    }[route.rsplit("/", 1)[1]]
    payload = {"textMessage", "mediaUrl", "mimeType", "template"}
    return {name: value for name, value in body.items() if name not in payload or name in own}


async def test_recepient_is_whatsapp_only(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    answer = await wac_post(
        client, wac_key, "messenger/sendtext", _text(tenant, recepient={"phoneNumber": PHONE})
    )
    assert "WhatsApp only" in refused(answer, 400, "recepient")
    neither = await wac_post(client, wac_key, "instagram/sendtext", _text(tenant))
    refused(neither, 400, "contact")


async def test_a_contact_without_an_identity_on_the_channel_is_400_and_an_unknown_one_404(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    telegram_only = await contact_on(client, tenant.test, [{"channel": "telegram", "id": "7001"}])
    answer = await wac_post(
        client, wac_key, "messenger/sendtext", _text(tenant, contact={"id": telegram_only})
    )
    assert "no messenger identity" in refused(answer, 400, "contact.id")
    missing = await wac_post(
        client, wac_key, "messenger/sendtext", _text(tenant, contact={"id": CONTACT})
    )
    refused(missing, 404, "contact.id")
    not_ours = await wac_post(
        client, wac_key, "messenger/sendtext", _text(tenant, contact={"id": "6512bd43d9caa6e0"})
    )
    refused(not_ours, 404, "contact.id")


async def test_another_workspace_is_403_and_none_400(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    body = {**_text(tenant, recepient={"phoneNumber": PHONE}), "workspace": {"id": "acc_other"}}
    answer = await wac_post(client, wac_key, "whatsapp/sendtext", body)
    assert "GET /v1/account" in refused(answer, 403, "workspace.id")
    del body["workspace"]
    refused(await wac_post(client, wac_key, "whatsapp/sendtext", body), 400, "workspace")


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "x-api-key: wac_live_"),
        ({"x-api-key": "wac_live_not-a-key"}, "not valid"),
        ({"Authorization": "Bearer wac_live_not-a-key"}, "x-api-key"),
    ],
)
async def test_a_missing_or_unknown_key_is_401(
    client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], needle: str
) -> None:
    answer = await client.post(f"{BASE}/whatsapp/sendtext", json=_text(tenant), headers=headers)
    assert needle in refused(answer, 401, "x-api-key")


async def test_a_native_key_is_401_and_a_key_without_send_scope_403(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    native = await client.post(
        f"{BASE}/whatsapp/sendtext", json=_text(tenant), headers={"x-api-key": tenant.test}
    )
    assert "whautochat" in refused(native, 401, "x-api-key")
    _, reader = await make_key(
        app,
        tenant.account_id,
        KeyMode.TEST,
        dialect=Dialect.WHAUTOCHAT,
        scopes=frozenset({"messages:read"}),
    )
    answer = await wac_post(
        client, reader, "whatsapp/sendtext", _text(tenant, recepient={"phoneNumber": PHONE})
    )
    assert answer.status_code == 403, answer.text
    assert answer.json() == {"id": None, "status": "failed", "error": answer.json()["error"]}
    assert "messages:send" in answer.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "instagram/sendmedia"),
        ("POST", "telegram/sendtext"),
        ("POST", "telegram/sendmedia"),
        ("POST", "sms/sendtext"),
        ("GET", "whatsapp/sendtext"),
    ],
)
async def test_a_route_the_page_does_not_list_is_404(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str, method: str, path: str
) -> None:
    answer = await client.request(
        method, f"{BASE}/{path}", json=_text(tenant), headers={"x-api-key": wac_key}
    )
    assert answer.status_code == 404, answer.text
    assert answer.json()["id"] is None
    assert answer.json()["status"] == "failed"


async def test_past_the_rate_limit_is_429_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, slow = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.WHAUTOCHAT, rate_limit=1
    )
    body = _text(tenant, recepient={"phoneNumber": PHONE})
    await user_writes(client, tenant, "whatsapp", PHONE)
    first = await wac_post(client, slow, "whatsapp/sendtext", body)
    assert first.status_code == 200, first.text
    second = await wac_post(client, slow, "whatsapp/sendtext", body)
    assert "rate limit" in refused(second, 429, None)
    assert int(second.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("route", "fields", "field", "needle"),
    [
        # A rule of the channel: WhatsApp free text outside the 24-hour window.
        (
            "whatsapp/sendtext",
            {"recepient": {"phoneNumber": "+14155550999"}},
            "textMessage",
            "24 hours",
        ),
        # A type WhatsApp cannot carry.
        (
            "whatsapp/sendmedia",
            {
                "recepient": {"phoneNumber": PHONE},
                "mediaUrl": "https://x.example/a.zip",
                "mimeType": "application/zip",
            },
            "mimeType",
            "WhatsApp cannot carry application/zip",
        ),
        # Not a time.
        (
            "whatsapp/sendtext",
            {"recepient": {"phoneNumber": PHONE}, "scheduleDateTime": "string"},
            "scheduleDateTime",
            "ISO 8601",
        ),
        # A misspelt field.
        (
            "whatsapp/sendtext",
            {"recepient": {"phoneNumber": PHONE}, "scheduleDatetime": "2030-01-01T00:00:00"},
            "scheduleDatetime",
            "not a known field",
        ),
        ("whatsapp/sendtext", {"recepient": {"phoneNumber": "+1415"}}, "recepient.phoneNumber", ""),
        # Telegram buttons: named as the request placed them.
        (
            "telegram/sendtemplate",
            {
                "contact": {"id": CONTACT},
                "buttons": [[{"text": "A", "callback_data": "a"}], [{"text": "B"}]],
            },
            "buttons.1.0.callback_data",
            "callback_data or url",
        ),
        (
            "telegram/sendtemplate",
            {"contact": {"id": CONTACT}, "buttons": [{"text": "Pay", "pay": True}]},
            "buttons.0.pay",
            "callback_data and url buttons only",
        ),
        (
            "messenger/sendtemplate",
            {
                "contact": {"id": CONTACT},
                "elements": [{"title": "A", "buttons": [{"type": "web_url", "title": "Go"}]}],
            },
            "elements.0.buttons.0.url",
            "needs url",
        ),
        (
            "messenger/sendtemplate",
            {
                "contact": {"id": CONTACT},
                "elements": [
                    {"title": "A", "buttons": [{"type": "web_url", "title": "Go", "url": "x:y"}]}
                ],
            },
            "elements.0.buttons.0.url",
            "",
        ),
        (
            "messenger/sendtemplate",
            {
                "contact": {"id": CONTACT},
                "elements": [{"title": "A", "image_url": "ftp://x/y.png"}],
            },
            "elements.0.image_url",
            "",
        ),
    ],
)
async def test_bad_input_and_rule_refusals_are_400_naming_the_field(
    client: httpx.AsyncClient,
    tenant: Tenant,
    wac_key: str,
    route: str,
    fields: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    await user_writes(client, tenant, "whatsapp", PHONE)
    body = {**_text(tenant), **fields}
    if route.endswith("sendmedia"):
        del body["textMessage"]
    if route.startswith("messenger"):
        del body["textMessage"]
    answer = await wac_post(client, wac_key, route, body)
    assert needle in refused(answer, 400, field)
