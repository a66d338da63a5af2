"""The NHN Cloud Kakao emulator behaves like NHN: auth, checks, answers, results, queries."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

import pytest

from chatgate.channels.base import ProviderError, StatusUpdate
from chatgate.channels.kakao_parse import KST
from chatgate.domain.status import Status
from tests.channels.kakao import contract
from tests.channels.kakao.world import ALIMTALK, BRAND, World, outbound, world
from tests.support import until

TEMPLATES = {"order_shipped": "#{name}님, 주문하신 #{item} 상품이 발송되었습니다."}
DECOMPOSED = unicodedata.normalize("NFD", "노트북")
TEMPLATE = {
    "type": "template",
    "template": {"name": "order_shipped", "variables": {"name": "홍길동", "item": DECOMPOSED}},
}
BRAND_TEXT = {"type": "text", "text": "이번 주 할인 소식 🎉"}


def _header(body: dict[str, Any]) -> tuple[int, bool]:
    return body["header"]["resultCode"], body["header"]["isSuccessful"]


async def test_an_alimtalk_send_is_accepted_logged_byte_exact_and_reported_delivered() -> None:
    async with world(templates=TEMPLATES) as w:
        result = await w.send(outbound(TEMPLATE))
        [call] = await w.received()
        assert (call["status"], call["recipient"], call["message_id"]) == (
            200,
            contract.RECIPIENT,
            result.provider_message_id,
        )
        assert call["path"] == f"{ALIMTALK}/messages"
        # What NHN got is what was given: decomposed Hangul stays decomposed.
        assert call["body"]["recipientList"][0]["templateParameter"]["item"] == DECOMPOSED
        [hook] = await w.webhooks(1)
        assert hook.headers["x-toast-webhook-signature"] == contract.WEBHOOK_SECRET
        w.adapter.verify(hook)
        [update] = w.adapter.parse(hook)
        assert isinstance(update, StatusUpdate)
        assert (update.status, update.provider_message_id, update.recipient) == (
            Status.DELIVERED,
            result.provider_message_id,
            contract.RECIPIENT,
        )
        assert update.raw["recipientGroupingKey"] == "msg_01TEST"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"type": "template", "template": {"name": "no_such_code"}}, "-3003"),
        (
            {"type": "template", "template": {"name": "order_shipped", "variables": {"name": "a"}}},
            "-3004",
        ),
    ],
)
async def test_templates_are_checked_against_the_approved_ones(
    content: dict[str, Any], code: str
) -> None:
    async with world(templates=TEMPLATES) as w:
        with pytest.raises(ProviderError) as refused:
            await w.send(outbound(content))
        assert (refused.value.code, refused.value.retryable) == (code, False)
        # Refused with HTTP 200, as NHN answers: the header says so.
        assert [call["status"] for call in await w.received()] == [200]


async def test_secret_key_and_sender_key_are_checked() -> None:
    async with world() as w:
        path = f"{ALIMTALK}/messages"
        body = w.adapter.build_request(outbound(TEMPLATE)).json
        wrong = await w.client.post(path, json=body, headers={"X-Secret-Key": "nope"})
        assert (wrong.status_code, _header(wrong.json())) == (200, (-1001, False))
        headers = {"X-Secret-Key": contract.SECRET_KEY}
        stranger = await w.client.post(path, json={**body, "senderKey": "f" * 40}, headers=headers)
        assert _header(stranger.json()) == (-2017, False)
        unknown = await w.client.post(
            "/kakao/alimtalk/v2.3/appkeys/NoSuchApp/messages", json=body, headers=headers
        )
        assert _header(unknown.json()) == (-1000, False)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"content": "가" * 1301}, -2000),
        ({"chatBubbleType": "IMAGE"}, -2001),
        ({"chatBubbleType": "BALLOON"}, 4),
        ({"buttons": [{"name": "보기", "type": "WL"}]}, -2018),
        ({"recipientList": []}, -2001),
    ],
)
async def test_free_form_brand_messages_are_checked(change: dict[str, Any], code: int) -> None:
    async with world() as w:
        body = {**w.adapter.build_request(outbound(BRAND_TEXT)).json, **change}
        answer = await w.client.post(
            f"{BRAND}/freestyle-messages", json=body, headers={"X-Secret-Key": contract.SECRET_KEY}
        )
        assert _header(answer.json()) == (code, False)


async def test_a_brand_template_goes_to_basic_messages() -> None:
    async with world() as w:
        options = {"kakao": {"type": "brand"}}
        result = await w.send(outbound(TEMPLATE, options=options))
        [call] = await w.received()
        assert call["path"] == f"{BRAND}/basic-messages"
        [hook] = await w.webhooks(1)
        [update] = w.adapter.parse(hook)
        assert isinstance(update, StatusUpdate)
        assert update.provider_message_id == result.provider_message_id
        assert update.raw["kakaoMessageType"] == "BRAND_MESSAGE_NORMAL"


async def test_an_unreachable_user_is_accepted_then_reported_failed() -> None:
    async with world() as w:
        await w.fault(kind="invalid_recipient")
        result = await w.send(outbound(BRAND_TEXT))
        [hook] = await w.webhooks(1)
        [update] = w.adapter.parse(hook)
        assert isinstance(update, StatusUpdate)
        assert (update.status, update.error_code, update.provider_message_id) == (
            Status.FAILED,
            "3019",
            result.provider_message_id,
        )


async def test_without_a_webhook_only_the_result_query_tells() -> None:
    async with world(webhook=False) as w:
        result = await w.send(outbound(TEMPLATE))
        found: list[StatusUpdate] = []

        async def answered() -> bool:
            update = await w.adapter.poll_status(result.provider_message_id, w.client)
            found[:] = [update] if update is not None else []
            return bool(found)

        await until(answered, limit=5.0)
        assert found[0].status is Status.DELIVERED
        assert found[0].platform_status == "1000"
        assert w.catcher.requests == []
        # The query is logged, but as no send to the user.
        queries = [c for c in await w.received() if "/messages/" in c["path"]]
        assert queries
        assert all(c["recipient"] is None for c in queries)


async def test_a_result_kakao_has_not_given_yet_is_still_on_its_way() -> None:
    async with world(webhook=False) as w:
        w.state.timing = w.state.timing.model_copy(update={"delivered_after": None})
        result = await w.send(outbound(BRAND_TEXT, options={"kakao": {"type": "brand"}}))
        assert await w.adapter.poll_status(result.provider_message_id, w.client) is None
        answer = await w.client.get(
            f"{BRAND}/messages/{result.provider_message_id.replace(':', '/')}",
            headers={"X-Secret-Key": contract.SECRET_KEY},
        )
        assert answer.json()["message"]["messageStatus"] == "SENDING"


async def test_users_cannot_write_to_a_business() -> None:
    async with world() as w:
        answer = await w.client.post(
            "/_emulator/kakao/inbound", json={"app_key": contract.APP_KEY, "from": "+8210"}
        )
        assert answer.status_code == 422
        assert "one-way" in answer.text


# -- List Messages ----------------------------------------------------------------------------


def _minute(days_from_now: float = 0.0) -> str:
    moment = datetime.now(KST) + timedelta(days=days_from_now)
    return moment.strftime("%Y-%m-%d %H:%M")


def _days_around_now() -> dict[str, str]:
    return {"startRequestDate": _minute(-1), "endRequestDate": _minute(1)}


async def _list(w: World, product: str, **query: str) -> dict[str, Any]:
    base = ALIMTALK if product == "alimtalk" else BRAND
    answer = await w.client.get(
        f"{base}/messages", params=query, headers={"X-Secret-Key": contract.SECRET_KEY}
    )
    assert answer.status_code == 200
    listed: dict[str, Any] = answer.json()
    return listed


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, -4103),
        ({"startRequestDate": _minute()}, -4103),
        ({"startRequestDate": "2026-12-02", "endRequestDate": "2026-12-03"}, -4103),
        ({"startRequestDate": _minute(1), "endRequestDate": _minute()}, -4103),
        ({"startRequestDate": _minute(-32), "endRequestDate": _minute()}, -4003),
        ({"startRequestDate": _minute(-1), "endRequestDate": _minute(), "pageSize": "1001"}, -2005),
    ],
)
async def test_a_list_needs_a_request_id_or_a_span_of_a_month_at_most(
    query: dict[str, str], code: int
) -> None:
    async with world() as w:
        answer = await _list(w, "alimtalk", **query)
        assert _header(answer) == (code, False)
        assert "messageSearchResultResponse" not in answer


async def test_a_list_finds_a_message_by_our_id_within_its_product() -> None:
    async with world() as w:
        sent = await w.send(outbound(TEMPLATE))
        await w.send(outbound(TEMPLATE, message_id="msg_01OTHER"))
        options = {"kakao": {"type": "brand"}}
        brand = await w.send(outbound(BRAND_TEXT, options=options, message_id="msg_01BRAND"))
        ours = await _list(w, "alimtalk", **_days_around_now(), recipientGroupingKey="msg_01TEST")
        assert _header(ours) == (0, True)
        [message] = ours["messageSearchResultResponse"]["messages"]
        assert f"{message['requestId']}:{message['recipientSeq']}" == sent.provider_message_id
        assert (message["recipientNo"], message["senderKey"], message["templateCode"]) == (
            contract.WIRE_RECIPIENT,
            contract.SENDER_KEY,
            "order_shipped",
        )
        [listed] = (await _list(w, "brand", **_days_around_now()))["messageSearchResultResponse"][
            "messages"
        ]
        assert f"{listed['requestId']}:{listed['recipientSeq']}" == brand.provider_message_id
        assert (listed["chatBubbleType"], listed["targeting"]) == ("TEXT", "I")
        by_request = await _list(w, "alimtalk", requestId=message["requestId"])
        assert by_request["messageSearchResultResponse"]["totalCount"] == 1


async def test_a_list_keeps_to_its_span_and_pages() -> None:
    async with world() as w:
        for number in range(3):
            await w.send(outbound(TEMPLATE, message_id=f"msg_0{number}"))
        before = {"startRequestDate": _minute(-2), "endRequestDate": _minute(-1)}
        empty = await _list(w, "alimtalk", **before)
        assert empty["messageSearchResultResponse"] == {"messages": [], "totalCount": 0}
        # The last minute asked for is in the span, up to its end.
        span = {"startRequestDate": _minute(-1 / 24), "endRequestDate": _minute()}
        second = await _list(w, "alimtalk", **span, pageNum="2", pageSize="2")
        page = second["messageSearchResultResponse"]
        assert page["totalCount"] == 3
        assert [m["recipientGroupingKey"] for m in page["messages"]] == ["msg_02"]
