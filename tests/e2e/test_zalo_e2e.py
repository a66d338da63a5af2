"""Zalo end to end: the 7-day interaction rule, transaction templates, an expired access
token refreshed by the worker and kept in the connection, and documents uploaded before they
are sent (``serve`` against ``emulate``)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.channels.zalo import contract as zalo
from tests.e2e.world import PLATFORMS, Session, Stack
from tests.support import auth, until

pytestmark = pytest.mark.slow

PLATFORM = PLATFORMS["zalo"]
TEXT = {"type": "text", "text": "Đơn hàng của bạn đã sẵn sàng 📦"}
ORDER = {
    "type": "template",
    "template": {
        "name": "transaction_order",
        "language": "vi",
        "header": {"text": "Trạng thái đơn hàng"},
        "variables": {"Mã đơn": "#1042", "Trạng thái": "Đang giao"},
    },
}


async def test_consultation_needs_an_interaction_a_transaction_goes_as_zalo_writes_it(
    stack: Stack, session: Session
) -> None:
    """409 before the user interacted; then text and a transaction template reach read."""
    user = stack.new_user(PLATFORM)
    refused = await session.send(PLATFORM, user, TEXT)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "outside_service_window"
    await session.user_writes(PLATFORM, user, "xin chào")
    text = await session.accepted(PLATFORM, user, TEXT)
    order = await session.accepted(PLATFORM, user, ORDER)
    for message in (text, order):
        await session.reaches(message["id"], "read")
    calls = await session.calls_for(PLATFORM, user, 2)
    assert [call["path"] for call in calls] == [
        "/zalo/v3.0/oa/message/cs",
        "/zalo/v3.0/oa/message/transaction",
    ]
    payload = calls[1]["body"]["message"]["attachment"]["payload"]
    assert payload["template_type"] == "transaction_order"
    assert payload["elements"][1]["content"] == [
        {"key": "Mã đơn", "value": "#1042"},
        {"key": "Trạng thái", "value": "Đang giao"},
    ]


async def test_an_expired_token_is_refreshed_and_stored(stack: Stack, session: Session) -> None:
    """Zalo issued a new token: the send is refused once, refreshed, sent; the new tokens
    are kept in the connection (audited as rotated) and used by the next send."""
    user = stack.new_user(PLATFORM)
    await session.user_writes(PLATFORM, user, "xin chào")
    channel = stack.channels["zalo"]
    expired = {
        **zalo.emulator_account(channel["inbound_url"]),
        "access_token": "issued-since-then",
    }
    registered = await session.emulator.post("/_emulator/zalo/accounts", json=expired)
    assert registered.status_code == 201, registered.text

    first = await session.accepted(PLATFORM, user, TEXT)
    sent = await session.reaches(first["id"], "sent")
    assert sent["error"] is None
    calls = await session.calls_for(PLATFORM, user, 2)
    assert [call["status"] for call in calls] == [401, 200]

    audit = await session.api.get(
        "/v1/audit",
        params={"action": "channel.updated", "target": channel["id"]},
        headers=auth(stack.secret),
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["data"]
    assert entry["detail"]["rotated"] is True
    assert entry["detail"]["credentials"] == ["access_token", "refresh_token"]

    second = await session.accepted(PLATFORM, user, TEXT)
    await session.reaches(second["id"], "sent")
    calls = await session.calls_for(PLATFORM, user, 3)
    # The stored token is the refreshed one: no refusal before the second send.
    assert [call["status"] for call in calls] == [401, 200, 200]


async def test_a_photo_a_user_sends_is_downloaded_from_zalos_cdn(
    stack: Stack, session: Session
) -> None:
    """The image event names a CDN URL; the worker fetches it and the API serves it."""
    user = stack.new_user(PLATFORM)
    picture = b"\x89PNG\r\n\x1a\n zalo picture"
    injected = await session.emulator.post(
        "/_emulator/zalo/inbound",
        json={
            "oa_id": zalo.OA_ID,
            "from": user,
            "media": {
                "kind": "image",
                "content_base64": base64.b64encode(picture).decode(),
                "mime_type": "image/png",
                "caption": "Ảnh sản phẩm",
            },
        },
    )
    assert injected.status_code == 200, injected.text
    platform_id = injected.json()["id"]
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        found[:] = [
            m
            for m in await session.inbound_messages(PLATFORM)
            if m["provider_message_id"] == platform_id
        ]
        return bool(found)

    await until(listed, limit=10.0)
    media = found[0]["content"]["media"]
    assert (media["kind"], media["caption"]) == ("image", "Ảnh sản phẩm")
    downloaded: list[httpx.Response] = []

    async def served() -> bool:
        response = await session.api.get(media["url"], headers=auth(stack.secret))
        downloaded[:] = [response]
        return response.status_code == 200

    await until(served, limit=10.0)
    assert downloaded[0].content == picture
    assert downloaded[0].headers["content-type"] == "image/png"


async def test_a_document_is_uploaded_and_reaches_zalo_as_a_file_message(
    stack: Stack, session: Session
) -> None:
    """A PDF is fetched by the worker, uploaded to Zalo, and sent by the token the upload
    gave; a type Zalo does not take is 422 at accept."""
    user = stack.new_user(PLATFORM)
    await session.user_writes(PLATFORM, user, "xin chào")
    pdf = b"%PDF-1.7\n% hoa don 1042\n%%EOF\n"
    # A file on the platform's own host (its CDN), which the gateway may fetch from.
    injected = await session.emulator.post(
        "/_emulator/zalo/inbound",
        json={
            "oa_id": zalo.OA_ID,
            "from": stack.new_user(PLATFORM),
            "media": {
                "kind": "file",
                "content_base64": base64.b64encode(pdf).decode(),
                "mime_type": "application/pdf",
                "filename": "hoa-don.pdf",
            },
        },
    )
    assert injected.status_code == 200, injected.text
    cdn_path = injected.json()["body"]["message"]["attachments"][0]["payload"]["url"]
    url = f"{stack.emulator_url}{PLATFORM.spec.emulator_prefix}{cdn_path}"

    sheet = {"type": "media", "media": {"kind": "document", "url": f"{url}.xlsx"}}
    refused = await session.send(PLATFORM, user, sheet)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["feature"] == "media.document"

    document = {
        "type": "media",
        "media": {"kind": "document", "url": url, "filename": "hoa-don-1042.pdf"},
    }
    message = await session.accepted(PLATFORM, user, document)
    sent = await session.reaches(message["id"], "sent")
    [call] = await session.calls_for(PLATFORM, user, 1)
    assert call["path"] == "/zalo/v3.0/oa/message/cs"
    assert call["body"]["message"]["attachment"]["type"] == "file"
    assert call["body"]["message"]["attachment"]["payload"]["token"]
    assert sent["provider_message_id"] == call["message_id"]
    log = await session.emulator.get("/_emulator/zalo/received")
    uploads = [c for c in log.json() if c["path"] == "/zalo/v2.0/oa/upload/file"]
    assert uploads[-1]["status"] == 200
    assert uploads[-1]["body"]["file"] == {
        "filename": "hoa-don-1042.pdf",
        "content_type": "application/pdf",
        "size": len(pdf),
    }
