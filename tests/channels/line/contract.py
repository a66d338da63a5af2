"""LINE's Messaging API, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.line import LineAdapter, LineCredentials, signature
from chatgate.channels.line_build import REPLY_PATH, parse_reference
from tests.channels.contract import ContractSpec

# A test channel: the shapes are LINE's, the values are not real ones.
CHANNEL_ACCESS_TOKEN = "line-test-channel-access-token/0123456789+abcdef="
CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
# The bot's user id: the ``destination`` of every webhook.
BOT_USER_ID = "Ub0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
# A user who added the account as a friend.
USER_ID = "U4af49806292f4a1c0b3d5e7f9a1b2c3d"


def credentials() -> LineCredentials:
    """The test channel's credentials."""
    return LineCredentials.model_validate(
        {"channel_access_token": CHANNEL_ACCESS_TOKEN, "channel_secret": CHANNEL_SECRET}
    )


def make_adapter(api_base: str) -> ChannelAdapter[LineCredentials]:
    """The adapter of the test channel, calling ``api_base``."""
    return LineAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, Any]:
    """The control-API payload registering the test channel."""
    account: dict[str, Any] = {
        "channel_access_token": CHANNEL_ACCESS_TOKEN,
        "channel_secret": CHANNEL_SECRET,
        "bot_user_id": BOT_USER_ID,
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


def reply_call(call: dict[str, Any], reference: str) -> dict[str, Any]:
    """The call a reply to the message ``reference`` makes while its reply token is fresh.

    ``call`` is the golden push of the same content (the golden files name a bare message
    id, which carries no tokens): a fresh reply goes to the reply API with the token instead
    of a recipient, and quotes the message on its first text.
    """
    parts = parse_reference(reference)
    assert parts.reply_token is not None, reference
    messages = [dict(message) for message in call["json"]["messages"]]
    texts = [message for message in messages if message["type"] == "text"]
    if parts.quote_token is not None and texts:
        texts[0]["quoteToken"] = parts.quote_token
    url = call["url"].rsplit("/v2/", 1)[0] + REPLY_PATH
    return {"url": url, "json": {"replyToken": parts.reply_token, "messages": messages}}


SPEC = ContractSpec(
    platform="line",
    make_adapter=make_adapter,
    emulator_prefix="/line",
    emulator_account=emulator_account(),
    recipient=USER_ID,
    user_writes={"bot_user_id": BOT_USER_ID, "from": USER_ID, "text": "Hello 👋"},
    sign=lambda body: {"x-line-signature": signature(CHANNEL_SECRET, body)},
    sign_wrongly=lambda body: {"x-line-signature": signature("0" * 32, body)},
    # LINE refuses at once or not at all: async_failure is a refusal at send.
    fault_codes={
        "server_error": "500",
        "timeout": "timeout",
        "rate_limit": "429",
        "permanent": "400",
        "invalid_recipient": "400",
        "async_failure": "400",
    },
    # LINE's 429 names no time to wait.
    rate_limit_hint=False,
    # LINE reports no statuses of pushed messages.
    statuses={},
    # A LINE Beacon event: nothing the gateway reads.
    unknown_fixture="beacon",
)
