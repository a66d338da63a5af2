"""TikTok Business Messaging, as the shared contract suite needs to know it."""

from __future__ import annotations

import json
import time
from typing import Any

from chatgate.channels import tiktok_wire
from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.tiktok import TikTokAdapter, TikTokCredentials
from chatgate.domain.status import Status
from tests.channels.contract import ContractSpec

# A business account (its open id), a user and the conversation between them.
BUSINESS_ID = "-000NrDRJ8SXFcvFQHuVW23bAIU1iQtVUJkr"
USER_ID = "-000Qx7LmV2bN9kPzR4tY8wE1aS6dF3gH5jK0"
CONVERSATION_ID = "Vf3kQ2xLmN8pRt6ZyA1bCw=="
USERNAME = "ada.lovelace"
ACCESS_TOKEN = "act.tiktok-test-business-token!1234.va"
CLIENT_SECRET = "tiktok-client-secret-0123456789abcdef"
CLIENT_KEY = "awemulatortiktok1"


def credentials() -> TikTokCredentials:
    """The test account's credentials."""
    return TikTokCredentials.model_validate(
        {
            "access_token": ACCESS_TOKEN,
            "business_id": BUSINESS_ID,
            "client_secret": CLIENT_SECRET,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[TikTokCredentials]:
    """The adapter of the test account, calling ``api_base``."""
    return TikTokAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, str]:
    """The control-API payload registering the test account."""
    account = {
        "business_id": BUSINESS_ID,
        "access_token": ACCESS_TOKEN,
        "client_secret": CLIENT_SECRET,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def signature(body: bytes, secret: str = CLIENT_SECRET, at: int | None = None) -> dict[str, str]:
    """The ``TikTok-Signature`` header of ``body``, signed now (or at ``at``)."""
    stamp = int(time.time()) if at is None else at
    return {tiktok_wire.SIGNATURE_HEADER: tiktok_wire.sign(secret, body, stamp)}


def envelope(event: str, content: dict[str, Any]) -> dict[str, Any]:
    """A webhook of ``event`` about ``content`` (a JSON document in a string, as TikTok's)."""
    return {
        "client_key": CLIENT_KEY,
        "event": event,
        "create_time": 1733130000,
        "user_openid": BUSINESS_ID,
        "content": json.dumps(content, ensure_ascii=False, separators=(",", ":")),
    }


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A read receipt (a watermark: no message named), or the echo of ``message_id``."""
    business = {"id": BUSINESS_ID, "role": "business_account"}
    user = {"id": USER_ID, "role": "personal_account"}
    content: dict[str, Any] = {"conversation_id": CONVERSATION_ID, "timestamp": 1733130001000}
    if name == "im_mark_read_msg":
        content.update(
            from_user=user, to_user=business, read={"last_read_timestamp": 1733130001000}
        )
    else:
        content.update(
            message_id=message_id,
            type="text",
            text={"body": "Your order 📦"},
            from_user=business,
            to_user=user,
        )
    return envelope(name, content)


SPEC = ContractSpec(
    platform="tiktok",
    make_adapter=make_adapter,
    emulator_prefix="/tiktok",
    emulator_account=emulator_account(),
    recipient=CONVERSATION_ID,
    user_writes={
        "business_id": BUSINESS_ID,
        "from": CONVERSATION_ID,
        "user_id": USER_ID,
        "username": USERNAME,
        "text": "Hi! Is the blue mug in stock? 😊",
    },
    sign=signature,
    sign_wrongly=lambda body: signature(body, "not-the-client-secret"),
    # TikTok answers HTTP 200 with a code; it reports no failure later, so a blocked
    # message (async_failure) is refused at send.
    fault_codes={
        "server_error": "51065",
        "timeout": "timeout",
        "rate_limit": "40100",
        "permanent": "40002",
        "invalid_recipient": "40002",
        "async_failure": "40064",
    },
    # TikTok names no delay when it throttles.
    rate_limit_hint=False,
    # Reads are watermarks; the echo of a business message is no status.
    statuses={"im_mark_read_msg": Status.READ, "im_send_msg": Status.UNKNOWN},
    status_webhook=status_webhook,
    # A comment TikTok judged to show buying intent: not a message of the conversation.
    unknown_fixture="high_intent_comment",
)
