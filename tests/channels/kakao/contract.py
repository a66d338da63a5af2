"""Kakao business messages through NHN Cloud, as the shared contract suite needs to know them.

Kakao's messages are one-way (no user writes to the business through NHN's API): the spec
says so with ``inbound=False``, and every recorded webhook is a result or another event.
"""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.kakao import KakaoAdapter, KakaoCredentials
from chatgate.channels.kakao_parse import RESULT_STATUSES
from tests.channels.contract import ContractSpec

APP_KEY = "TestAppKey0123"
SECRET_KEY = "nhn-secret-key-0123"
# A Kakao sender key is 40 hexadecimal characters.
SENDER_KEY = "0123456789abcdef0123456789abcdef01234567"
WEBHOOK_SECRET = "nhn-webhook-signature-0123"
# A KakaoTalk user, addressed by phone number (domestic on NHN's wire: 01012345678).
RECIPIENT = "+821012345678"
WIRE_RECIPIENT = "01012345678"
# A message id as NHN names one recipient of one request.
REQUEST_ID = "20261202100630ReZQ6KZzAH"
MESSAGE_ID = f"{REQUEST_ID}:1"


def credentials() -> KakaoCredentials:
    """The test app's credentials."""
    return KakaoCredentials.model_validate(
        {
            "app_key": APP_KEY,
            "secret_key": SECRET_KEY,
            "sender_key": SENDER_KEY,
            "webhook_secret": WEBHOOK_SECRET,
        }
    )


def make_adapter(api_base: str, **settings: Any) -> ChannelAdapter[KakaoCredentials]:
    """The adapter of the test app, calling ``api_base``."""
    return KakaoAdapter(credentials(), ChannelSettings(api_base=api_base, **settings))


def emulator_account(webhook_url: str | None = None, **extra: Any) -> dict[str, Any]:
    """The control-API payload registering the test app (with its webhook, if any)."""
    account: dict[str, Any] = {
        "app_key": APP_KEY,
        "secret_key": SECRET_KEY,
        "sender_key": SENDER_KEY,
        "webhook_secret": WEBHOOK_SECRET,
        **extra,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def result_webhook(result_code: str, message_id: str, **hook: Any) -> dict[str, Any]:
    """A ``MESSAGE_RESULT_UPDATE`` webhook reporting Kakao's ``result_code`` for a message."""
    request_id, _, seq = message_id.rpartition(":")
    return {
        "hooksId": "20261202100700a1b2c3d4e5f6a7b8",
        "webhookConfigId": "wh-config-1",
        "productName": "KakaoTalk Bizmessage",
        "appKey": APP_KEY,
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": [
            {
                "kakaoMessageType": "ALIMTALK_NORMAL",
                "requestId": request_id,
                "recipientSeq": int(seq),
                "requestDate": "2026-12-02 10:06:30",
                "createDate": "2026-12-02 10:06:30",
                "receiveDate": "2026-12-02 10:06:32",
                "recipientNo": WIRE_RECIPIENT,
                "resultCode": result_code,
                "senderGroupingKey": None,
                "recipientGroupingKey": "msg_01JCONTRACT0000000000000000",
                "_links": {
                    "self": {
                        "href": f"/alimtalk/v2.3/appkeys/{APP_KEY}/messages/{request_id}/{seq}"
                    }
                },
                "hookId": "hook-0001",
                **hook,
            }
        ],
    }


SPEC = ContractSpec(
    platform="kakao",
    make_adapter=make_adapter,
    emulator_prefix="/kakao",
    emulator_account=emulator_account(),
    recipient=RECIPIENT,
    # Nobody writes to a Kakao business through NHN: there is no first message.
    user_writes={},
    inbound=False,
    sign=lambda body: {"x-toast-webhook-signature": WEBHOOK_SECRET},
    sign_wrongly=lambda body: {"x-toast-webhook-signature": "not-the-signature"},
    fault_codes={
        "server_error": "-9999",
        "timeout": "timeout",
        "rate_limit": "429",
        "permanent": "4",
    },
    # Accepted by NHN, then Kakao's result says the user cannot be reached.
    async_fault_codes={"invalid_recipient": "3019", "async_failure": "3018"},
    statuses=dict(RESULT_STATUSES),
    status_webhook=lambda name, message_id: result_webhook(name, message_id),
    # The signature is the string typed in NHN's console: it proves the sender, not the body.
    signs_body=False,
    sample_message_id=MESSAGE_ID,
    # Kakao's review of a template (approved, rejected...) is no message's status.
    unknown_fixture="template_status_update",
)
