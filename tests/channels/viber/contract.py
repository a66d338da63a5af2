"""Viber's REST Bot API, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.viber import ViberAdapter, ViberCredentials, sign
from chatgate.domain.status import Status
from tests.channels.contract import ContractSpec

# A test bot's token, shaped like Viber's (three dash-separated hex groups); not a real one.
AUTH_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
ACCOUNT_ID = "pa:5891234567890123456"
# A user subscribed to the bot: Viber's user ids are base64, unique per bot.
USER_ID = "01234567890A="


def credentials() -> ViberCredentials:
    """The test bot's credentials."""
    return ViberCredentials.model_validate({"auth_token": AUTH_TOKEN})


def make_adapter(api_base: str) -> ChannelAdapter[ViberCredentials]:
    """The adapter of the test bot, calling ``api_base`` (the default sender name)."""
    return ViberAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, Any]:
    """The control-API payload registering the test bot."""
    account: dict[str, Any] = {
        "auth_token": AUTH_TOKEN,
        "id": ACCOUNT_ID,
        "name": "Chatgate Test Bot",
        "uri": "chatgatetestbot",
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def status_webhook(name: str, message_id: str) -> dict[str, Any]:
    """A status callback as Viber sends it (tokens are numbers on the wire)."""
    token: Any = int(message_id) if message_id.isdigit() else message_id
    body: dict[str, Any] = {
        "event": name,
        "timestamp": 1735732900123,
        "chat_hostname": "SN-CHAT-01_",
        "message_token": token,
        "user_id": USER_ID,
    }
    if name == "failed":
        body["desc"] = "failure desc"
    return body


def _sign(body: bytes) -> dict[str, str]:
    return {"x-viber-content-signature": sign(AUTH_TOKEN, body).decode("ascii")}


def _sign_wrongly(body: bytes) -> dict[str, str]:
    return {"x-viber-content-signature": sign("not-the-auth-token", body).decode("ascii")}


SPEC = ContractSpec(
    platform="viber",
    make_adapter=make_adapter,
    emulator_prefix="/viber",
    emulator_account=emulator_account(),
    recipient=USER_ID,
    user_writes={"auth_token": AUTH_TOKEN, "from": USER_ID, "name": "Zoë", "text": "Hi"},
    sign=_sign,
    sign_wrongly=_sign_wrongly,
    # Viber answers 200 with a non-zero status; only its front answers 5xx.
    fault_codes={
        "server_error": "http_502",
        "timeout": "timeout",
        "rate_limit": "12",
        "permanent": "3",
        "invalid_recipient": "6",
    },
    # Accepted, then a ``failed`` callback (its only detail is a description).
    async_fault_codes={"async_failure": "failed"},
    # Viber names no delay when it throttles.
    rate_limit_hint=False,
    statuses={
        "delivered": Status.DELIVERED,
        "seen": Status.READ,
        "failed": Status.FAILED,
    },
    status_webhook=status_webhook,
    # Viber's message tokens are 64-bit numbers (JSON numbers on the wire).
    sample_message_id="4912661846655238145",
    # The check set_webhook makes before it answers.
    unknown_fixture="webhook",
)
