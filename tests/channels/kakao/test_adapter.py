"""The Kakao (NHN Cloud) adapter alone: credentials, requests, errors, webhooks, result queries."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import (
    ProviderError,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.kakao import DEFAULT_POLL_SECONDS, KakaoAdapter, KakaoCredentials
from chatgate.domain.status import Status
from tests.channels.kakao import contract
from tests.channels.kakao.world import outbound

API = "https://kakaotalk-bizmessage.api.nhncloudservice.com"
# Korean text whose bytes must reach NHN unchanged: one decomposed (NFD) on purpose, which
# a normalising gateway would silently turn into the precomposed form.
NAME = "홍길동"
DECOMPOSED = unicodedata.normalize("NFD", "주문")
TEMPLATE = {
    "type": "template",
    "template": {"name": "order_shipped", "variables": {"name": NAME, "item": DECOMPOSED}},
}


def _adapter(**settings: Any) -> KakaoAdapter:
    adapter = contract.make_adapter(API, **settings)
    assert isinstance(adapter, KakaoAdapter)
    return adapter


def _ok(request_id: str = "20261202100630ReZQ6KZzAH", seq: int = 1) -> dict[str, Any]:
    return {
        "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
        "message": {
            "requestId": request_id,
            "senderGroupingKey": None,
            "sendResults": [
                {
                    "recipientSeq": seq,
                    "recipientNo": contract.WIRE_RECIPIENT,
                    "resultCode": 0,
                    "resultMessage": "SUCCESS",
                    "recipientGroupingKey": "msg_01TEST",
                }
            ],
        },
    }


def _refused(code: int, message: str = "refused") -> dict[str, Any]:
    return {"header": {"resultCode": code, "resultMessage": message, "isSuccessful": False}}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- credentials ----------------------------------------------------------------------------


def test_credentials_are_the_four_named_ones() -> None:
    assert set(KakaoCredentials.model_fields) == {
        "app_key",
        "secret_key",
        "sender_key",
        "webhook_secret",
    }
    with pytest.raises(ValidationError) as refused:
        KakaoCredentials.model_validate(
            {**contract.credentials().model_dump(), "app_key": "not/a key", "secret_key": "s"}
        )
    assert "not/a key" not in str(refused.value)


# -- requests -------------------------------------------------------------------------------


def test_a_template_is_an_alimtalk_send_with_its_parameters_as_given() -> None:
    request = _adapter().build_request(outbound(TEMPLATE))
    assert request.url == f"{API}/alimtalk/v2.3/appkeys/{contract.APP_KEY}/messages"
    assert request.json == {
        "senderKey": contract.SENDER_KEY,
        "templateCode": "order_shipped",
        "recipientList": [
            {
                "recipientNo": contract.WIRE_RECIPIENT,
                "templateParameter": {"name": NAME, "item": DECOMPOSED},
                "recipientGroupingKey": "msg_01TEST",
            }
        ],
    }
    # Not normalised: the decomposed syllables stay decomposed.
    assert request.json["recipientList"][0]["templateParameter"]["item"] != "주문"


def test_a_template_marked_brand_is_a_brand_message_template() -> None:
    options = {"kakao": {"type": "brand", "targeting": "M"}}
    request = _adapter().build_request(outbound(TEMPLATE, options=options))
    assert request.url == f"{API}/brand-message/v1.0/appkeys/{contract.APP_KEY}/basic-messages"
    [recipient] = request.json["recipientList"]
    assert recipient["targeting"] == "M"
    assert recipient["templateParameter"] == {"name": NAME, "item": DECOMPOSED}


def test_free_form_content_is_a_brand_message_to_friends_by_default() -> None:
    request = _adapter().build_request(outbound({"type": "text", "text": "안녕하세요 👋"}))
    assert request.url.endswith("/brand-message/v1.0/appkeys/TestAppKey0123/freestyle-messages")
    assert request.json["chatBubbleType"] == "TEXT"
    assert request.json["content"] == "안녕하세요 👋"
    assert request.json["recipientList"][0]["targeting"] == "I"


@pytest.mark.parametrize(
    ("content", "feature"),
    [
        ({"type": "template", "template": {"name": "t", "variables": ["a"]}}, "template"),
        (
            {"type": "template", "template": {"name": "t", "header": {"text": "h"}}},
            "template",
        ),
        ({"type": "text", "text": "가" * 1301}, "text"),
        (
            {"type": "media", "media": {"url": "https://x.example/a.jpg", "kind": "image"}},
            "media.image",
        ),
        (
            {
                "type": "interactive",
                "interactive": {
                    "kind": "buttons",
                    "body": "b",
                    "buttons": [
                        {
                            "type": "url",
                            "title": "열다섯글자가넘는아주긴버튼이름",
                            "url": "https://x.example",
                        }
                    ],
                },
            },
            "interactive.buttons.url",
        ),
    ],
)
def test_what_kakao_cannot_carry_is_refused(content: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(outbound(content))
    assert (refused.value.channel, refused.value.feature) == ("kakao", feature)


def test_numbers_outside_korea_keep_their_country_code() -> None:
    request = _adapter().build_request(outbound(TEMPLATE, recipient="+14155550123"))
    assert request.json["recipientList"][0]["recipientNo"] == "14155550123"


# -- send -----------------------------------------------------------------------------------


async def test_send_writes_utf8_as_given_and_names_request_and_recipient() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_ok())

    adapter = _adapter()
    request = adapter.build_request(outbound(TEMPLATE))
    assert contract.SECRET_KEY not in repr(request)
    async with _client(handler) as http:
        result = await adapter.send(request, http)
    assert result.provider_message_id == "20261202100630ReZQ6KZzAH:1"
    assert result.poll_after == DEFAULT_POLL_SECONDS
    [wire] = seen
    assert wire.headers["x-secret-key"] == contract.SECRET_KEY
    assert wire.headers["content-type"] == "application/json;charset=UTF-8"
    # The Korean text as UTF-8 bytes, decomposed as given: no \u escapes, no normalising.
    assert NAME.encode("utf-8") in wire.content
    assert DECOMPOSED.encode("utf-8") in wire.content
    assert b"\\u" not in wire.content
    assert json.loads(wire.content) == request.json


@pytest.mark.parametrize(
    ("status", "answer", "code", "retryable"),
    [
        (200, _refused(-3003, "Template is not exist."), "-3003", False),
        (200, _refused(-1001, "Invalid secretKey."), "-1001", False),
        (200, _refused(-9999, "Internal server error."), "-9999", True),
        (500, _refused(-9999, "Internal server error."), "-9999", True),
        (400, _refused(4, "Parameter validation failed"), "4", False),
        (502, None, "502", True),
        (200, {"surprise": True}, "bad_response", True),
    ],
)
async def test_refusals_are_classified(
    status: int, answer: Any, code: str, retryable: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if answer is None:
            return httpx.Response(status, text="<html>bad gateway</html>")
        return httpx.Response(status, json=answer)

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(outbound(TEMPLATE)), http)
    assert (refused.value.code, refused.value.retryable) == (code, retryable)


async def test_a_throttled_call_keeps_its_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=_refused(429, "Too many"), headers={"Retry-After": "7"})

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(outbound(TEMPLATE)), http)
    assert (refused.value.retryable, refused.value.retry_after) == (True, 7.0)


async def test_a_recipient_refused_inside_a_successful_answer_is_an_error() -> None:
    answer = _ok()
    answer["message"]["sendResults"][0].update(resultCode=-3004, resultMessage="Invalid")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(outbound(TEMPLATE)), http)
    assert (refused.value.code, refused.value.retryable) == ("-3004", False)


async def test_an_accepted_answer_without_ids_is_not_sent_twice() -> None:
    answer = _ok()
    del answer["message"]["requestId"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    adapter = _adapter()
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(outbound(TEMPLATE)), http)
    assert (refused.value.code, refused.value.retryable) == ("bad_response", False)


# -- result queries -------------------------------------------------------------------------


def _queried(state: str, code: str | None) -> dict[str, Any]:
    return {
        "header": {"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": True},
        "message": {
            "requestId": "R1",
            "recipientSeq": 1,
            "recipientNo": contract.WIRE_RECIPIENT,
            "messageStatus": state,
            "resultCode": code,
            "resultCodeName": "NotKakaoUser" if code == "3019" else None,
            "receiveDate": "2026-12-02 10:06:32",
        },
    }


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [
        ("COMPLETED", "1000", Status.DELIVERED),
        ("FAILED", "3019", Status.FAILED),
        ("CANCEL", None, Status.CANCELED),
    ],
)
async def test_a_queried_result_is_a_status(state: str, code: str | None, status: Status) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=_queried(state, code))

    async with _client(handler) as http:
        update = await _adapter().poll_status("R1:1", http)
    assert isinstance(update, StatusUpdate)
    assert (update.status, update.provider_message_id) == (status, "R1:1")
    assert update.error_code == ("3019" if status is Status.FAILED else None)
    assert asked == [f"/alimtalk/v2.3/appkeys/{contract.APP_KEY}/messages/R1/1"]


async def test_a_result_not_yet_in_is_none_and_brand_messages_are_asked_next() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path.split("/")[1])
        if request.url.path.startswith("/alimtalk/"):
            return httpx.Response(200, json=_refused(-2, "no such request"))
        return httpx.Response(200, json=_queried("SENDING", None))

    async with _client(handler) as http:
        assert await _adapter().poll_status("R1:1", http) is None
        assert await _adapter().poll_status("not-a-reference", http) is None
    assert asked == ["alimtalk", "brand-message"]


async def test_a_query_nhn_cannot_answer_now_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json=_refused(-9999, "Internal server error."))

    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().poll_status("R1:1", http)
    assert refused.value.retryable


# -- webhooks -------------------------------------------------------------------------------


def _webhook(body: bytes, headers: dict[str, str]) -> RawRequest:
    return RawRequest("POST", "http://gateway/inbound/ch_1", headers, {}, body)


def test_the_signature_header_is_the_configured_string() -> None:
    body = json.dumps(contract.result_webhook("1000", contract.MESSAGE_ID)).encode()
    adapter = _adapter()
    adapter.verify(_webhook(body, {"x-toast-webhook-signature": contract.WEBHOOK_SECRET}))
    for headers in ({}, {"x-toast-webhook-signature": contract.WEBHOOK_SECRET + "x"}):
        with pytest.raises(SignatureError):
            adapter.verify(_webhook(body, headers))


def test_a_result_webhook_is_parsed_to_statuses_in_utc() -> None:
    body = json.dumps(contract.result_webhook("3020", contract.MESSAGE_ID)).encode()
    [update] = _adapter().parse(_webhook(body, {}))
    assert isinstance(update, StatusUpdate)
    assert (update.status, update.platform_status, update.error_code) == (
        Status.FAILED,
        "3020",
        "3020",
    )
    assert update.recipient == contract.RECIPIENT
    # 10:06:32 in Korea is 01:06:32 UTC.
    assert update.at.isoformat() == "2026-12-02T01:06:32+00:00"


def test_a_hook_without_ids_is_kept_unknown_and_a_bad_body_raises() -> None:
    body = contract.result_webhook("1000", contract.MESSAGE_ID)
    del body["hooks"][0]["requestId"]
    [event] = _adapter().parse(_webhook(json.dumps(body).encode(), {}))
    assert isinstance(event, UnknownEvent)
    with pytest.raises(json.JSONDecodeError):
        _adapter().parse(_webhook(b"not json", {}))
