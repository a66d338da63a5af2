"""A try of a Kakao send repeated after its answer was lost is dropped by NHN, not sent twice.

Every try carries ``X-NC-API-IDEMPOTENCY-KEY`` derived from our message id; NHN refuses a
key it accepted in the last ten minutes with ``-1005``, and the adapter then finds the
accepted try in List Messages, so that the message keeps the platform id NHN's results name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chatgate.channels.base import ProviderError, StatusUpdate, retry_key
from chatgate.channels.kakao import UNLISTED_RETRY_SECONDS, KakaoAdapter
from chatgate.domain.status import Status
from chatgate.emulators.kakao_results import KEY_SECONDS, AppState
from tests.channels.kakao import contract
from tests.channels.kakao.world import ALIMTALK, BRAND, World, outbound, world

API = "https://kakaotalk-bizmessage.api.nhncloudservice.com"
KEY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
TEMPLATE = {"type": "template", "template": {"name": "order_shipped", "variables": {"n": "1"}}}
BRAND_TEXT = {"type": "text", "text": "이번 주 할인 소식 🎉"}
BRAND_OPTIONS = {"kakao": {"type": "brand"}}
REPEATED = {
    "header": {
        "resultCode": -1005,
        "resultMessage": "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.",
        "isSuccessful": False,
    }
}
# 2026-12-02 01:06:30 UTC is 10:06:30 in Korea.
NOW = datetime(2026, 12, 2, 1, 6, 30, tzinfo=UTC).timestamp()


def _adapter() -> KakaoAdapter:
    adapter = contract.make_adapter(API)
    assert isinstance(adapter, KakaoAdapter)
    return adapter


def _listed(*messages: tuple[str, int]) -> dict[str, Any]:
    items = [
        {"requestId": request_id, "recipientSeq": seq, "recipientGroupingKey": "msg_01TEST"}
        for request_id, seq in messages
    ]
    return {
        "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
        "messageSearchResultResponse": {"messages": items, "totalCount": len(items)},
    }


def _nhn(listed: dict[str, Any], seen: list[httpx.Request]) -> httpx.AsyncClient:
    """NHN refusing every send as a repeat, and listing ``listed``."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=REPEATED if request.method == "POST" else listed)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _at(monkeypatch: pytest.MonkeyPatch, moment: float) -> None:
    monkeypatch.setattr(KakaoAdapter, "clock", staticmethod(lambda: moment))


def test_every_try_of_a_message_carries_the_same_key_and_only_it() -> None:
    adapter = _adapter()
    first = adapter.build_request(outbound(TEMPLATE))
    again = adapter.build_request(outbound(TEMPLATE))
    other = adapter.build_request(outbound(TEMPLATE, message_id="msg_01OTHER"))
    brand = adapter.build_request(outbound(BRAND_TEXT, options=BRAND_OPTIONS))
    assert first.headers[KEY_HEADER] == again.headers[KEY_HEADER] == retry_key("msg_01TEST")
    assert brand.headers[KEY_HEADER] == first.headers[KEY_HEADER]
    assert other.headers[KEY_HEADER] != first.headers[KEY_HEADER]
    # A UUID: 36 characters NHN takes in a header as they are.
    assert len(first.headers[KEY_HEADER]) == 36
    assert KEY_HEADER not in str(first.json)


@pytest.mark.parametrize(
    ("content", "options", "product"),
    [(TEMPLATE, None, "alimtalk/v2.3"), (BRAND_TEXT, BRAND_OPTIONS, "brand-message/v1.0")],
)
async def test_a_refused_repeat_is_the_listed_earlier_try(
    monkeypatch: pytest.MonkeyPatch,
    content: dict[str, Any],
    options: dict[str, Any] | None,
    product: str,
) -> None:
    _at(monkeypatch, NOW)
    seen: list[httpx.Request] = []
    adapter = _adapter()
    async with _nhn(_listed(("20261202100630ReZQ6KZzAH", 1)), seen) as http:
        result = await adapter.send(adapter.build_request(outbound(content, options=options)), http)
    assert result.provider_message_id == "20261202100630ReZQ6KZzAH:1"
    assert result.poll_after is not None
    send, lookup = seen
    assert send.method == "POST"
    assert (lookup.method, lookup.url.path) == (
        "GET",
        f"/{product}/appkeys/{contract.APP_KEY}/messages",
    )
    # Korean time, to the minute, around the ten minutes NHN keeps a key.
    assert dict(lookup.url.params) == {
        "startRequestDate": "2026-12-02 09:51",
        "endRequestDate": "2026-12-02 10:11",
        "recipientGroupingKey": "msg_01TEST",
    }
    assert lookup.headers["X-Secret-Key"] == contract.SECRET_KEY


async def test_a_repeat_whose_earlier_try_is_not_listed_is_tried_again_later() -> None:
    seen: list[httpx.Request] = []
    adapter = _adapter()
    async with _nhn(_listed(), seen) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(outbound(TEMPLATE)), http)
    assert (refused.value.code, refused.value.retryable) == ("-1005", True)
    assert refused.value.retry_after == UNLISTED_RETRY_SECONDS
    assert [request.method for request in seen] == ["POST", "GET"]


async def _lose_the_answer(w: World, content: dict[str, Any], **extra: Any) -> None:
    await w.fault(kind="answer_lost", recipient=contract.RECIPIENT)
    with pytest.raises(ProviderError) as lost:
        await w.send(outbound(content, **extra))
    assert (lost.value.code, lost.value.retryable) == ("502", True)


def _sends(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for call in calls if call["recipient"] == contract.RECIPIENT]


@pytest.mark.parametrize(("content", "options"), [(TEMPLATE, None), (BRAND_TEXT, BRAND_OPTIONS)])
async def test_a_try_after_a_lost_answer_is_the_first_send_and_nothing_more(
    content: dict[str, Any], options: dict[str, Any] | None
) -> None:
    async with world() as w:
        await _lose_the_answer(w, content, options=options)
        result = await w.send(outbound(content, options=options))
        calls = await w.received()
        accepted, repeated = _sends(calls)
        # NHN kept the first try and refused the second: one message, named as NHN names it.
        assert accepted["message_id"] == result.provider_message_id
        assert repeated["message_id"] is None
        lists = [c for c in calls if c["recipient"] is None and c["path"].endswith("/messages")]
        [listing] = lists
        assert listing["path"].startswith(ALIMTALK if options is None else BRAND)
        [hook] = await w.webhooks(1)
        [update] = w.adapter.parse(hook)
        assert isinstance(update, StatusUpdate)
        assert (update.status, update.provider_message_id) == (
            Status.DELIVERED,
            result.provider_message_id,
        )


async def test_a_key_is_refused_for_ten_minutes_then_sent_afresh() -> None:
    async with world() as w:
        first = await w.send(outbound(TEMPLATE))
        headers = {"X-Secret-Key": contract.SECRET_KEY, KEY_HEADER: retry_key("msg_01TEST")}
        body = w.adapter.build_request(outbound(TEMPLATE)).json
        again = await w.client.post(f"{ALIMTALK}/messages", json=body, headers=headers)
        assert again.status_code == 200
        assert again.json()["header"] == REPEATED["header"]
        # Ten minutes later, on the emulator's clock, the key is free again.
        app: AppState = w.state.accounts["kakao"][contract.APP_KEY].extra["app"]
        app.keys[retry_key("msg_01TEST")] -= KEY_SECONDS
        later = await w.send(outbound(TEMPLATE))
        assert later.provider_message_id != first.provider_message_id
        assert [call["message_id"] is not None for call in _sends(await w.received())] == [
            True,
            False,
            True,
        ]


async def test_a_key_is_the_apps_own_and_a_refused_send_holds_none() -> None:
    async with world() as w:
        other = {**contract.emulator_account(), "app_key": "OtherAppKey0456"}
        assert (await w.client.post("/_emulator/kakao/accounts", json=other)).status_code == 201
        await w.send(outbound(TEMPLATE))
        headers = {"X-Secret-Key": contract.SECRET_KEY, KEY_HEADER: retry_key("msg_01TEST")}
        body = w.adapter.build_request(outbound(TEMPLATE)).json
        path = "/kakao/alimtalk/v2.3/appkeys/OtherAppKey0456/messages"
        elsewhere = await w.client.post(path, json=body, headers=headers)
        assert elsewhere.json()["header"]["isSuccessful"] is True
        # A send NHN refused (its internal error) is tried again and accepted.
        await w.fault(kind="server_error")
        message = outbound(TEMPLATE, message_id="msg_01REFUSED")
        with pytest.raises(ProviderError):
            await w.send(message)
        assert (await w.send(message)).provider_message_id


async def test_a_key_held_by_a_try_nhn_did_not_keep_is_retried_until_it_lapses() -> None:
    async with world() as w:
        # NHN may hold the key of a try it then failed: nothing to list.
        app: AppState = w.state.accounts["kakao"][contract.APP_KEY].extra["app"]
        app.keys[retry_key("msg_01TEST")] = datetime.now(UTC).timestamp()
        with pytest.raises(ProviderError) as refused:
            await w.send(outbound(TEMPLATE))
        assert (refused.value.code, refused.value.retryable) == ("-1005", True)
        app.keys[retry_key("msg_01TEST")] -= KEY_SECONDS
        assert (await w.send(outbound(TEMPLATE))).provider_message_id
