"""``messages/send`` and ``messages/{messageId}``: MessageHub's bodies, the native sends."""

from __future__ import annotations

import httpx

from tests.compat.messagehub.conftest import BASE, hub_post, user_writes
from tests.support import Tenant, auth, wait_for_status

USER = "+919876543210"


async def test_a_text_is_an_ordinary_message_and_its_status_is_read_back(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    await user_writes(client, tenant, "whatsapp", USER)
    body = {"to": USER, "channel": "whatsapp", "content": "नमस्ते 🙏 order #1234"}
    answer = await hub_post(client, hub_key, "messages/send", body)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert set(data) == {"messageId", "channel", "status"}
    assert data["messageId"].startswith("msg_")
    assert (data["channel"], data["status"]) == ("whatsapp", "queued")
    # An ordinary message: the native API lists it, with the text byte-exact.
    native = await wait_for_status(client, tenant.test, data["messageId"], "delivered")
    assert native["content"] == {"type": "text", "text": body["content"], "preview_url": False}
    status = await client.get(f"{BASE}/messages/{data['messageId']}", headers=auth(hub_key))
    assert status.status_code == 200, status.text
    shown = status.json()["data"]
    assert shown["id"] == data["messageId"]
    assert shown["channel"] == "whatsapp"
    assert shown["to"] == USER
    assert shown["status"] in ("delivered", "read")
    assert shown["error"] is None


async def test_media_carries_its_caption_and_a_kakao_brand_message_says_it_is_one(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    await user_writes(client, tenant, "telegram", "123456789")
    media = {
        "to": "123456789",
        "channel": "telegram",
        "contentType": "media",
        "mediaUrl": "https://cdn.example.com/invoice.pdf",
        "content": "Your invoice",
    }
    sent = await hub_post(client, hub_key, "messages/send", media)
    assert sent.status_code == 200, sent.text
    native = await client.get(
        f"/v1/messages/{sent.json()['data']['messageId']}", headers=auth(tenant.test)
    )
    assert native.json()["content"]["media"] == {
        "url": "https://cdn.example.com/invoice.pdf",
        "kind": "document",
        "caption": "Your invoice",
        "voice": False,
    }
    brand = {
        "to": "+821012345678",
        "channel": "kakao",
        "content": "할인",
        "contentType": "brandmessage",
    }
    branded = await hub_post(client, hub_key, "messages/send", brand)
    assert branded.status_code == 200, branded.text
    # Kakao sends templates only, unless the message is a brand message: plain text is not.
    plain = await hub_post(client, hub_key, "messages/send", {**brand, "contentType": "text"})
    assert plain.status_code == 400
    assert plain.json()["error"]["code"] == "template_required"
    elsewhere = await hub_post(client, hub_key, "messages/send", {**brand, "channel": "sms"})
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"]["field"] == "contentType"


async def test_a_stored_template_of_that_name_is_rendered_in_whatever_language(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    made = await client.post(
        "/v1/templates",
        json={
            "name": "order_shipped",
            "language": "hi",
            "variables": [{"name": "order_id"}],
            "body": "Order {{order_id}} shipped",
        },
        headers=auth(tenant.test),
    )
    assert made.status_code == 201, made.text
    body = {
        "to": "+14155550123",
        "channel": "sms",
        "contentType": "template",
        "templateId": "order_shipped",
        "templateParams": {"order_id": 1234},
    }
    sent = await hub_post(client, hub_key, "messages/send", body)
    assert sent.status_code == 200, sent.text
    native = await client.get(
        f"/v1/messages/{sent.json()['data']['messageId']}", headers=auth(tenant.test)
    )
    assert native.json()["content"]["text"] == "Order 1234 shipped"
    missing = await hub_post(client, hub_key, "messages/send", {**body, "templateParams": {}})
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "templateParams.order_id"


BAD_REQUESTS: list[tuple[dict[str, object], str, str]] = [
    ({"channel": "whatsapp", "content": "x"}, "invalid_request", "to"),
    ({"to": USER, "channel": "messenger", "content": "x"}, "invalid_request", "channel"),
    ({"to": USER, "channel": "whatsapp"}, "invalid_request", "content"),
    ({"to": "12", "channel": "sms", "content": "x"}, "invalid_address", "to"),
    (
        {"to": USER, "channel": "sms", "contentType": "template"},
        "invalid_request",
        "templateId",
    ),
    ({"to": USER, "channel": "sms", "contentType": "media"}, "invalid_request", "mediaUrl"),
    (
        {"to": USER, "channel": "sms", "content": "x", "mediaUrl": "https://x.test/file"},
        "invalid_request",
        "mediaUrl",
    ),
    (
        {"to": USER, "channel": "sms", "content": "x", "contnet": "y"},
        "invalid_request",
        "contnet",
    ),
    # A rule refusal the native API answers 409 is MessageHub's 400, the code kept.
    ({"to": USER, "channel": "whatsapp", "content": "x"}, "outside_service_window", "content"),
    (
        {"to": "987654321", "channel": "telegram", "content": "x"},
        "channel_cannot_initiate",
        "to",
    ),
]


async def test_every_bad_request_is_400_naming_its_field(
    client: httpx.AsyncClient, hub_key: str
) -> None:
    for body, code, field in BAD_REQUESTS:
        answer = await hub_post(client, hub_key, "messages/send", body)
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "error": {"code": code, "message": answer.json()["error"]["message"], "field": field}
        }
        assert answer.json()["error"]["message"]
        assert answer.headers["X-RateLimit-Limit"]


async def test_the_status_of_a_message_not_there_is_404(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    for message_id in ("msg_abc123", "msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"):
        answer = await client.get(f"{BASE}/messages/{message_id}", headers=auth(hub_key))
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
        assert answer.json()["error"]["field"] == "messageId"
