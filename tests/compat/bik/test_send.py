"""Bik's sendMessage: one request per ``type`` becomes the native content it stands for, the
documented answer, callbackData kept as given, and every documented error code."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.bik.conftest import (
    PAGE_CALLBACK_DATA,
    PAGE_SAMPLE,
    SEND,
    basic,
    basic_pair,
    bik_send,
    refusal,
)
from tests.compat.messagehub.conftest import user_writes
from tests.compat.messagehub.test_errors import lenient_client
from tests.support import Tenant, auth, make_key

__all__ = ["lenient_client"]  # a fixture of this module
USER = "+919900990090"
CATALOG = "194836987003835"
# One request per type: its payload, and the native content it becomes.
BY_TYPE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "text": ({"message": "Hi 👋"}, {"type": "text", "text": "Hi 👋"}),
    "image": (
        {"url": "https://cdn.example.com/cat.jpg", "caption": "A cat"},
        {
            "type": "media",
            "media": {
                "url": "https://cdn.example.com/cat.jpg",
                "kind": "image",
                "caption": "A cat",
            },
        },
    ),
    "video": (
        {"url": "https://cdn.example.com/clip.mp4"},
        {"type": "media", "media": {"url": "https://cdn.example.com/clip.mp4", "kind": "video"}},
    ),
    "document": (
        {"url": "https://cdn.example.com/f/invoice", "caption": "Invoice", "filename": "inv.pdf"},
        {
            "type": "media",
            "media": {
                "url": "https://cdn.example.com/f/invoice",
                "kind": "document",
                "caption": "Invoice",
                "filename": "inv.pdf",
            },
        },
    ),
    "options": (
        {
            "message": "Pick a slot",
            "buttonText": "Slots",
            "sections": [{"title": "Today", "rows": [{"id": "am", "title": "Morning"}]}],
        },
        {
            "type": "interactive",
            "interactive": {
                "kind": "list",
                "body": "Pick a slot",
                "button_text": "Slots",
                "sections": [{"title": "Today", "rows": [{"id": "am", "title": "Morning"}]}],
            },
        },
    ),
    "buttons": (
        {"message": "Did it arrive?", "buttons": [{"id": "y", "title": "Yes"}]},
        {
            "type": "interactive",
            "interactive": {
                "kind": "buttons",
                "body": "Did it arrive?",
                "buttons": [{"type": "reply", "id": "y", "title": "Yes"}],
            },
        },
    ),
    "address": (
        {"message": "Your address?", "country": "IN", "values": {"city": "Pune"}},
        {
            "type": "interactive",
            "interactive": {
                "kind": "address",
                "body": "Your address?",
                "address": {"country": "IN", "values": {"city": "Pune"}},
            },
        },
    ),
    "single_product": (
        {"message": "Back in stock", "catalogId": CATALOG, "productId": "MUG-1"},
        {
            "type": "interactive",
            "interactive": {
                "kind": "product",
                "body": "Back in stock",
                "catalog_id": CATALOG,
                "product_id": "MUG-1",
            },
        },
    ),
    "multiple_product": (
        {
            "header": "Mugs",
            "message": "Pick one",
            "catalogId": CATALOG,
            "sections": [{"title": "Blue", "productIds": ["MUG-1", "MUG-2"]}],
        },
        {
            "type": "interactive",
            "interactive": {
                "kind": "product_list",
                "header": "Mugs",
                "body": "Pick one",
                "catalog_id": CATALOG,
                "sections": [{"title": "Blue", "product_ids": ["MUG-1", "MUG-2"]}],
            },
        },
    ),
}


@pytest.fixture(autouse=True)
async def opened(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """The user wrote first (through the sandbox): the 24-hour window is open."""
    await user_writes(client, tenant, "whatsapp", USER)


def _body(kind: str, **changes: Any) -> dict[str, Any]:
    body = {"contactIdentifier": USER, "medium": "whatsapp", "type": kind}
    body["payload"] = copy.deepcopy(BY_TYPE[kind][0])  # type: ignore[assignment]
    body.update(changes)
    return body


def _without_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_defaults(v) for k, v in value.items() if v not in (False, [])}
    if isinstance(value, list):
        return [_without_defaults(item) for item in value]
    return value


async def _stored(client: httpx.AsyncClient, tenant: Tenant, message_id: str) -> dict[str, Any]:
    shown = await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.test))
    assert shown.status_code == 200, shown.text
    message: dict[str, Any] = shown.json()
    return message


@pytest.mark.parametrize("kind", list(BY_TYPE))
async def test_each_type_is_the_native_content_it_stands_for(
    client: httpx.AsyncClient, tenant: Tenant, bik_test: str, kind: str
) -> None:
    sent = await bik_send(client, bik_test, _body(kind))
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert set(answer) == {"status", "success", "data"}
    assert (answer["status"], answer["success"]) == (200, True)
    assert answer["data"]["id"].startswith("msg_")
    message = await _stored(client, tenant, answer["data"]["id"])
    assert (message["channel"], message["to"]) == ("whatsapp", USER)
    # As the type stands for, with the model's defaults (false, no items) filled in.
    assert _without_defaults(message["content"]) == BY_TYPE[kind][1]


async def test_the_pages_sample_keeps_its_callback_data_as_given(
    client: httpx.AsyncClient, tenant: Tenant, bik_test: str
) -> None:
    sent = await bik_send(client, bik_test, PAGE_SAMPLE)
    assert sent.status_code == 200, sent.text
    message = await _stored(client, tenant, sent.json()["data"]["id"])
    assert _without_defaults(message["content"]) == {
        "type": "text",
        "text": "This is a test message.",
    }
    assert message["metadata"] == {"callbackData": PAGE_CALLBACK_DATA}


async def test_basic_credentials_of_id_and_key_work_too(
    client: httpx.AsyncClient, bik_test: str
) -> None:
    sent = await client.post(SEND, json=PAGE_SAMPLE, headers=basic_pair("shop-42", bik_test))
    assert sent.status_code == 200, sent.text


@pytest.mark.parametrize(
    ("callback_data", "says"),
    [
        ("", "'callbackData' must be a non-empty string"),
        ("{order_id: ORD123}", "'callbackData' must be valid, parseable JSON"),
        ('"' + "x" * 1023 + '"', "'callbackData' must be at most 1024 characters"),
        (42, "'callbackData'"),
    ],
)
async def test_callback_data_must_be_json_text_of_1024_characters_at_most(
    client: httpx.AsyncClient, bik_test: str, callback_data: Any, says: str
) -> None:
    refused = await bik_send(client, bik_test, {**PAGE_SAMPLE, "callbackData": callback_data})
    [message] = refusal(refused, 400)
    assert message.startswith(says), message


async def test_callback_data_of_exactly_1024_characters_is_taken(
    client: httpx.AsyncClient, tenant: Tenant, bik_test: str
) -> None:
    longest = '"' + "é" * 1022 + '"'
    sent = await bik_send(client, bik_test, {**PAGE_SAMPLE, "callbackData": longest})
    assert sent.status_code == 200, sent.text
    message = await _stored(client, tenant, sent.json()["data"]["id"])
    assert message["metadata"]["callbackData"] == longest


async def test_each_problem_is_one_entry_naming_its_field(
    client: httpx.AsyncClient, bik_test: str
) -> None:
    # The page's own example: a payload without its message.
    assert refusal(await bik_send(client, bik_test, _body("text", payload={})), 400) == [
        "'payload.message' is required"
    ]
    both = {"contactIdentifier": USER, "type": "fax", "payload": {}}
    messages = refusal(await bik_send(client, bik_test, both), 400)
    assert len(messages) == 2
    assert messages[0] == "'medium' is required"
    assert messages[1].startswith("'type' ")
    assert refusal(await bik_send(client, bik_test, _body("text", medium="sms")), 400) == [
        "'medium' must be whatsapp: messages are sent through whatsapp for now"
    ]
    many = _body("buttons")
    many["payload"]["buttons"] = [{"id": str(n), "title": f"B{n}"} for n in range(4)]
    many["payload"]["colour"] = "red"
    messages = refusal(await bik_send(client, bik_test, many), 400)
    assert [m.split(" ", 1)[0] for m in messages] == ["'payload.buttons'", "'payload.colour'"]
    # A value the native content refuses names the Bik field too.
    bad_country = _body("address")
    bad_country["payload"]["country"] = "US"
    [message] = refusal(await bik_send(client, bik_test, bad_country), 400)
    assert message.startswith("'payload.country' ")
    no_phone = _body("text", contactIdentifier="not a phone")
    [message] = refusal(await bik_send(client, bik_test, no_phone), 400)
    assert message.startswith("'contactIdentifier' ")


async def test_401_for_no_key_a_wrong_one_or_another_kind(
    client: httpx.AsyncClient, tenant: Tenant, bik_test: str
) -> None:
    for headers in ({}, basic("bik_live_nope"), basic(tenant.test), auth(bik_test)):
        refused = await client.post(SEND, json=PAGE_SAMPLE, headers=headers)
        [message] = refusal(refused, 401)
        assert message
    assert refused.headers.get("www-authenticate") == 'Basic realm="bik"'


async def test_401_for_a_key_without_the_send_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, reader = await make_key(
        app,
        tenant.account_id,
        KeyMode.TEST,
        dialect=Dialect.BIK,
        scopes=frozenset({"messages:read"}),
    )
    [message] = refusal(await bik_send(client, reader, PAGE_SAMPLE), 401)
    assert "messages:send" in message


async def test_404_for_another_api_or_method(client: httpx.AsyncClient, bik_test: str) -> None:
    v1 = SEND.replace("/v2/", "/v1/")
    refusal(await client.post(v1, json=PAGE_SAMPLE, headers=basic(bik_test)), 404)
    got = await client.get(SEND, headers=basic(bik_test))
    refusal(got, 404)
    assert "POST" in got.headers["allow"]


async def test_500_for_an_unexpected_fault(
    lenient_client: httpx.AsyncClient, bik_test: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store went away")

    monkeypatch.setattr("chatgate.compat.bik.routes.accept_one", broken)
    [message] = refusal(await bik_send(lenient_client, bik_test, PAGE_SAMPLE), 500)
    assert "the store went away" not in message


async def test_a_rule_refusal_is_400_naming_the_rule(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, bik_test: str
) -> None:
    _, slow = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.BIK, rate_limit=1
    )
    assert (await bik_send(client, slow, PAGE_SAMPLE)).status_code == 200
    limited = await bik_send(client, slow, PAGE_SAMPLE)
    [message] = refusal(limited, 400)
    assert message.startswith("over the rate limit: ")
    assert int(limited.headers["retry-after"]) > 0
    # A user who never wrote: only templates may start a WhatsApp conversation.
    stranger = await bik_send(
        client, bik_test, {**PAGE_SAMPLE, "contactIdentifier": "+919812345678"}
    )
    [message] = refusal(stranger, 400)
    assert message.startswith("outside the 24-hour window: ")


async def test_a_key_without_link_tracking_keeps_the_url_as_written(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    """A key made with ``track_links`` false sends the text's link as written."""
    _, untracked = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.BIK, track_links=False
    )
    text = "Track it: https://shop.example.com/orders/ORD123?utm=bik"
    sent = await bik_send(client, untracked, _body("text", payload={"message": text}))
    assert sent.status_code == 200, sent.text
    message = await _stored(client, tenant, sent.json()["data"]["id"])
    assert message["content"]["text"] == text
