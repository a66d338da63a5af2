"""The OpenAPI document states what the validation enforces, and bodies are not coerced.

Each refusal here is one that schemathesis found for data the document used to allow: an
empty channel type, an ``sms`` identity that is not E.164, an empty webhook URL, ``0`` for a
boolean. Each is now a 422 naming its field, and the document carries the constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_channels import whatsapp
from tests.api.test_templates import create
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth

TEXT = {"type": "text", "text": "hi"}


def _schema(app: FastAPI, name: str) -> dict[str, Any]:
    found: dict[str, Any] = app.openapi()["components"]["schemas"][name]
    return found


async def test_an_empty_channel_type_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/channels", json={**whatsapp(), "type": ""}, headers=auth(tenant.live)
    )
    assert_envelope(response, 422, "unknown_channel", "type")


async def test_an_sms_identity_that_is_not_e164_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"identities": [{"channel": "sms", "id": "4155550123"}]}
    response = await client.post("/v1/contacts", json=body, headers=auth(tenant.live))
    assert_envelope(response, 422, "invalid_request", "identities.0.id")
    # Written the way people write numbers, it is taken and normalised.
    body = {"identities": [{"channel": "sms", "id": "+1 (415) 555-0123"}]}
    response = await client.post("/v1/contacts", json=body, headers=auth(tenant.live))
    assert response.status_code == 201, response.text
    assert response.json()["identities"] == [{"channel": "sms", "id": "+14155550123"}]


async def test_an_unassigned_number_of_the_right_shape_has_its_own_code(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"identities": [{"channel": "sms", "id": "+999123456789"}]}
    response = await client.post("/v1/contacts", json=body, headers=auth(tenant.live))
    assert_envelope(response, 422, "invalid_address", "identities.0.id")
    response = await client.post(
        "/v1/contacts", json={"phone": "+1415555"}, headers=auth(tenant.live)
    )
    assert_envelope(response, 422, "invalid_address", "phone")
    send = {"channel": "sms", "to": "+999123456789", "content": TEXT}
    response = await client.post("/v1/messages", json=send, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_address", "to")


async def test_an_address_of_another_channel_has_the_address_code(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    send = {"channel": "telegram", "to": "+14155550123", "content": TEXT}
    response = await client.post("/v1/messages", json=send, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_address", "to")
    # No channel's shape at all: the document already says so.
    send = {"channel": "telegram", "to": "two words", "content": TEXT}
    response = await client.post("/v1/messages", json=send, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "to")


@pytest.mark.parametrize("url", ["", "example.com/hook", "ftp://example.com/hook"])
async def test_a_webhook_url_that_is_empty_or_not_http_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, url: str
) -> None:
    response = await client.post("/v1/webhooks", json={"url": url}, headers=auth(tenant.live))
    assert_envelope(response, 422, "invalid_request", "url")


async def test_a_boolean_given_as_a_number_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    template_id = (await create(client, tenant.live))["id"]
    change = {"variables": [{"name": "customer", "required": 0}]}
    response = await client.patch(
        f"/v1/templates/{template_id}", json=change, headers=auth(tenant.live)
    )
    assert_envelope(response, 422, "invalid_request", "variables.0.required")
    send = {"channel": "sms", "to": "+14155550123", "content": TEXT, "degrade": "true"}
    response = await client.post("/v1/messages", json=send, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "degrade")


async def test_an_integer_may_be_written_with_a_zero_fraction_but_not_as_a_string(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    taken = await client.post("/v1/keys", json={"rate_limit": 160.0}, headers=auth(tenant.live))
    assert taken.status_code == 201, taken.text
    assert taken.json()["rate_limit"] == 160
    refused = await client.post("/v1/keys", json={"rate_limit": "160"}, headers=auth(tenant.live))
    assert_envelope(refused, 422, "invalid_request", "rate_limit")


async def test_an_ip_range_that_does_not_parse_has_its_own_code(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"ip_allowlist": ["203.0.113.0/24", "999.1.1.1"]}
    response = await client.post("/v1/keys", json=body, headers=auth(tenant.live))
    assert_envelope(response, 422, "invalid_ip_range", "ip_allowlist.1")


async def test_a_send_with_datetimes_and_enums_as_json_strings_is_still_taken(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    send = {
        "channel": "sms",
        "to": "+14155550123",
        "content": TEXT,
        "schedule_at": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fallback": [
            {"channel": "sms", "to": "+14155550124", "on": {"not": "delivered", "within": "10m"}}
        ],
        "degrade": True,
    }
    response = await client.post("/v1/messages", json=send, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    assert response.json()["schedule_at"] is not None


def test_the_document_states_the_constraints(app: FastAPI) -> None:
    channel = _schema(app, "CreateChannelRequest")["properties"]["type"]
    assert "" not in channel["enum"]
    assert "sms" in channel["enum"]
    phone = _schema(app, "PhoneIdentity")
    assert "sms" in phone["properties"]["channel"]["enum"]
    assert phone["properties"]["id"]["pattern"].startswith(r"^\s*(?:\+[1-9]")
    url = _schema(app, "CreateWebhookRequest")["properties"]["url"]
    assert url["minLength"] == 1
    assert url["format"] == "uri"
    assert url["pattern"].startswith("^[Hh][Tt][Tt][Pp][Ss]?://")
    required = _schema(app, "Variable")["properties"]["required"]
    assert required["type"] == "boolean"
    assert "type" in _schema(app, "TextContent")["required"]
    ranges = _schema(app, "CreateKeyRequest")["properties"]["ip_allowlist"]["items"]
    assert "pattern" in ranges


def test_the_document_states_which_fields_go_together(app: FastAPI) -> None:
    # A reply button needs an id, a link one a url, a call one a phone.
    targets = _schema(app, "Button")["anyOf"]
    assert {"required": ["type", "url"]}.items() <= targets[1].items()
    # A header is text or media, never both.
    assert len(_schema(app, "TemplateHeader")["oneOf"]) == 2
    # Each kind of interactive message has its own list, and only that one.
    kinds = [
        branch["properties"]["kind"]["const"] for branch in _schema(app, "Interactive")["anyOf"]
    ]
    assert kinds == [
        "buttons",
        "quick_replies",
        "list",
        "cards",
        "product",
        "product_list",
        "address",
    ]
    product_list = _schema(app, "Interactive")["anyOf"][5]
    assert set(product_list["required"]) >= {"catalog_id", "header", "body", "sections"}
    assert product_list["properties"]["sections"]["items"]["required"] == ["product_ids"]
    # A media kind is given, or told by the URL's extension.
    assert "pattern" in _schema(app, "Media")["allOf"][0]["anyOf"][1]["properties"]["url"]
    # Free text may not hold NUL, which cannot be stored.
    assert _schema(app, "TextContent")["properties"]["text"]["pattern"] == "^[^\\x00]*$"


def test_no_parameter_is_documented_as_null(app: FastAPI) -> None:
    # A header or query value is present or absent, never JSON null.
    for path in app.openapi()["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", ()):
                assert {"type": "null"} not in parameter["schema"].get("anyOf", []), parameter
