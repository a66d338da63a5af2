"""Zalo's Official Account API, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.zalo import ZaloAdapter, ZaloCredentials, body_timestamp, signature
from chatgate.domain.status import Status
from tests.channels.contract import ContractSpec

# A test OA and the app linked to it: the shapes are Zalo's, the secrets are not real ones.
OA_ID = "2815735196480348011"
APP_ID = "4291763606161179100"
ACCESS_TOKEN = "zalo-oa-access-token-0123456789"
REFRESH_TOKEN = "zalo-oa-refresh-token-0123456789"
APP_SECRET = "zalo-app-secret-0123"
OA_SECRET_KEY = "zalo-oa-secret-key-0123"
# A user who interacted with the OA (Zalo's user ids are 64-bit numbers, as strings).
USER_ID = "6418340393291765437"


def credentials() -> ZaloCredentials:
    """The test OA's credentials."""
    return ZaloCredentials.model_validate(
        {
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "oa_secret_key": OA_SECRET_KEY,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[ZaloCredentials]:
    """The adapter of the test OA, calling ``api_base``."""
    return ZaloAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, str]:
    """The control-API payload registering the test OA."""
    account = {
        "oa_id": OA_ID,
        "app_id": APP_ID,
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "app_secret": APP_SECRET,
        "oa_secret_key": OA_SECRET_KEY,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def sign(body: bytes, secret: str = OA_SECRET_KEY) -> dict[str, str]:
    """The ``X-ZEvent-Signature`` Zalo sends with ``body``."""
    return {"x-zevent-signature": signature(APP_ID, body, body_timestamp(body), secret)}


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A receipt as Zalo sends it: the OA is the sender, the user the recipient."""
    message: dict[str, Any] = (
        {"msg_ids": [message_id]} if name == "user_seen_message" else {"msg_id": message_id}
    )
    return {
        "app_id": APP_ID,
        "user_id_by_app": "5593216758820367552",
        "event_name": name,
        "timestamp": "1718112000000",
        "sender": {"id": OA_ID},
        "recipient": {"id": USER_ID},
        "message": message,
    }


SPEC = ContractSpec(
    platform="zalo",
    make_adapter=make_adapter,
    emulator_prefix="/zalo",
    emulator_account=emulator_account(),
    recipient=USER_ID,
    user_writes={"oa_id": OA_ID, "from": USER_ID, "text": "Xin chào 👋"},
    sign=sign,
    sign_wrongly=lambda body: sign(body, "not-the-oa-secret-key"),
    # Zalo refuses at once or not at all: async_failure is a refusal at send.
    fault_codes={
        "server_error": "502",
        "timeout": "timeout",
        "rate_limit": "-32",
        "permanent": "-201",
        "invalid_recipient": "-213",
        "async_failure": "-227",
    },
    # Zalo's throttling answer names no delay.
    rate_limit_hint=False,
    statuses={"user_received_message": Status.DELIVERED, "user_seen_message": Status.READ},
    status_webhook=status_webhook,
    # A user sent a business card: an event kind the gateway does not read.
    unknown_fixture="user_send_business_card",
)
