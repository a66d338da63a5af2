"""SMS over Twilio's Messages API, as the shared contract suite needs to know it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.sms import SmsAdapter, SmsCredentials
from chatgate.domain.status import Status
from tests.channels.contract import ContractSpec, compact_json

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123"
# Twilio's magic test number that accepts any message.
FROM_NUMBER = "+15005550006"
USER_NUMBER = "+14155550123"
# Where the contract suite's emulator posts webhooks (``suite.GATEWAY`` + "/sms"): the
# connection's inbound URL, which Twilio signs and status callbacks go to.
INBOUND_URL = "http://gateway/webhooks/sms"


def credentials(auth_token: str = AUTH_TOKEN) -> SmsCredentials:
    """The test account's credentials, as a channel stores them."""
    return SmsCredentials.model_validate(
        {
            "provider": "twilio",
            "account_sid": ACCOUNT_SID,
            "auth_token": auth_token,
            "from_number": FROM_NUMBER,
        }
    )


def make_adapter(api_base: str) -> ChannelAdapter[SmsCredentials]:
    """The adapter of the test number, calling ``api_base``, reached at ``INBOUND_URL``."""
    return SmsAdapter(credentials(), ChannelSettings(api_base=api_base), inbound_url=INBOUND_URL)


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` as Twilio documents it (written here apart from the adapter)."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign(body: bytes, auth_token: str = AUTH_TOKEN) -> dict[str, str]:
    """The headers Twilio sends with a form-encoded ``body`` posted to ``INBOUND_URL``."""
    params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilio_signature(auth_token, INBOUND_URL, params),
    }


def serialize(payload: Any) -> bytes:
    """A webhook as Twilio writes it: form-encoded (a body of another shape as JSON)."""
    if isinstance(payload, dict):
        return urlencode(payload).encode("ascii")
    return compact_json(payload)


def status_callback(name: str, message_id: str) -> dict[str, str]:
    """A status callback of message ``message_id`` reaching ``name``."""
    body = {
        "SmsSid": message_id,
        "SmsStatus": name,
        "MessageStatus": name,
        "To": USER_NUMBER,
        "MessageSid": message_id,
        "AccountSid": ACCOUNT_SID,
        "From": FROM_NUMBER,
        "ApiVersion": "2010-04-01",
    }
    if name in ("undelivered", "failed"):
        body.update({"ErrorCode": "30003", "ErrorMessage": "Unreachable destination handset"})
    return body


STATUSES: dict[str, Status] = {
    "accepted": Status.QUEUED,
    "queued": Status.QUEUED,
    "scheduled": Status.SCHEDULED,
    "sending": Status.QUEUED,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELED,
}

SPEC = ContractSpec(
    platform="sms",
    make_adapter=make_adapter,
    emulator_prefix="/twilio",
    emulator_account={
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "phone_number": FROM_NUMBER,
    },
    recipient=USER_NUMBER,
    user_writes={"to": FROM_NUMBER, "from": USER_NUMBER, "text": "Hi 👋"},
    sign=sign,
    sign_wrongly=lambda body: sign(body, auth_token="not-the-auth-token"),
    fault_codes={
        "server_error": "20500",
        "timeout": "timeout",
        "rate_limit": "20429",
        "permanent": "21408",
        "invalid_recipient": "21614",
    },
    # Accepted, then the carrier cannot reach the handset: an ``undelivered`` callback.
    async_fault_codes={"async_failure": "30003"},
    # Twilio names no delay when it throttles (20429).
    rate_limit_hint=False,
    statuses=STATUSES,
    status_webhook=status_callback,
    serialize=serialize,
    # A voice call's webhook posted to the messaging URL.
    unknown_fixture="voice_call",
)
