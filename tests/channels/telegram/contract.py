"""Telegram's Bot API, as the shared contract suite needs to know it."""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter, ChannelSettings
from chatgate.channels.telegram import ALLOWED_UPDATES, TelegramAdapter, TelegramCredentials
from tests.channels.contract import ContractSpec

# A test bot: the token's shape is Telegram's, its secret half is not a real one.
BOT_TOKEN = "123456:TEST-token"
BOT_ID = "123456"
SECRET_TOKEN = "tg-webhook-secret_0123"
# A user who started the bot: in a private chat, the chat id is the user's id.
USER_ID = "6061234567"


def credentials() -> TelegramCredentials:
    """The test bot's credentials."""
    return TelegramCredentials.model_validate(
        {"bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN}
    )


def make_adapter(api_base: str) -> ChannelAdapter[TelegramCredentials]:
    """The adapter of the test bot, calling ``api_base``."""
    return TelegramAdapter(credentials(), ChannelSettings(api_base=api_base))


def emulator_account(webhook_url: str | None = None) -> dict[str, Any]:
    """The control-API payload registering the test bot, its webhook set as we set it."""
    account: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "username": "chatgate_test_bot",
        "secret_token": SECRET_TOKEN,
        "allowed_updates": list(ALLOWED_UPDATES),
    }
    if webhook_url is not None:
        account["webhook_url"] = webhook_url
    return account


SPEC = ContractSpec(
    platform="telegram",
    make_adapter=make_adapter,
    emulator_prefix="/telegram",
    emulator_account=emulator_account(),
    recipient=USER_ID,
    user_writes={"bot_token": BOT_TOKEN, "chat_id": USER_ID, "first_name": "Zoë", "text": "/start"},
    sign=lambda body: {"x-telegram-bot-api-secret-token": SECRET_TOKEN},
    sign_wrongly=lambda body: {"x-telegram-bot-api-secret-token": "not-the-secret-token"},
    # Telegram refuses at once or not at all: async_failure is a refusal at send.
    fault_codes={
        "server_error": "502",
        "timeout": "timeout",
        "rate_limit": "429",
        "permanent": "400",
        "invalid_recipient": "400",
        "async_failure": "400",
    },
    # Telegram reports no statuses of sent messages.
    statuses={},
    # The secret token is a password in a header: it proves the sender, not the body.
    signs_body=False,
    # A change of the bot's membership (the user blocked it).
    unknown_fixture="my_chat_member",
)
