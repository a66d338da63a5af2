"""End to end, what only SMS over Twilio does: ``chatgate serve`` against ``chatgate emulate``.

The shared end-to-end suite covers ``sms`` like every platform (content kinds, statuses,
faults); here: an MMS's files downloaded by the gateway with the account's credentials, a
user's STOP honoured by the platform, and webhooks signed over the channel's public URL and
answered with TwiML.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.channels.sms import contract
from tests.e2e.world import PLATFORMS, Session, Stack
from tests.support import auth, until

pytestmark = pytest.mark.slow

SMS = PLATFORMS["sms"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 300
PDF = b"%PDF-1.4\n" + b"0" * 200


def _file(content: bytes, mime_type: str) -> dict[str, str]:
    return {"content_base64": base64.b64encode(content).decode(), "mime_type": mime_type}


async def test_an_mms_arrives_with_its_files_downloaded(stack: Stack, session: Session) -> None:
    """Each attachment is a message; the gateway fetches the files with Basic auth."""
    user = stack.new_user(SMS)
    written = await session.emulator.post(
        "/_emulator/sms/inbound",
        json={
            "to": SMS.account,
            "from": user,
            "text": "Photo and invoice",
            "media": [_file(PNG, "image/png"), _file(PDF, "application/pdf")],
        },
    )
    assert written.status_code == 200, written.text
    sid = written.json()["id"]
    stored: list[dict[str, Any]] = []

    async def listed() -> bool:
        stored[:] = sorted(
            (
                m
                for m in await session.inbound_messages(SMS)
                if m["provider_message_id"] in (sid, f"{sid}:1")
            ),
            key=lambda m: str(m["provider_message_id"]),
        )
        return len(stored) == 2

    await until(listed)
    picture, invoice = (message["content"]["media"] for message in stored)
    assert (picture["kind"], picture["caption"]) == ("image", "Photo and invoice")
    assert invoice["kind"] == "document"
    assert await _downloaded(session, picture["url"]) == PNG
    assert await _downloaded(session, invoice["url"]) == PDF


async def _downloaded(session: Session, url: str) -> bytes:
    """The file at the gateway's ``url``, once the worker has fetched it."""
    got: list[httpx.Response] = []

    async def fetched() -> bool:
        got[:] = [await session.api.get(url, headers=auth(session.stack.secret))]
        return got[0].status_code == 200

    await until(fetched)
    return got[0].content


async def test_a_user_who_texted_stop_is_not_sent_to(stack: Stack, session: Session) -> None:
    """Twilio refuses (21610) after a STOP: the message fails at once, not retried."""
    user = stack.new_user(SMS)
    await session.user_writes(SMS, user, "STOP")
    message = await session.accepted(SMS, user, {"type": "text", "text": "Sale! 20% off"})
    failed = await session.reaches(message["id"], "failed")
    assert failed["error"]["code"] == "21610"
    assert [call["status"] for call in await session.received(SMS, user)] == [400]


async def test_a_webhook_is_checked_over_the_public_url_and_answered_with_twiml(
    stack: Stack, session: Session
) -> None:
    """Signed over the channel's inbound URL: 200 with an empty TwiML; otherwise 401."""
    channel = stack.channels["sms"]
    sid = "SM" + "5e" * 16
    params = {
        "MessageSid": sid,
        "SmsStatus": "received",
        "AccountSid": contract.ACCOUNT_SID,
        "From": stack.new_user(SMS),
        "To": SMS.account,
        "Body": "signed by hand",
        "NumMedia": "0",
    }
    body = urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    path = f"/inbound/{channel['id']}"
    forged = await session.api.post(
        path, content=body, headers={**headers, "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    )
    assert forged.status_code == 401
    signature = contract.twilio_signature(
        contract.AUTH_TOKEN, channel["inbound_url"], list(params.items())
    )
    answered = await session.api.post(
        path, content=body, headers={**headers, "X-Twilio-Signature": signature}
    )
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/xml")
    assert answered.content.endswith(b"<Response/>")
