"""End to end, what only Kakao does: ``chatgate serve`` against ``chatgate emulate``.

The shared end-to-end suite covers Kakao like every platform (brand-message content kinds,
statuses, faults); here: AlimTalk templates with Korean text arriving byte-exact, the
templates-only rule, a failure Kakao reports later, results polled from NHN where no
webhook is configured, and a send whose answer was lost, which NHN drops when tried again.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from tests.channels.kakao import contract
from tests.e2e.world import PLATFORMS, Session, Stack
from tests.support import auth

pytestmark = pytest.mark.slow

KAKAO = PLATFORMS["kakao"]
# Decomposed on purpose: a gateway that normalised text would send other bytes.
ITEM = unicodedata.normalize("NFD", "무선 키보드")
TEMPLATE = {
    "type": "template",
    "template": {"name": "order_shipped", "variables": {"name": "김민지", "item": ITEM}},
}
# A second NHN app of the account, without a webhook configured: only polling tells.
QUIET_APP_KEY = "QuietAppKey0456"


async def _send(
    session: Session, user: str, content: dict[str, Any], **extra: Any
) -> httpx.Response:
    body = {"channel": "kakao", "to": user, "content": content, **extra}
    return await session.api.post("/v1/messages", json=body, headers=auth(session.stack.secret))


async def test_an_alimtalk_template_arrives_byte_exact_and_is_delivered(
    stack: Stack, session: Session
) -> None:
    user = stack.new_user(KAKAO)
    message = await session.accepted(KAKAO, user, TEMPLATE)
    delivered = await session.reaches(message["id"], "delivered")
    [call] = await session.calls_for(KAKAO, user, 1)
    assert call["path"] == f"/kakao/alimtalk/v2.3/appkeys/{contract.APP_KEY}/messages"
    [recipient] = call["body"]["recipientList"]
    assert recipient["recipientNo"] == KAKAO.wire_recipient(user)
    assert recipient["templateParameter"] == {"name": "김민지", "item": ITEM}
    assert recipient["templateParameter"]["item"] != unicodedata.normalize("NFC", ITEM)
    assert recipient["recipientGroupingKey"] == message["id"]
    assert delivered["provider_message_id"] == call["message_id"]


async def test_free_text_needs_the_brand_type_and_then_goes_as_a_brand_message(
    stack: Stack, session: Session
) -> None:
    user = stack.new_user(KAKAO)
    text = {"type": "text", "text": "이번 주 할인 소식 🎉"}
    refused = await _send(session, user, text)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("template_required", "content")
    assert await session.received(KAKAO, user) == []
    options = {"kakao": {"type": "brand", "targeting": "I"}}
    accepted = await _send(session, user, text, options=options)
    assert accepted.status_code == 202, accepted.text
    await session.reaches(accepted.json()["id"], "delivered")
    [call] = await session.calls_for(KAKAO, user, 1)
    assert call["path"].endswith("/freestyle-messages")
    assert call["body"]["content"] == text["text"]


async def _template_with_fault(
    stack: Stack, session: Session, kind: str, status: str
) -> tuple[str, dict[str, Any]]:
    """A template to a new user whose first send plays ``kind``; the user, and the message
    once it reached ``status``."""
    user = stack.new_user(KAKAO)
    await session.fault(KAKAO, kind=kind, recipient=user)
    message = await session.accepted(KAKAO, user, TEMPLATE)
    return user, await session.reaches(message["id"], status)


async def test_a_user_kakao_cannot_reach_ends_failed_with_kakaos_code(
    stack: Stack, session: Session
) -> None:
    user, failed = await _template_with_fault(stack, session, "invalid_recipient", "failed")
    assert failed["error"]["code"] == "3019"
    statuses = [event["status"] for event in failed["events"] if event["status"]]
    assert statuses[:2] == ["queued", "sent"]
    assert [call["status"] for call in await session.received(KAKAO, user)] == [200]


async def test_a_send_whose_answer_was_lost_reaches_the_user_once(
    stack: Stack, session: Session
) -> None:
    user, delivered = await _template_with_fault(stack, session, "answer_lost", "delivered")
    kept, repeated = await session.calls_for(KAKAO, user, 2)
    # NHN kept the first try, its answer lost on the way, and refused the second as a repeat.
    assert kept["message_id"] is not None
    assert repeated["message_id"] is None
    assert repeated["body"] == kept["body"]
    assert delivered["provider_message_id"] == kept["message_id"]
    assert len(await session.received(KAKAO, user)) == 2


async def test_without_a_webhook_the_result_is_polled_from_nhn(
    stack: Stack, session: Session
) -> None:
    account = {**contract.emulator_account(), "app_key": QUIET_APP_KEY}
    registered = await session.emulator.post("/_emulator/kakao/accounts", json=account)
    assert registered.status_code == 201, registered.text
    created = await session.api.post(
        "/v1/channels",
        headers=auth(stack.secret),
        json={
            "type": "kakao",
            "name": "kakao-quiet",
            "credentials": {**KAKAO.credentials, "app_key": QUIET_APP_KEY},
            "settings": {
                "api_base": f"{stack.emulator_url}{KAKAO.spec.emulator_prefix}",
                "result_poll_seconds": 0.2,
            },
        },
    )
    assert created.status_code == 201, created.text
    user = stack.new_user(KAKAO)
    accepted = await _send(session, user, TEMPLATE, **{"from": "kakao-quiet"})
    assert accepted.status_code == 202, accepted.text
    delivered = await session.reaches(accepted.json()["id"], "delivered")
    [event] = [e for e in delivered["events"] if e["status"] == "delivered"]
    assert event["detail"]["polled"] is True
    calls = (await session.emulator.get("/_emulator/kakao/received")).json()
    queries = [c for c in calls if c["account"] == QUIET_APP_KEY and c["recipient"] is None]
    assert queries
    assert all("/messages/" in query["path"] for query in queries)


async def test_a_result_webhook_is_taken_only_with_the_configured_signature(
    stack: Stack, session: Session
) -> None:
    user = stack.new_user(KAKAO)
    message = await session.accepted(KAKAO, user, TEMPLATE)
    delivered = await session.reaches(message["id"], "delivered")
    inbound_url = stack.channels["kakao"]["inbound_url"]
    reference = delivered["provider_message_id"]
    forged = contract.result_webhook("3020", reference)
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        for headers in ({"X-Toast-Webhook-Signature": "guess"}, {}):
            refused = await http.post(inbound_url, json=forged, headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["code"] == "invalid_signature"
        # NHN posting the same result again is taken, and changes nothing.
        again = contract.result_webhook("1000", reference)
        headers = {"X-Toast-Webhook-Signature": contract.WEBHOOK_SECRET}
        taken = await http.post(inbound_url, json=again, headers=headers)
        assert taken.status_code == 200, taken.text
    detail = await session.message(message["id"])
    assert detail["status"] == "delivered"
    assert detail["error"] is None
    assert not [event for event in detail["events"] if event["status"] == "failed"]
