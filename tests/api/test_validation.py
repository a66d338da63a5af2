"""Bad input: a clear 4xx in the error envelope naming the field; nothing written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support import Tenant, auth, text_message


def assert_envelope(response: httpx.Response, status: int, code: str, field: str | None) -> None:
    """The response is the error envelope with this status, code and field."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]


async def count_messages(client: httpx.AsyncClient, secret: str) -> int:
    """How many messages the key's account has (up to 100)."""
    listed = await client.get("/v1/messages", params={"limit": 100}, headers=auth(secret))
    return len(listed.json()["data"])


@pytest.mark.parametrize(
    "body",
    [
        # WhatsApp takes business-scoped user ids too, SMS only phones. Each is the shape of
        # some channel's address (a TikTok conversation id), so the schema lets it through
        # and the channel's own rule refuses it.
        text_message(to="BR.1502576394655843"),
        {**text_message(), "channel": "whatsapp", "to": "br.1502576394655843"},
        {**text_message(), "channel": "whatsapp", "to": "BR."},
    ],
)
async def test_user_ids_are_whatsapps_addresses_only(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_address", "to")
    assert await count_messages(client, tenant.test) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**text_message(), "channel": "telegram", "to": "not a chat"}, "to"),
        ({**text_message(), "content": {"type": "hologram"}}, "content.type"),
        ({**text_message(), "content": {"text": "no type"}}, "content.type"),
        ({**text_message(), "content": {"type": "text"}}, "content.text"),
        ({**text_message(), "content": {"type": "text", "text": ""}}, "content.text"),
        ({**text_message(), "content": {"type": "text", "text": "x" * 4097}}, "content.text"),
        (
            {**text_message(), "content": {"type": "media", "media": {"url": "ftp://x/a.png"}}},
            "content.media.url",
        ),
        (
            {
                **text_message(),
                "content": {"type": "media", "media": {"url": "https://x.example/blob"}},
            },
            "content.media.kind",
        ),
        (
            {
                **text_message(),
                "content": {"type": "sticker", "sticker": {"package_id": "x1", "sticker_id": "2"}},
            },
            "content.sticker.package_id",
        ),
        (
            {**text_message(), "content": {"type": "sticker", "sticker": {"package_id": "446"}}},
            "content.sticker.sticker_id",
        ),
        (
            {
                **text_message(),
                "content": {"type": "sticker", "sticker": {"package_id": "1", "sticker_id": 2}},
            },
            "content.sticker.sticker_id",
        ),
        ({**text_message(), "channel": "carrier-pigeon"}, "channel"),
        ({"channel": "sms", "content": {"type": "text", "text": "hi"}}, "to"),
        ({**text_message(), "colour": "red"}, "colour"),
        (text_message(text="nul \x00 byte"), "content.text"),
        ({**text_message(), "metadata": {"k\x00": 1}}, "metadata"),
        ({**text_message(), "metadata": {"sandbox": {"fail": "explode"}}}, "metadata.sandbox.fail"),
    ],
)
async def test_bad_fields_are_named(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    # json.dumps escapes as \uXXXX, so that a lone surrogate can travel as JSON does.
    response = await client.post(
        "/v1/messages",
        content=json.dumps(body),
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert_envelope(response, 422, "invalid_request", field)
    assert await count_messages(client, tenant.test) == 0


async def test_storable_rules_no_schema_states_have_codes_of_their_own(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    deep: Any = "x"
    for _ in range(70):
        deep = [deep]
    # The field is the path to the value at fault: the text, or the list 64 levels down.
    too_deep = "metadata.deep" + ".0" * 62
    for body, code, field in (
        # json.dumps escapes as \uXXXX, so that a lone surrogate can travel as JSON does.
        (text_message(text="lone \ud800 surrogate"), "invalid_unicode", "content.text"),
        ({**text_message(), "metadata": {"deep": deep}}, "nested_too_deep", too_deep),
    ):
        response = await client.post(
            "/v1/messages",
            content=json.dumps(body),
            headers={**auth(tenant.test), "Content-Type": "application/json"},
        )
        assert_envelope(response, 422, code, field)
    assert await count_messages(client, tenant.test) == 0


async def test_metadata_over_its_size_is_metadata_too_large(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Bytes of the encoded JSON, which a schema cannot count: a code of its own.
    body = {**text_message(), "metadata": {"big": "x" * 20_000}}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert_envelope(response, 422, "metadata_too_large", "metadata")
    assert await count_messages(client, tenant.test) == 0


@pytest.mark.parametrize(
    "to",
    [
        "14155550123",  # a Telegram or Zalo id, but no E.164 number: no '+'
        "+1415",  # too short for a phone number (a TikTok id's shape)
        "+999123456789",  # E.164's shape, but no country has the code
    ],
)
async def test_an_address_the_channel_cannot_take_is_invalid_address(
    client: httpx.AsyncClient, tenant: Tenant, to: str
) -> None:
    # The schema states the shape of an address on any channel; which one applies depends
    # on `channel`, so these get the code of refusals the document cannot state.
    response = await client.post(
        "/v1/messages", json=text_message(to=to), headers=auth(tenant.test)
    )
    assert_envelope(response, 422, "invalid_address", "to")
    assert await count_messages(client, tenant.test) == 0


async def test_malformed_json_is_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/messages",
        content=b'{"channel": "sms", "to": ',
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "invalid_json", "body")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str | None
) -> None:
    headers = auth(tenant.test)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/v1/messages", content=b'{"channel": "sms"}', headers=headers)
    assert_envelope(response, 415, "unsupported_media_type", "Content-Type")


async def test_json_with_charset_is_fine(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/messages",
        content=httpx.Request("POST", "/", json=text_message()).content,
        headers={**auth(tenant.test), "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202


async def test_missing_body_is_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/messages", headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "body")


async def test_oversize_body_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    huge = b'{"pad": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/v1/messages",
        content=huge,
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "payload_too_large", "body")


async def _chunked(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``body`` sent in pieces of ``size`` bytes with no declared length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/batch", "/v1/contacts"])
async def test_oversize_body_without_a_length_is_413(
    client: httpx.AsyncClient, tenant: Tenant, path: str
) -> None:
    huge = b'{"pad": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    response = await client.post(
        path,
        content=_chunked(huge),
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "payload_too_large", "body")


async def test_a_body_without_a_length_is_read_whole(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = json.dumps(text_message(text="y" * 4000)).encode()
    response = await client.post(
        "/v1/messages",
        content=_chunked(body, size=1000),
        headers={**auth(tenant.test), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["content"]["text"] == "y" * 4000


async def test_bad_query_parameters_are_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/messages", params={"limit": 1000}, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "limit")
    response = await client.get(
        "/v1/messages", params={"status": "lost"}, headers=auth(tenant.test)
    )
    assert_envelope(response, 422, "invalid_request", "status")
    response = await client.get("/v1/messages/not-an-id", headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_request", "message_id")


async def test_unknown_route_is_enveloped(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert_envelope(response, 404, "not_found", None)


async def test_a_whatsapp_refusal_names_both_address_forms(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {**text_message(), "channel": "whatsapp", "to": "BR.15-02"}
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert_envelope(response, 422, "invalid_address", "to")
    assert "business-scoped user id" in response.json()["error"]["message"]
