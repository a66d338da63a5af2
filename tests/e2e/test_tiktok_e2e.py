"""End to end, what only TikTok does: ``chatgate serve`` against ``chatgate emulate``.

The shared end-to-end suite covers TikTok like every platform (content kinds, statuses,
faults); here: the user-initiated rule, images both ways (TikTok takes no URL: the
gateway uploads), the platform's message limit, and webhooks refused for their signature.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from chatgate.channels.tiktok import MESSAGES_PER_USER_MESSAGE
from tests.channels.tiktok import contract
from tests.e2e.world import PLATFORMS, Session, Stack
from tests.support import auth, until

pytestmark = pytest.mark.slow

TIKTOK = PLATFORMS["tiktok"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 300


async def test_a_business_cannot_write_first(stack: Stack, session: Session) -> None:
    """409 until the user has written; then the same text goes out and is read."""
    user = stack.new_user(TIKTOK)
    content = {"type": "text", "text": "Hi, are you there?"}
    refused = await session.send(TIKTOK, user, content)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "channel_cannot_initiate"
    await session.user_writes(TIKTOK, user, "hello")
    message = await session.accepted(TIKTOK, user, content)
    await session.reaches(message["id"], "read")
    assert [call["status"] for call in await session.received(TIKTOK, user)] == [200]


async def test_a_users_picture_is_stored_and_a_picture_goes_back_by_upload(
    stack: Stack, session: Session
) -> None:
    """The gateway downloads the user's image; an image the business sends is uploaded."""
    user = stack.new_user(TIKTOK)
    picture = {"content_base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"}
    written = await session.emulator.post(
        "/_emulator/tiktok/inbound",
        json={"business_id": TIKTOK.account, "from": user, "image": picture},
    )
    assert written.status_code == 200, written.text
    platform_id = written.json()["id"]
    stored: list[dict[str, Any]] = []

    async def listed() -> bool:
        stored[:] = [
            m
            for m in await session.inbound_messages(TIKTOK)
            if m["provider_message_id"] == platform_id
        ]
        return bool(stored)

    await until(listed)
    media = stored[0]["content"]["media"]
    assert media["kind"] == "image"
    got: list[httpx.Response] = []

    async def downloaded() -> bool:
        got[:] = [await session.api.get(media["url"], headers=auth(stack.secret))]
        return got[0].status_code == 200

    await until(downloaded)
    assert got[0].content == PNG
    # The business answers with a picture on the platform's own host (its download URL).
    _, conversation, message_id, media_id = media["reference"].split(":")
    answer = await session.emulator.post(
        "/tiktok/open_api/v1.3/business/message/media/download/",
        headers={"Access-Token": contract.ACCESS_TOKEN},
        json={
            "business_id": TIKTOK.account,
            "conversation_id": conversation,
            "message_id": message_id,
            "media_id": media_id,
            "media_type": "IMAGE",
        },
    )
    url = answer.json()["data"]["download_url"]
    image = {"type": "media", "media": {"kind": "image", "url": url}}
    message = await session.accepted(TIKTOK, user, image)
    sent = await session.reaches(message["id"], "sent")
    calls = await session.emulator.get("/_emulator/tiktok/received")
    uploads = [c for c in calls.json() if c["path"].endswith("/media/upload/")]
    assert [u["body"]["file"]["size"] for u in uploads][-1] == len(PNG)
    [send] = await session.calls_for(TIKTOK, user, 1)
    assert send["body"]["message_type"] == "IMAGE"
    assert send["body"]["image"]["media_id"]
    assert sent["provider_message_id"] == send["message_id"]


async def test_an_image_with_a_caption_degrades_to_text(stack: Stack, session: Session) -> None:
    """TikTok sends text or an image: with degrade, the caption and link go as text."""
    user = stack.new_user(TIKTOK)
    await session.user_writes(TIKTOK, user, "hello")
    image = {
        "type": "media",
        "media": {"kind": "image", "url": "https://cdn.example.com/cat.jpg", "caption": "A cat"},
    }
    refused = await session.send(TIKTOK, user, image)
    assert refused.status_code == 422, refused.text
    message = await session.accepted(TIKTOK, user, image, degrade=True)
    await session.reaches(message["id"], "sent")
    [call] = await session.calls_for(TIKTOK, user, 1)
    assert call["body"]["text"] == {"body": "A cat\nhttps://cdn.example.com/cat.jpg"}


async def test_past_the_message_limit_a_send_is_refused_until_the_user_writes(
    stack: Stack, session: Session
) -> None:
    """TikTok takes 10 messages per user message: the eleventh is 409 at accept, and the
    count starts afresh when the user writes again."""
    user = stack.new_user(TIKTOK)
    await session.user_writes(TIKTOK, user, "hello")
    for number in range(MESSAGES_PER_USER_MESSAGE):
        message = await session.accepted(TIKTOK, user, {"type": "text", "text": f"#{number}"})
        await session.reaches(message["id"], "sent")
    over = await session.send(TIKTOK, user, {"type": "text", "text": "one too many"})
    assert over.status_code == 409, over.text
    assert over.json()["error"]["code"] == "message_cap_reached"
    await session.user_writes(TIKTOK, user, "and again")
    again = await session.accepted(TIKTOK, user, {"type": "text", "text": "welcome back"})
    await session.reaches(again["id"], "sent")
    calls = await session.received(TIKTOK, user)
    assert [c["status"] for c in calls] == [200] * (MESSAGES_PER_USER_MESSAGE + 1)


async def test_a_stale_or_forged_signature_is_refused(stack: Stack, session: Session) -> None:
    """401 for a webhook signed with another secret or five minutes ago; nothing stored."""
    user = stack.new_user(TIKTOK)
    body = contract.envelope(
        "im_receive_msg",
        {
            "conversation_id": user,
            "message_id": f"forged-{user}",
            "type": "text",
            "text": {"body": "forged"},
            "from_user": {"id": contract.USER_ID},
            "to_user": {"id": contract.BUSINESS_ID},
        },
    )
    raw = contract.SPEC.serialize(body)
    url = _inbound_url(stack)
    for headers in (
        contract.signature(raw, "not-the-secret"),
        contract.signature(raw, at=int(time.time()) - 400),
    ):
        answer = await session.api.post(url, content=raw, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
    fresh = await session.api.post(url, content=raw, headers=contract.signature(raw))
    assert fresh.status_code == 200, fresh.text
    found = [m for m in await session.inbound_messages(TIKTOK) if m["from"] == user]
    assert [m["provider_message_id"] for m in found] == [f"forged-{user}"]


def _inbound_url(stack: Stack) -> str:
    """The TikTok channel's webhook URL on the gateway."""
    url: str = stack.channels["tiktok"]["inbound_url"]
    return url
